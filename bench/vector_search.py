"""Search latency of the embedded vector store (milvus-lite, FLAT) against a Milvus server
(HNSW), both through FaceFleet's own ``VectorIndex``, on the same random vectors in one run.

    python -m bench.vector_search --n 200000

Layout, as FaceFleet writes it: N random 128-d vectors in one collection, 99% in one big
face set and 1% in a small one (so the second search has a selective tenant filter). Each
probe is a stored vector plus noise; recall@k is measured against an exact numpy search.
Searches use Bounded consistency (the hot path) and one probe per call, like an API search.
match@1 is the face-search question (is the probe's own vector the best hit?); recall@k
over random Gaussian vectors is a worst case for HNSW, because in 128 random dimensions
every other vector is almost equally far away.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from bench.common import machine_description
from infra.vector_index import IndexConfig, VectorRecord, start_embedded_milvus
from infra.vector_index.index import VectorIndex
from tests.support.milvus import milvus_server

MODEL = "bench-random-128"
PROJECT = "bench"
BIG, SMALL = "big", "small"
INSERT_BATCH = 5000
SETTLE_S = 30


@dataclass
class Result:
    backend: str
    face_set: str
    face_set_size: int
    insert_rows_per_s: float
    ready_s: float
    p50_ms: float
    p95_ms: float
    mean_ms: float
    recall_at_k: float
    match_at_1: float


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200_000, help="stored vectors")
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--queries", type=int, default=300, help="timed searches per face set")
    parser.add_argument("--top-k", type=int, default=10)
    parser.add_argument("--backends", default="lite,server")
    parser.add_argument("--search-ef", type=int, default=IndexConfig().search_ef,
                        help="HNSW ef on the server (default: derived per search, infra.vector_index.search_ef_for)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((args.n, args.dim)).astype(np.float32)
    small_count = max(1, args.n // 100)
    sets = np.array([SMALL] * small_count + [BIG] * (args.n - small_count))
    results: list[Result] = []
    for backend in args.backends.split(","):
        with backend_uri(backend) as uri:
            config = IndexConfig(search_ef=args.search_ef)
            results += run_backend(backend, uri, config, vectors, sets, args.queries, args.top_k, rng)

    print(f"\nmachine: {machine_description()}")
    print(
        f"command: python -m bench.vector_search --n {args.n} --queries {args.queries} --top-k {args.top_k}"
        f" --search-ef {args.search_ef}\n"
    )
    print("| backend | face set (rows) | insert rows/s | ready after insert | p50 | p95 | mean | recall@k | match@1 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r.backend} | {r.face_set} ({r.face_set_size}) | {r.insert_rows_per_s:,.0f} | {r.ready_s:.1f} s "
            f"| {r.p50_ms:.1f} ms | {r.p95_ms:.1f} ms | {r.mean_ms:.1f} ms | {r.recall_at_k:.3f} | {r.match_at_1:.3f} |"
        )
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))


@contextmanager
def backend_uri(backend: str) -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="facefleet-vbench-") as tmp:
        if backend == "lite":
            uri, stop = start_embedded_milvus(Path(tmp) / "vectors.db")
            try:
                yield uri
            finally:
                stop()
        elif backend == "server":
            with milvus_server(Path(tmp) / "server") as uri:
                yield uri
        else:
            raise SystemExit(f"unknown backend {backend!r} (lite, server)")


def run_backend(
    backend: str,
    uri: str,
    config: IndexConfig,
    vectors: np.ndarray,
    sets: np.ndarray,
    queries: int,
    top_k: int,
    rng: np.random.Generator,
) -> list[Result]:
    label = (
        "milvus-lite 2.5 (FLAT)"
        if backend == "lite"
        else f"Milvus 2.3.5 server (HNSW M={config.hnsw_m}, ef={config.search_ef})"
    )
    with VectorIndex(uri, collection_prefix="bench", index=config, timeout_seconds=60) as index:
        started = time.perf_counter()
        for start in range(0, len(vectors), INSERT_BATCH):
            stop = min(start + INSERT_BATCH, len(vectors))
            index.upsert(
                MODEL,
                [
                    VectorRecord(f"face-{i}", vectors[i], PROJECT, str(sets[i]), fields={"i": i})
                    for i in range(start, stop)
                ],
            )
            print(f"{backend}: inserted {stop}/{len(vectors)}", flush=True)
        insert_s = time.perf_counter() - started
        ready_started = time.perf_counter()
        index.flush(MODEL)
        if backend == "server":
            wait_for(lambda: index.index_ready(MODEL), what="the HNSW index build and its loading")
            # A compaction soon after the first build swaps segments (seen ~90 s in); give the
            # server time to settle, then require the index to be served again.
            time.sleep(SETTLE_S)
            wait_for(lambda: index.index_ready(MODEL), what="the index after compaction")
        ready_s = time.perf_counter() - ready_started
        results = []
        for face_set in (BIG, SMALL):
            members = np.flatnonzero(sets == face_set)
            times, recalls, matches = [], [], []
            for round_index in range(queries + 20):
                target_row = int(rng.choice(members))
                target = vectors[target_row]
                probe = target + rng.standard_normal(target.shape).astype(np.float32) * 0.3
                began = time.perf_counter()
                hits = index.search(MODEL, [probe], top_k, PROJECT, face_set)[0]
                elapsed = time.perf_counter() - began
                if round_index < 20:
                    continue  # warm-up: connections, caches, collection load
                times.append(elapsed * 1000)
                exact = members[np.argsort(np.linalg.norm(vectors[members] - probe, axis=1))[:top_k]]
                truth = {f"face-{i}" for i in exact}
                recalls.append(len(truth & {hit.face_id for hit in hits}) / len(truth))
                # The face search question: is the probe's own face the best hit?
                matches.append(bool(hits) and hits[0].face_id == f"face-{target_row}")
            results.append(
                Result(
                    backend=label,
                    face_set=face_set,
                    face_set_size=len(members),
                    insert_rows_per_s=len(vectors) / insert_s,
                    ready_s=ready_s,
                    p50_ms=float(np.percentile(times, 50)),
                    p95_ms=float(np.percentile(times, 95)),
                    mean_ms=float(np.mean(times)),
                    recall_at_k=float(np.mean(recalls)),
                    match_at_1=float(np.mean(matches)),
                )
            )
            print(f"{backend}: {results[-1]}", flush=True)
        index.drop_collection(MODEL)
    return results


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 1800) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not finish in {timeout_s:.0f} s")
        time.sleep(1)


if __name__ == "__main__":
    main()
