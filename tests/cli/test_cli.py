"""The `facefleet` client commands against a running service, on the shared photos."""

from __future__ import annotations

import csv
import uuid
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result
from PIL import Image

from facefleet.cli import main
from facefleet.client import FaceFleet
from tests.cli.conftest import Service
from tests.support.photos import identity_photos, misc

pytestmark = [pytest.mark.model, pytest.mark.integration]

PEOPLE = ("face_recognition-steve_wozniak", "face_recognition-guido_van_rossum", "face_recognition-biden")


def run(service: Service, *args: str) -> Result:
    result = CliRunner().invoke(main, list(args), env=service.env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def people_folder(tmp_path: Path) -> Path:
    """One folder per person, linking (not copying) the shared photos."""
    folder = tmp_path / "people"
    for identity in PEOPLE:
        person = folder / identity.split("-", 1)[1]
        person.mkdir(parents=True)
        for photo in identity_photos(identity)[:3]:
            (person / photo.name).symlink_to(photo)
    return folder


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"})


def _face_count(service: Service, face_set: str) -> int:
    return int(FaceFleet(service.url, service.project_id, service.api_key).face_set(face_set)["face_number"])


def test_enroll_a_folder_then_again_adds_nothing(service: Service, people_folder: Path) -> None:
    face_set = f"people_{uuid.uuid4().hex[:6]}"
    files = _files(people_folder)
    first = run(service, "enroll", str(people_folder), "--set", face_set, "--batch-size", "4")
    assert f"added {len(files)} ({len(files)} faces)" in first.output, first.output
    assert _face_count(service, face_set) == len(files)

    report = people_folder / f"facefleet-enroll-{face_set}.csv"
    rows = list(csv.DictReader(report.open()))
    assert len(rows) == len(files) and {row["status"] for row in rows} == {"added"}
    assert {row["user_id"] for row in rows} == {"steve_wozniak", "guido_van_rossum", "biden"}

    second = run(service, "enroll", str(people_folder), "--set", face_set)
    assert "added 0 (0 faces)" in second.output and f"already done {len(files)}" in second.output
    assert _face_count(service, face_set) == len(files)

    hits = run(service, "search", str(identity_photos(PEOPLE[0])[3]), "--set", face_set, "--top-n", "3")
    assert "steve_wozniak" in hits.output.splitlines()[3]  # first row of the table is the same person


def test_an_interrupted_enrollment_resumes_where_it_stopped(service: Service, people_folder: Path) -> None:
    face_set = f"resume_{uuid.uuid4().hex[:6]}"
    files = _files(people_folder)
    partial = run(
        service, "enroll", str(people_folder), "--set", face_set, "--batch-size", "4", "--max-batches", "1"
    )
    assert "stopped early" in partial.output and _face_count(service, face_set) == 4
    rest = run(service, "enroll", str(people_folder), "--set", face_set, "--batch-size", "4")
    assert f"added {len(files) - 4}" in rest.output and "already done 4" in rest.output
    assert _face_count(service, face_set) == len(files)


def test_detect_draws_boxes_where_the_faces_are(service: Service, tmp_path: Path) -> None:
    photo = misc("multi_face", "deepface__couple.jpg")
    out = tmp_path / "drawn.png"
    result = run(service, "detect", str(photo), "--draw", str(out))
    assert "drawn:" in result.output
    faces = FaceFleet(service.url, service.project_id, service.api_key).detect(photo)["faces"]
    assert len(faces) == 2
    drawn = np.asarray(Image.open(out).convert("RGB")).astype(int)
    original = np.asarray(Image.open(photo).convert("RGB")).astype(int)
    for face in faces:
        box = face["bounding_box"]
        top = drawn[box["top_left_y"], box["top_left_x"] : box["top_left_x"] + box["width"]]
        assert (np.abs(top - [0, 255, 0]).sum(axis=1) < 30).mean() > 0.9  # the box's top edge is drawn
    inside = faces[0]["bounding_box"]
    centre = (inside["top_left_y"] + inside["height"] // 2, inside["top_left_x"] + inside["width"] // 4)
    assert (drawn[centre] == original[centre]).all()  # the face itself is left as it was


def test_sets_and_jobs_commands(service: Service) -> None:
    name = f"ops_{uuid.uuid4().hex[:6]}"
    run(service, "set", "create", name, "--field", "team:string")
    assert name in run(service, "set", "list").output
    client = FaceFleet(service.url, service.project_id, service.api_key)
    job = client.enroll_batch(
        name, [("woz.jpg", identity_photos(PEOPLE[0])[0].read_bytes())], select="largest"
    )
    job.wait()
    status = run(service, "job", "status", job.job_id)
    assert "enroll_batch  succeeded  1/1" in status.output
    assert f"deleted {name} (1 faces)" in run(service, "set", "delete", name).output
    failed = CliRunner().invoke(main, ["set", "delete", name], env=service.env)
    assert failed.exit_code != 0 and "FRS.0210" in failed.output


@pytest.mark.slow
def test_enrolling_every_identity_photo_gives_one_face_each(service: Service, tmp_path: Path) -> None:
    """All 140 identity photos of ../shared/data/faces (identities.csv), one folder per
    person: each gives exactly one face (the largest), and a second run adds nothing."""
    from tests.support.photos import FACES

    listed = list(csv.DictReader((FACES / "identities.csv").open()))
    folder = tmp_path / "all"
    for row in listed:
        target = folder / row["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(FACES / row["path"])
    face_set = f"all_{uuid.uuid4().hex[:6]}"
    first = run(service, "enroll", str(folder), "--set", face_set, "--batch-size", "16", "--parallel", "2")
    assert f"files {len(listed)}: added {len(listed)} ({len(listed)} faces)" in first.output, first.output
    assert _face_count(service, face_set) == len(listed)
    again = run(service, "enroll", str(folder), "--set", face_set)
    assert "added 0 (0 faces)" in again.output and _face_count(service, face_set) == len(listed)


def test_calibrate_prints_thresholds_and_saves_the_curve(
    service: Service, people_folder: Path, tmp_path: Path
) -> None:
    face_set = f"calib_{uuid.uuid4().hex[:6]}"
    run(service, "enroll", str(people_folder), "--set", face_set, "--batch-size", "4")
    picture = tmp_path / "curve.svg"

    result = run(service, "calibrate", face_set, "--svg", str(picture))

    # 3 persons with up to 3 faces each: at most 27 impostor pairs, too few for FAR 1e-2
    faces = _face_count(service, face_set)
    assert f"{faces} labelled faces of 3 persons" in result.output, result.output
    assert result.output.count("enough") == 3  # "not enough data", wrapped in the table's cells
    assert "FAR (x)" in result.output
    assert picture.read_text().startswith("<svg") and "<polyline" in picture.read_text()
