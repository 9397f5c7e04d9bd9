"""Bulk enrollment of a folder: `facefleet enroll DIR --set NAME`.

- Files are identified by the sha256 of their bytes. A state file records every file's
  outcome as soon as its batch finishes, so an interrupted run resumes where it stopped
  and a second run uploads nothing it already did.
- Batches are uploaded in parallel through the batch endpoint; the multipart body streams
  each file from disk while it is sent, so no batch is ever held in memory.
- ``user_id`` defaults to the name of the file's folder (one folder per person).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from facefleet.client import FaceFleet

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})
_USER_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_.@:-]")


@dataclass(frozen=True)
class FileEntry:
    path: Path
    relative: str
    sha256: str
    user_id: str | None

    @property
    def upload_name(self) -> str:
        # Unique per content, so the batch report maps back to the file whatever its name.
        return f"{self.sha256[:24]}{self.path.suffix.lower()}"

    @property
    def external_image_id(self) -> str:
        return self.sha256[:32]


@dataclass
class Summary:
    files: int = 0
    skipped: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    faces_added: int = 0
    interrupted: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "already_done": self.skipped,
            "added": self.outcomes["added"],
            "duplicates": self.outcomes["duplicate"],
            "rejected": self.outcomes["rejected"],
            "rejected_by_reason": dict(sorted(self.reasons.items())),
            "faces_added": self.faces_added,
            "interrupted": self.interrupted,
        }


def scan(folder: Path, user_id_from: str = "folder") -> list[FileEntry]:
    """Every image under ``folder`` (sorted, hidden files skipped), hashed in chunks."""
    entries = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if path.suffix.lower() not in IMAGE_SUFFIXES or any(part.startswith(".") for part in relative.parts):
            continue
        user_id = None
        if user_id_from == "folder" and len(relative.parts) > 1:
            user_id = _USER_ID_UNSAFE.sub("_", relative.parts[-2])[:128]
        entries.append(FileEntry(path, relative.as_posix(), _sha256(path), user_id))
    return entries


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class EnrollState:
    """Outcome per content hash, written atomically after every batch."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self.records: dict[str, dict[str, Any]] = json.loads(path.read_text()) if path.exists() else {}

    def done(self, sha256: str) -> bool:
        return sha256 in self.records

    def record(self, outcomes: dict[str, dict[str, Any]]) -> None:
        with self._lock:
            self.records.update(outcomes)
            temporary = self.path.with_name(self.path.name + ".tmp")
            temporary.write_text(json.dumps(self.records, indent=1, sort_keys=True))
            os.replace(temporary, self.path)


def batches(entries: Sequence[FileEntry], size: int) -> Iterator[list[FileEntry]]:
    for start in range(0, len(entries), size):
        yield list(entries[start : start + size])


def enroll_folder(
    client: FaceFleet,
    folder: Path,
    face_set: str,
    *,
    state: EnrollState,
    batch_size: int = 16,
    parallel: int = 2,
    select: str = "largest",
    user_id_from: str = "folder",
    max_batches: int | None = None,
    on_files_done: Callable[[int], None] | None = None,  # called from the upload threads
    on_total: Callable[[int], None] | None = None,
) -> tuple[Summary, list[FileEntry]]:
    """Enroll every image not yet recorded in ``state``; returns the summary and every file."""
    entries = scan(folder, user_id_from)
    summary = Summary(files=len(entries))
    pending: list[FileEntry] = []
    seen: set[str] = set()
    for entry in entries:
        if state.done(entry.sha256) or entry.sha256 in seen:
            summary.skipped += 1  # done earlier, or a byte-identical copy of a file in this run
            continue
        seen.add(entry.sha256)
        pending.append(entry)
    if on_total is not None:
        on_total(len(pending))
    planned = list(batches(pending, batch_size))
    if max_batches is not None:
        summary.interrupted = len(planned) > max_batches
        planned = planned[:max_batches]

    def run(batch: list[FileEntry]) -> dict[str, dict[str, Any]]:
        uploads = [(entry.upload_name, entry.path) for entry in batch]  # streamed from disk
        items = [
            {"source": entry.upload_name, "external_image_id": entry.external_image_id}
            | ({"user_id": entry.user_id} if entry.user_id else {})
            for entry in batch
        ]
        # The key makes a retried upload of the same batch find its first job.
        key = hashlib.sha256(("|".join(e.sha256 for e in batch) + face_set).encode()).hexdigest()[:40]
        reported = 0

        def job_progress(done: int, total: int) -> None:
            # The job's own progress moves the bar while the batch is still being processed.
            nonlocal reported
            if on_files_done is not None and done > reported:
                on_files_done(done - reported)
                reported = done

        job = client.enroll_batch(face_set, uploads, items=items, select=select, idempotency_key=key)
        report = job.wait(progress=job_progress)
        if on_files_done is not None and len(batch) > reported:
            on_files_done(len(batch) - reported)
        by_source = {item["source"]: item for item in report.get("items", [])}
        return {entry.sha256: _outcome(entry, by_source.get(entry.upload_name)) for entry in batch}

    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        futures = [pool.submit(run, batch) for batch in planned]
        for future in as_completed(futures):
            outcomes = future.result()
            state.record(outcomes)
            for outcome in outcomes.values():
                summary.outcomes[outcome["status"]] += 1
                if outcome["status"] == "rejected":
                    summary.reasons[outcome["reason"]] += 1
                summary.faces_added += len(outcome["face_ids"]) if outcome["status"] == "added" else 0
    return summary, entries


def _outcome(entry: FileEntry, item: dict[str, Any] | None) -> dict[str, Any]:
    if item is None:
        return {"path": entry.relative, "status": "rejected", "reason": "missing_from_report", "face_ids": []}
    return {
        "path": entry.relative,
        "status": item["status"],
        "reason": item.get("reason", ""),
        "face_ids": [face["face_id"] for face in item.get("faces", [])],
        "user_id": entry.user_id,
    }


def write_report(path: Path, entries: Sequence[FileEntry], state: EnrollState) -> None:
    """One CSV row per file of the folder, with its latest recorded outcome."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "sha256", "status", "reason", "faces", "face_ids", "user_id"])
        for entry in entries:
            record = state.records.get(entry.sha256, {})
            writer.writerow(
                [
                    entry.relative,
                    entry.sha256,
                    record.get("status", "not_done"),
                    record.get("reason", ""),
                    len(record.get("face_ids", [])),
                    " ".join(record.get("face_ids", [])),
                    entry.user_id or "",
                ]
            )
