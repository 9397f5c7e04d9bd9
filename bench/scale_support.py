"""The data, the exact search and the server measurements behind bench.search_scale."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.face_vectors import FaceDistribution, Matrix, RealFaces

Rows = npt.NDArray[np.int64]
# Exact distances are ranked in float32 first (fast), so a few more candidates than k are
# re-ranked in float64 to keep near-ties in the right order.
EXTRA_CANDIDATES = 20
EXACT_PROBES_PER_PASS = 64  # a 1M × 64 float32 distance block is 256 MB


@dataclass
class Dataset:
    vectors: Matrix
    synthetic: npt.NDArray[np.bool_]
    people: list[str]
    cameras: npt.NDArray[np.int64]
    face_ids: list[str]
    row_of: dict[str, int] = field(repr=False)
    squared_norms: npt.NDArray[np.float32] = field(repr=False)

    @classmethod
    def build(cls, real: RealFaces, stored_real: Rows, distribution: FaceDistribution, count: int,
              faces_per_person: float, cameras: int, rng: np.random.Generator) -> Dataset:
        """The real faces to store plus synthetic ones up to ``count``, in random order (so
        the real ones are spread over the segments like any other face)."""
        from workers.services.common import stable_face_id

        synthetic_vectors, synthetic_people = distribution.sample_faces(count - len(stored_real), faces_per_person, rng)
        vectors = np.concatenate([real.vectors[stored_real], synthetic_vectors])
        people = [real.identities[row] for row in stored_real] + [f"synthetic-{p}" for p in synthetic_people]
        is_synthetic = np.arange(count) >= len(stored_real)
        order = rng.permutation(count)
        # Face ids are made the way enrollment makes them (stable_face_id of what produced the face).
        face_ids = [stable_face_id("bench-scale", row) for row in range(count)]
        vectors = np.ascontiguousarray(vectors[order])
        return cls(
            vectors=vectors,
            synthetic=is_synthetic[order],
            people=[people[row] for row in order],
            cameras=rng.integers(0, cameras, size=count),
            face_ids=face_ids,
            row_of={face_id: row for row, face_id in enumerate(face_ids)},
            squared_norms=np.einsum("ij,ij->i", vectors, vectors),
        )

    @staticmethod
    def camera_name(camera: int) -> str:
        return f"cam-{camera:03d}"

    def records(self, start: int, stop: int, project_id: str, face_set_id: str) -> list[Any]:
        from infra.filter_columns import FilterColumns
        from infra.vector_index import VectorRecord

        columns = FilterColumns.for_schema({"camera": "string"})
        records = []
        for row in range(start, min(stop, len(self.vectors))):
            fields = {"camera": self.camera_name(int(self.cameras[row]))}
            records.append(VectorRecord(self.face_ids[row], self.vectors[row], project_id, face_set_id,
                                        user_id=self.people[row], fields=fields, columns=columns.values(fields)))
        return records

    def rows_of(self, face_ids: list[str]) -> Rows:
        return np.array([self.row_of[face_id] for face_id in face_ids], dtype=np.int64)


@dataclass
class Probes:
    vectors: Matrix
    real: npt.NDArray[np.bool_]  # held-out real photo (else a noisy copy of a stored face)
    cameras: npt.NDArray[np.int64]  # the camera a filtered search asks for

    @classmethod
    def build(cls, dataset: Dataset, held_out: Matrix, distribution: FaceDistribution, noisy_copies: int,
              cameras: int, rng: np.random.Generator) -> Probes:
        sources = rng.choice(len(dataset.vectors), size=noisy_copies, replace=False)
        # Within-identity noise: the copy is what another photo of the same person looks like.
        copies = (dataset.vectors[sources] + distribution.within_noise(noisy_copies, rng)).astype(np.float32)
        return cls(
            vectors=np.concatenate([held_out, copies]),
            real=np.arange(len(held_out) + noisy_copies) < len(held_out),
            cameras=rng.integers(0, cameras, size=len(held_out) + noisy_copies),
        )

    def head(self, count: int) -> Probes:
        """The first ``count`` probes (the held-out real ones come first)."""
        return Probes(self.vectors[:count], self.real[:count], self.cameras[:count])


def exact_distances(dataset: Dataset, rows: Rows, probe: Matrix) -> npt.NDArray[np.float64]:
    """Squared L2 distances in float64, the quantity Milvus's L2 metric ranks by."""
    difference = dataset.vectors[rows].astype(np.float64) - probe.astype(np.float64)
    squared: npt.NDArray[np.float64] = np.einsum("ij,ij->i", difference, difference)
    return squared


def exact_top_k(dataset: Dataset, probes: Probes, filtered: bool, k: int) -> list[Rows]:
    """The true k nearest stored rows of every probe (only its camera's rows when filtered)."""
    if filtered:
        truths = []
        for probe, camera in zip(probes.vectors, probes.cameras, strict=True):
            rows = np.flatnonzero(dataset.cameras == camera)
            truths.append(rows[np.argsort(exact_distances(dataset, rows, probe), kind="stable")[:k]])
        return truths
    truths = []
    wanted = k + EXTRA_CANDIDATES
    for start in range(0, len(probes.vectors), EXACT_PROBES_PER_PASS):
        block = probes.vectors[start : start + EXACT_PROBES_PER_PASS]
        ranking = dataset.squared_norms[:, None] - 2 * (dataset.vectors @ block.T)  # + |q|², same per column
        candidates = np.argpartition(ranking, wanted, axis=0)[:wanted].T
        for probe, rows in zip(block, candidates, strict=True):
            truths.append(rows[np.argsort(exact_distances(dataset, rows, probe), kind="stable")[:k]])
    return truths


def recall_at_k(dataset: Dataset, probe: Matrix, found: Rows, truth: Rows, k: int) -> float:
    """Share of the true k nearest that was returned; a hit exactly as near as the k-th true
    neighbour counts too (ties, as ann-benchmarks scores them)."""
    if len(found) == 0:
        return 0.0
    kth = float(exact_distances(dataset, truth[-1:], probe)[0])
    near_enough = exact_distances(dataset, found[:k], probe) <= kth * (1 + 1e-6) + 1e-9
    return min(int(np.sum(near_enough)), k) / k


def server_rss_mib() -> float:
    """Resident memory of every process this one started (the Milvus server, its etcd)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # the process ended while we looked
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    total_kib, pending = 0, list(children.get(os.getpid(), []))
    while pending:
        pid = pending.pop()
        pending += children.get(pid, [])
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kib += int(line.split()[1])
        except OSError:
            continue
    return total_kib / 1024


def wait_until_served(index: Any, alias: str, model_id: str, rows: int, settle_s: float,
                      timeout_s: float = 7200) -> tuple[float, float, float, list[dict[str, Any]]]:
    """perf_counter times at which the HNSW index was built (every row indexed), served (the
    query node searches every segment through it: ``index_ready``) and settled (the
    segments, which compaction may still merge and re-index, unchanged for ``settle_s``).
    ``alias`` names a pymilvus connection to the server (utility calls need one)."""
    from pymilvus import utility

    from infra.vector_index import collection_name
    from infra.vector_index.collections import VECTOR_INDEX

    collection = collection_name(index.prefix, model_id)
    built = served = None
    signature: list[tuple[int, int, str]] = []
    unchanged_since = time.perf_counter()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        now = time.perf_counter()
        if built is None:
            building = utility.index_building_progress(collection, index_name=VECTOR_INDEX, using=alias)
            if building["total_rows"] >= rows and building["indexed_rows"] >= building["total_rows"]:
                built = now
        segments = utility.get_query_segment_info(collection, using=alias)
        loaded_rows = sum(segment.num_rows for segment in segments)
        ready = loaded_rows >= rows and index.index_ready(model_id)
        # Not the index name: with scalar indexes too, Milvus 2.3 reports any one of a
        # segment's indexes there, a different one from call to call.
        current = sorted((segment.segmentID, segment.num_rows, bool(segment.index_name)) for segment in segments)
        if current != signature or not ready:
            signature, unchanged_since = current, now
        if ready and served is None:
            served = now
        if built is not None and served is not None and now - unchanged_since >= settle_s:
            return built, served, unchanged_since, [{"rows": rows_, "indexed": indexed} for _, rows_, indexed in current]
        time.sleep(2)
    raise TimeoutError(f"the index of {collection} was not served and settled within {timeout_s:.0f} s")
