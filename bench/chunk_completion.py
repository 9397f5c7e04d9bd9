"""What a batch chunk pays, at its end, to learn whether it was the batch's last.

Each chunk asks. Before, it read every chunk row of the batch (``JobRepo.get_many``: each
row with its 16 item reports) and looked at their statuses; now it counts the ended ones
(``JobRepo.count_final_children``), and only the last reads the rows. At the batch size
limit (100,000 photos, 6,250 chunks) against a database of the URL given (a temporary
SQLite file by default), median of 5 asks with every chunk ended but one; beside them, what
each chunk's progress update costs (a sum over the batch's chunks).

    .venv/bin/python -m bench.chunk_completion [--database-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from infra.db.database import Database
from infra.db.jobs import JobRepo
from infra.db.migrate import migrate

ITEMS = 100_000
CHUNK = 16
ASKS = 5


def chunk_result(start: int) -> dict[str, object]:
    """A chunk's item reports, one enrolled face each (the shape ``enroll_chunk`` stores)."""
    return {
        "items": [
            {
                "index": index,
                "source": f"photos/p{index}/{index}.jpg",
                "external_image_id": f"img-{index}",
                "status": "added",
                "faces": [
                    {
                        "face_id": uuid.uuid4().hex,
                        "bounding_box": {"x": 120, "y": 84, "width": 212, "height": 212},
                        "external_image_id": f"img-{index}",
                        "external_fields": {},
                    }
                ],
            }
            for index in range(start, start + CHUNK)
        ]
    }


def median_ms(call: Callable[[], bool]) -> float:
    """The median of ``ASKS`` timed calls, each of which must hold."""
    seconds = []
    for _ in range(ASKS):
        started = time.perf_counter()
        assert call()
        seconds.append(time.perf_counter() - started)
    return 1000 * statistics.median(seconds)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'jobs.db'}"
        migrate(url)
        jobs = JobRepo(Database(url))
        parent = f"bench-{uuid.uuid4().hex}"
        jobs.create(job_id=parent, project_id="bench", kind="enroll_batch", payload={}, idempotency_key=None)
        chunk_ids = [f"{parent}.c{index:05d}" for index in range(-(-ITEMS // CHUNK))]
        for index, chunk_id in enumerate(chunk_ids):
            jobs.create_child(
                job_id=chunk_id, project_id="bench", kind="enroll_chunk", payload={}, parent_job_id=parent
            )
            if index < len(chunk_ids) - 1:
                jobs.succeed(chunk_id, chunk_result(index * CHUNK))
        print(f"{len(chunk_ids)} chunks of {CHUNK}, all ended but one ({url.split(':')[0]})")

        # Each asks "is a chunk still running?"; the answer is yes (the last one is).
        def read_every_row() -> bool:
            return not all(row.status in ("succeeded", "failed") for row in jobs.get_many(chunk_ids))

        def count_ended() -> bool:
            return jobs.count_final_children(parent) < len(chunk_ids)

        for name, ask in (
            ("read every chunk row (before)", read_every_row),
            ("count ended chunks", count_ended),
        ):
            print(f"{name}: {median_ms(ask):.1f} ms per chunk (median of {ASKS})")
        progress = median_ms(lambda: jobs.refresh_parent_progress(parent))
        print(f"the parent's progress (a sum over its chunks, unchanged): {progress:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
