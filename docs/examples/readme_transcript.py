"""The README's CLI transcript (create a face set, enroll a folder of people, search, a group
photo), produced by running it: `facefleet up` on a fresh home, then every command of
``COMMANDS`` in a folder built from ../shared/data/faces.

    .venv/bin/python -m docs.examples.readme_transcript           # check: README shows what runs
    .venv/bin/python -m docs.examples.readme_transcript --write   # rewrite README's block

The block sits between ``START`` and ``END`` in README.md. What changes from run to run
(the face set's id, face ids, the progress bar's rate and time left) is normalised before
comparing, so README keeps real values and a check fails only on a real difference.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
FACES = REPO.parent / "shared" / "data" / "faces"
START = "<!-- transcript:enroll start -->"
END = "<!-- transcript:enroll end -->"
FACE_SET = "office"  # not the quickstart's "staff": a reader running both in one project would collide
WIDTH = 100  # rich sizes its tables to the terminal; fixed so the tables never truncate ids

# The example folder, relative path -> photo under ../shared/data/faces: one folder per
# person (its name becomes the user_id) and a photo with no face. The obama and guido photos
# are the ones the README's Python example reads from the same folder.
PEOPLE: dict[str, str] = {
    "people/biden/biden.jpg": "face_recognition-biden/biden.jpg",
    "people/guido_van_rossum/guido_van_rossum1.jpg": "face_recognition-guido_van_rossum/guido_van_rossum1.jpg",
    "people/guido_van_rossum/guido_van_rossum2.jpg": "face_recognition-guido_van_rossum/guido_van_rossum2.jpg",
    "people/guido_van_rossum/guido_van_rossum3.jpg": "face_recognition-guido_van_rossum/guido_van_rossum3.jpg",
    "people/obama/obama-480p.jpg": "face_recognition-obama/obama-480p.jpg",
    "people/obama/obama-1080p.jpg": "face_recognition-obama/obama-1080p.jpg",
    "people/steve_wozniak/steve_wozniak1.jpg": "face_recognition-steve_wozniak/steve_wozniak1.jpg",
    "people/steve_wozniak/steve_wozniak2.jpg": "face_recognition-steve_wozniak/steve_wozniak2.jpg",
    "people/steve_wozniak/steve_wozniak3.jpg": "face_recognition-steve_wozniak/steve_wozniak3.jpg",
    "people/empty_room.png": "_misc/no_face/inspireface__no_face.png",
}
# Photos the commands use that are not enrolled: a new photo of a known person, a group photo.
PROBES: dict[str, str] = {
    "test_steve_wozniak.jpg": "face_recognition-steve_wozniak/test_steve_wozniak.jpg",
    "couple.jpg": "_misc/multi_face/deepface__couple.jpg",
}
REPORT = f"people/facefleet-enroll-{FACE_SET}.csv"
COMMANDS: list[str] = [
    f"facefleet set create {FACE_SET} --field team:string",
    f"facefleet enroll people/ --set {FACE_SET} --batch-size 4 --max-batches 1",
    f"facefleet enroll people/ --set {FACE_SET} --batch-size 4",
    f"facefleet enroll people/ --set {FACE_SET}             # files are known by content hash",
    f"head -2 {REPORT}; grep empty {REPORT}",
    f"facefleet search test_steve_wozniak.jpg --set {FACE_SET} --top-n 3",
    "facefleet detect couple.jpg --draw couple-drawn.jpg",
]
# `facefleet` as a reader types it, run with this interpreter on this checkout's code.
SHELL_PRELUDE = 'facefleet() { "$TRANSCRIPT_PYTHON" -m facefleet.cli "$@"; }\n'

_VOLATILE = [
    (re.compile(r"^(created \S+ \()[0-9a-f]{32}\)", re.MULTILINE), r"\1<face_set_id>)"),
    (re.compile(r"\b[a-z2-7]{16}\b"), "<face_id>"),
    # The bar's counts stay; its rate and time left depend on the machine.
    (re.compile(r"^(enrolling .*? \d+/\d+)\b.*$", re.MULTILINE), r"\1 <rate> <eta>"),
]


@dataclass(frozen=True)
class Service:
    url: str
    project_id: str
    api_key: str


def normalise(transcript: str) -> str:
    for pattern, replacement in _VOLATILE:
        transcript = pattern.sub(replacement, transcript)
    return transcript


def build_people(workdir: Path) -> None:
    """Copy the example's photos into ``workdir`` (``people/`` and the probe photos)."""
    for relative, source in {**PEOPLE, **PROBES}.items():
        origin = FACES / source
        if not origin.is_file():
            raise FileNotFoundError(f"{origin} is missing: ../shared/data must sit beside the repository")
        target = workdir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(origin, target)


def run_commands(service: Service, workdir: Path) -> str:
    """Every command of ``COMMANDS`` in ``workdir``, as ``$ command`` then its output."""
    env = {
        **_clean_env(),
        "TRANSCRIPT_PYTHON": sys.executable,
        "COLUMNS": str(WIDTH),
        "FACEFLEET_URL": service.url,
        "FACEFLEET_PROJECT": service.project_id,
        "FACEFLEET_API_KEY": service.api_key,
    }
    lines = []
    for command in COMMANDS:
        done = subprocess.run(
            ["bash", "-c", SHELL_PRELUDE + command],
            check=False,  # a failure is raised below, with its output
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            raise RuntimeError(f"`{command}` exited {done.returncode}:\n{done.stdout}{done.stderr}")
        lines.append(f"$ {command}\n{done.stdout}")
    return "".join(lines)


def _clean_env() -> dict[str, str]:
    """This environment without what would make the output differ from a reader's: the
    caller's own FACEFLEET_* settings, and the switches that make rich print colour codes."""
    dropped = ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACEFLEET_") and k not in dropped}
    return env | {"PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def embedded_service(home: Path, timeout: float = 120.0) -> Iterator[Service]:
    """`facefleet up` (what `make run` starts) on ``home``; its first project and key."""
    port = _free_port()
    log_path = home.parent / "facefleet-up.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "facefleet.cli", "up", "--home", str(home), "--port", str(port)],
            cwd=REPO,  # models are found under ./.facefleet, where `make install` puts them
            env=_clean_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        yield _wait_until_up(process, url, log_path, timeout)
    finally:
        _stop(process)


def _wait_until_up(process: subprocess.Popen[bytes], url: str, log_path: Path, timeout: float) -> Service:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"facefleet up exited {process.returncode}:\n{log_path.read_text()}")
        printed = log_path.read_text(errors="replace")
        project = re.search(r"^\s*project_id: (\S+)", printed, re.MULTILINE)
        key = re.search(r"^\s*api_key:\s+(\S+)", printed, re.MULTILINE)
        if project and key and _ready(url):
            return Service(url, project.group(1), key.group(1))
        time.sleep(0.5)
    raise TimeoutError(f"facefleet up was not ready in {timeout:.0f} s:\n{log_path.read_text()}")


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=5) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    # SIGINT is Ctrl-C: `facefleet up` stops its worker, API and milvus-lite itself.
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def produce() -> str:
    """The transcript as it runs now: a fresh service, a fresh folder, every command."""
    with tempfile.TemporaryDirectory(prefix="facefleet-readme-") as temporary:
        root = Path(temporary)
        workdir = root / "work"
        build_people(workdir)
        with embedded_service(root / "home") as service:
            return run_commands(service, workdir)


def readme_block(text: str) -> str:
    """What README shows between the markers, without the code fence."""
    found = re.search(re.escape(START) + r"\n```\n(.*?)```\n" + re.escape(END), text, re.DOTALL)
    if found is None:
        raise ValueError(f"README.md lost its transcript block ({START} … {END}, one ``` block inside)")
    return found.group(1)


def with_block(text: str, transcript: str) -> str:
    readme_block(text)  # the markers must be there
    start, rest = text.split(START, 1)
    _, end = rest.split(END, 1)
    return f"{start}{START}\n```\n{transcript}```\n{END}{end}"


def drift(shown: str, produced: str) -> str:
    """A unified diff of the normalised transcripts, empty when README is up to date."""
    return "".join(
        difflib.unified_diff(
            normalise(shown).splitlines(keepends=True),
            normalise(produced).splitlines(keepends=True),
            "README.md",
            "what runs now",
        )
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--write", action="store_true", help="rewrite README.md's block with the real output")
    arguments = parser.parse_args(argv)
    produced = produce()
    text = README.read_text()
    if arguments.write:
        README.write_text(with_block(text, produced))
        print(f"wrote the transcript into {README}")
        return 0
    difference = drift(readme_block(text), produced)
    if difference:
        print(difference, end="")
        print("README.md's transcript drifted: regenerate it with --write", file=sys.stderr)
        return 1
    print("README.md's transcript matches what runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
