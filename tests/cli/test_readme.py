"""The README's quickstart is run as written, against a live service over HTTP, and its
printed answers must match what the service answers now (ids and dates aside), so the
README cannot drift from the product again."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

from tests.cli.conftest import Service

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
VOLATILE = {"face_set_id", "face_id", "create_date"}


def quickstart() -> tuple[str, list[str]]:
    """The README's curl block and the JSON lines printed under it."""
    text = README.read_text()
    found = re.search(r"```sh\n(U=http[^\n]*\n.*?)```\n```json\n(.*?)```", text, re.DOTALL)
    assert found is not None, "README lost its quickstart (a sh block of curl calls, then their json answers)"
    return found.group(1), [line for line in found.group(2).splitlines() if line.strip()]


def comparable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: "<id>" if key in VOLATILE else comparable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [comparable(item) for item in value]
    if isinstance(value, float):
        return round(value, 3)
    return value


def test_the_readme_quickstart_answers_what_it_shows(service: Service) -> None:
    script, shown = quickstart()
    prefix = f"PROJECT_ID={service.project_id}; API_KEY={service.api_key}\n"
    script = prefix + script.replace("http://127.0.0.1:8080", service.url)
    run = subprocess.run(
        ["bash", "-e", "-c", script], check=False, cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr
    answered = [line for line in run.stdout.replace("}{", "}\n{").splitlines() if line.strip()]
    assert len(answered) == len(shown), run.stdout
    for printed, actual in zip(shown, answered, strict=True):
        expected = comparable(json.loads(printed.replace("…", "")))
        assert comparable(json.loads(actual)) == expected, actual


def transcript() -> str:
    text = README.read_text()
    found = re.search(r"```\n(\$ facefleet set create.*?)```", text, re.DOTALL)
    assert found is not None, "README lost its CLI transcript"
    return found.group(1)


def test_the_cli_transcript_uses_the_face_set_it_creates() -> None:
    lines = transcript().splitlines()
    created = {line.split()[4] for line in lines if line.startswith("$ facefleet set create")}
    used = {
        line.split("--set ")[1].split()[0] for line in lines if line.startswith("$ ") and "--set " in line
    }
    assert used <= created, f"the transcript uses face sets it never created: {used - created}"


def test_the_cli_detect_table_is_what_the_service_answers(service: Service, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from facefleet.cli import main
    from tests.support.photos import misc

    shown = transcript()
    command = next(line for line in shown.splitlines() if line.startswith("$ facefleet detect"))
    table = shown.split(command, 1)[1].split("drawn:", 1)[0]
    couple = tmp_path / "couple.jpg"
    couple.write_bytes(misc("multi_face", "deepface__couple.jpg").read_bytes())
    args = command.removeprefix("$ facefleet ").split()
    args = [
        str(couple) if arg == "couple.jpg" else str(tmp_path / arg) if arg.endswith(".jpg") else arg
        for arg in args
    ]
    result = CliRunner().invoke(main, args, env=service.env, terminal_width=200)
    assert result.exit_code == 0, result.output
    rows = [line for line in table.splitlines() if line.startswith("│")]
    printed = [line for line in result.output.splitlines() if line.startswith("│")]
    assert [row.split("│")[1:-1] for row in rows] == [row.split("│")[1:-1] for row in printed], result.output


def test_the_readme_enroll_transcript_is_what_the_cli_prints_now() -> None:
    """docs/examples/readme_transcript.py in check mode: `facefleet up` on a fresh home, its
    fixed people/ folder, every command; README must show that output, ids and rates aside."""
    from docs.examples import readme_transcript as example

    shown = example.readme_block(README.read_text())
    produced = example.produce()
    difference = example.drift(shown, produced)
    assert not difference, (
        f"regenerate with `python -m docs.examples.readme_transcript --write`:\n{difference}"
    )
    # What is normalised is only what varies: a changed count or similarity is drift.
    recounted = re.sub(
        r"^files (\d+):", lambda count: f"files {int(count[1]) + 1}:", produced, flags=re.MULTILINE
    )
    assert example.drift(shown, recounted)
    similarity = re.search(r"│ 1 │ (\d\.\d{4})", produced)
    assert similarity is not None, produced
    assert example.drift(shown, produced.replace(similarity.group(1), "0.1234"))
