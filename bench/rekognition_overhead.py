"""SearchFacesByImage through boto3 against the native search, same photos, same run.

One embedded stack (SQLite, local objects, milvus-lite, one real Celery worker) serves the
API over HTTP. The same gallery is enrolled twice: into a native face set (``requests``) and
into a Rekognition collection (boto3). Then each probe photo is searched both ways,
interleaved (the order alternating per round), so both see the same CPU; the difference is
the Rekognition front end's overhead (SigV4 on both ends, base64 JSON, ratio rendering).

    .venv/bin/python -m bench.rekognition_overhead --gallery 12 --rounds 5
"""

from __future__ import annotations

import argparse
import base64
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import requests
from botocore.config import Config
from cryptography.fernet import Fernet
from pydantic import SecretStr
from werkzeug.serving import make_server

from bench.common import machine_description, save_report
from facefleet.embedded import child_env, prepare_embedded, worker_command
from infra.settings import JobSettings, RekognitionSettings

REPO_ROOT = Path(__file__).resolve().parents[1]
FACES = REPO_ROOT.parent / "shared" / "data" / "faces"
RESULTS = REPO_ROOT / "bench" / "results" / "rekognition_overhead.json"
QUEUES = (
    "facefleet.interactive",
    "facefleet.enroll",
    "facefleet.batch",
    "facefleet.liveness",
    "facefleet.maintenance",
)


def photos(count: int) -> tuple[list[Path], list[Path]]:
    """(gallery, probes): the first photo of ``count`` identities, and their second."""
    gallery, probes = [], []
    for folder in sorted(path for path in FACES.iterdir() if path.is_dir() and not path.name.startswith("_")):
        images = sorted(p for p in folder.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
        if len(images) >= 2:
            gallery.append(images[0])
            probes.append(images[1])
        if len(gallery) == count:
            break
    return gallery, probes


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median_ms": round(statistics.median(ordered) * 1000, 1),
        "p90_ms": round(ordered[int(0.9 * (len(ordered) - 1))] * 1000, 1),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 1),
    }


def run(gallery_size: int, rounds: int) -> dict[str, Any]:
    from api.app import create_app
    from facefleet.access_keys import create_access_key
    from facefleet.admin import create_project

    home = Path(tempfile.mkdtemp(prefix="bench-rekognition-"))
    rekognition = RekognitionSettings(encryption_keys=[SecretStr(Fernet.generate_key().decode())])
    settings, stop_milvus = prepare_embedded(
        home, jobs=JobSettings(sync_wait_seconds=120.0), rekognition=rekognition
    )
    with open(home / "worker.log", "ab") as log:  # the child keeps its own copy of the descriptor
        worker = subprocess.Popen(
            worker_command(1, QUEUES, name="bench"),
            env=child_env(settings),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = make_server("127.0.0.1", 0, create_app(settings), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    try:
        project = create_project(settings, "bench")
        pair = create_access_key(settings, project.project_id)
        native = requests.Session()
        native.headers["X-Auth-Token"] = project.api_key
        base = f"{url}/v1/{project.project_id}"
        rek: Any = boto3.client(
            "rekognition",
            endpoint_url=f"{url}/rekognition",
            region_name="us-east-1",
            aws_access_key_id=pair.id,
            aws_secret_access_key=pair.secret,
            config=Config(retries={"mode": "standard", "max_attempts": 1}, read_timeout=300),
        )
        gallery, probes = photos(gallery_size)
        native.post(f"{base}/face-sets", json={"face_set_name": "gallery"}, timeout=60).raise_for_status()
        rek.create_collection(CollectionId="gallery")
        for path in gallery:
            with path.open("rb") as handle:
                native.post(
                    f"{base}/face-sets/gallery/faces",
                    files={"image_file": (path.name, handle)},
                    data={"external_image_id": path.stem},
                    timeout=300,
                ).raise_for_status()
            rek.index_faces(
                CollectionId="gallery", Image={"Bytes": path.read_bytes()}, ExternalImageId=path.stem
            )

        def native_search(path: Path) -> str | None:
            body = {"image_base64": base64.b64encode(path.read_bytes()).decode(), "top_n": 1}
            answer = native.post(f"{base}/face-sets/gallery/search", json=body, timeout=300)
            answer.raise_for_status()
            faces = answer.json()["faces"]
            return faces[0]["external_image_id"] if faces else None

        def rekognition_search(path: Path) -> str | None:
            found = rek.search_faces_by_image(
                CollectionId="gallery", Image={"Bytes": path.read_bytes()}, MaxFaces=1
            )
            matches = found["FaceMatches"]
            return matches[0]["Face"].get("ExternalImageId") if matches else None

        for path in probes[:2]:  # warm both paths (models, connections)
            native_search(path)
            rekognition_search(path)
        timings: dict[str, list[float]] = {"native": [], "rekognition": []}
        agreements = matched = 0
        for round_index in range(rounds):
            for probe_index, path in enumerate(probes):
                order = [("native", native_search), ("rekognition", rekognition_search)]
                if (round_index + probe_index) % 2:
                    order.reverse()
                answers = {}
                for name, search in order:
                    started = time.perf_counter()
                    answers[name] = search(path)
                    timings[name].append(time.perf_counter() - started)
                # Native top-1 has no threshold; Rekognition's answers only matches >= 80.
                if answers["rekognition"] is not None:
                    matched += 1
                    agreements += answers["native"] == answers["rekognition"]
        native_summary, rek_summary = summary(timings["native"]), summary(timings["rekognition"])
        return {
            "machine": machine_description(),
            "gallery": len(gallery),
            "searches_each": len(timings["native"]),
            "rekognition_matched": f"{matched}/{len(timings['rekognition'])}",
            "same_face_as_native_top1_when_matched": f"{agreements}/{matched}",
            "native_search": native_summary,
            "rekognition_search_faces_by_image": rek_summary,
            "overhead_median_ms": round(rek_summary["median_ms"] - native_summary["median_ms"], 1),
        }
    finally:
        server.shutdown()
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
        stop_milvus()
        shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gallery", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    save_report(RESULTS, run(args.gallery, args.rounds))


if __name__ == "__main__":
    main()
