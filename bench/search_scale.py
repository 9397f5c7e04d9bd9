"""Search at one million faces (issue 8): one face set of N faces on a real Milvus server,
written and searched through FaceFleet's own ``VectorIndex`` with the HNSW settings of
``Settings().vector_store`` (``FACEFLEET_VECTOR_STORE__*``, or the options below).

    .venv/bin/python -m bench.search_scale [--n 1000000] [--queries 1000] [--search-ef 64,128,256,1536]
        [--segment-max-mb 4096 --segment-seal-proportion 1.0]   (server segment size: docker-compose's
                                                                  4096 holds 1M faces; default: the package's)

The faces are the real dlib-resnet vectors of the shared identity photos (bench.face_vectors;
one photo of each person with 2+ photos is held out as a probe) plus synthetic faces drawn
from the real faces' between- and within-identity distribution. Every face carries an
external field ``camera`` (one of 100 values), so a search filter such as
``camera:"cam-042"`` selects ~1% of the face set the way an API filter does. The filter is
timed twice: on the typed column the field has (``infra.filter_columns``; what a search job
uses) and on the JSON copy of the fields (what collections of the older layout use).

Reported: ingest rows/s, time until the HNSW index is built and then served, RSS of the
Milvus server before and after, and for each search ef, with and without the filter:
p50/p99 of one-probe top-10 searches (Bounded consistency, as the search job uses) through
the adapter and as the same raw pymilvus query, and recall@10 against an exact numpy
search over the same vectors (squared L2, FaceFleet's metric), for held-out real photos
and for noisy copies of stored faces (stored face + within-identity noise: "another photo").

At 1M faces a run took ~37 min on the shared 2-core development machine (insert ~5 min, index
build and load ~14 min, searches and exact ground truth the rest); with the typed filter
columns every segment has 13 indexes, and index builds and compactions went on for ~57 min
after the flush (beside a test run); docs/BENCHMARKS.md has both.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import REPO, machine_description, progress, save_report
from bench.face_vectors import FaceDistribution, RealFaces, embed_real_faces, norm_summary
from bench.scale_support import (
    Dataset,
    Probes,
    exact_top_k,
    recall_at_k,
    server_rss_mib,
    wait_until_served,
)

PROJECT, FACE_SET = "bench-scale", "one-million"
WARM_UP_SEARCHES = 20
RAW_ALIAS = "bench-scale-raw"  # the pymilvus connection of the raw queries
FILTER_MODES = ("none", "column", "json")
FILTER_SCHEMA = {"camera": "string"}


@dataclass
class SearchRow:
    search_ef: int
    filter: str  # FILTER_MODES
    searches: int
    adapter_p50_ms: float
    adapter_p99_ms: float
    adapter_mean_ms: float
    raw_p50_ms: float
    raw_p99_ms: float
    raw_mean_ms: float
    recall_real_held_out: float
    recall_noisy_copies: float
    recall_all: float
    filter_violations: int


@dataclass
class Report:
    machine: str
    command: str
    rows: int
    real_stored: int
    real_held_out: int
    synthetic: int
    hnsw_m: int
    hnsw_ef_construction: int
    server_segment_settings: dict[str, float]
    distribution: dict[str, Any]
    norms_real: dict[str, float]
    norms_synthetic: dict[str, float]
    insert_s: float
    insert_rows_per_s: float
    index_built_s: float
    index_served_s: float
    settled_s: float
    segments: list[dict[str, Any]]
    rss_mib: dict[str, float]
    load_average: dict[str, list[float]]
    searches: list[SearchRow] = field(default_factory=list)


def main() -> None:
    from infra.settings import Settings

    defaults = Settings().vector_store
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000, help="faces in the one face set")
    parser.add_argument("--queries", type=int, default=1000, help="noisy-copy probes per ef, unfiltered")
    parser.add_argument("--filtered-queries", type=int, default=300,
                        help="noisy-copy probes per ef with the filter (a JSON-field filter is slower)")
    parser.add_argument("--top-n", type=int, default=10)
    parser.add_argument("--search-ef", default="64,128,256,512,default",
                        help="comma-separated; 'default' is the ef FaceFleet derives for --top-n and --n")
    parser.add_argument("--hnsw-m", type=int, default=defaults.hnsw_m)
    parser.add_argument("--ef-construction", type=int, default=defaults.hnsw_ef_construction)
    parser.add_argument("--cameras", type=int, default=100, help="values of the filtered field")
    parser.add_argument("--faces-per-person", type=float, default=4.0, help="mean, synthetic people")
    parser.add_argument("--insert-batch", type=int, default=5000, help="records per upsert call")
    parser.add_argument("--segment-max-mb", type=int, default=None,
                        help="Milvus dataCoord.segment.maxSize (MB; the package's default is 512)")
    parser.add_argument("--segment-seal-proportion", type=float, default=None,
                        help="Milvus dataCoord.segment.sealProportion (default 0.23): a growing segment is "
                             "sealed at this share of maxSize")
    parser.add_argument("--settle-s", type=float, default=60.0, help="segments unchanged this long = settled")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--embeddings-cache", type=Path, default=REPO / "bench" / "results" / "real_faces.json")
    parser.add_argument("--json", type=Path, default=REPO / "bench" / "results" / "search_scale.json")
    args = parser.parse_args()
    # A plain `kill` must still stop the Milvus server (the finally blocks run on SystemExit).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    from infra.vector_index import search_ef_for

    efs = sorted({search_ef_for(args.top_n, args.n) if ef == "default" else int(ef) for ef in args.search_ef.split(",")})

    rng = np.random.default_rng(args.seed)
    real = embed_real_faces(args.embeddings_cache)
    held_out = held_out_rows(real)
    stored_real = np.setdiff1d(np.arange(len(real.paths)), held_out)
    distribution = FaceDistribution.fit(real.vectors, real.identities)
    progress(f"fitted the face distribution: {distribution.summary()}")
    dataset = Dataset.build(real, stored_real, distribution, args.n, args.faces_per_person, args.cameras, rng)
    probes = Probes.build(dataset, real.vectors[held_out], distribution, args.queries, args.cameras, rng)
    progress(f"dataset ready: {args.n} faces ({len(stored_real)} real), {len(probes.vectors)} probes")

    report = Report(
        machine=machine_description(),
        command=f"python -m bench.search_scale --n {args.n} --queries {args.queries} "
        f"--filtered-queries {args.filtered_queries} --top-n {args.top_n} "
        f"--search-ef {','.join(map(str, efs))} --hnsw-m {args.hnsw_m} --ef-construction {args.ef_construction}"
        + (f" --segment-max-mb {args.segment_max_mb}" if args.segment_max_mb else "")
        + (f" --segment-seal-proportion {args.segment_seal_proportion}" if args.segment_seal_proportion else ""),
        rows=args.n, real_stored=len(stored_real), real_held_out=len(held_out), synthetic=args.n - len(stored_real),
        hnsw_m=args.hnsw_m, hnsw_ef_construction=args.ef_construction,
        server_segment_settings=segment_settings(args), distribution=distribution.summary(),
        norms_real=norm_summary(real.vectors), norms_synthetic=norm_summary(dataset.vectors[dataset.synthetic]),
        insert_s=0, insert_rows_per_s=0, index_built_s=0, index_served_s=0, settled_s=0, segments=[],
        rss_mib={}, load_average={"start": list(os.getloadavg())},
    )
    settings = defaults.model_copy(update={
        "collection_prefix": "benchscale", "hnsw_m": args.hnsw_m, "hnsw_ef_construction": args.ef_construction,
        "timeout_seconds": 60.0,  # bulk upserts of 5,000 rows on a busy 2-core machine
    })
    run_on_server(report, settings, real.model_id, dataset, probes, efs, args)
    report.load_average["end"] = list(os.getloadavg())
    save_report(args.json, asdict(report))
    print_report(report)


def segment_settings(args: argparse.Namespace) -> dict[str, float]:
    """The dataCoord.segment keys this run sets on the server (none: the package's defaults)."""
    settings: dict[str, float] = {}
    if args.segment_max_mb:
        settings["maxSize"] = args.segment_max_mb
        # Milvus also seals a segment once a field has this many binlog files (one per
        # data-node buffer sync of ~16 MB); at the default 32, a segment much larger than
        # 512 MB would be sealed by that rule before it reaches maxSize.
        settings["maxBinlogFileNumber"] = max(32, args.segment_max_mb // 8)
    if args.segment_seal_proportion:
        settings["sealProportion"] = args.segment_seal_proportion
    return settings


def patch_segment_settings(template: str, settings: dict[str, float]) -> str:
    """Set keys of ``dataCoord.segment`` in the text of the milvus.yaml template.

    The keys are replaced where they stand (the first line ``    key: value`` after
    ``dataCoord:``), so the template's comments and every other setting stay as shipped."""
    data_coord = template.index("\ndataCoord:\n")
    head, tail = template[:data_coord], template[data_coord:]
    for key, value in settings.items():
        tail, replaced = re.subn(rf"(?m)^(    {key}:) [^\s#]+", rf"\g<1> {value}", tail, count=1)
        if not replaced:
            raise ValueError(f"dataCoord.segment.{key} is not in the Milvus config template")
    return head + tail


def held_out_rows(real: RealFaces) -> np.ndarray:
    """The last photo (by path) of every person with 2+ photos: probes that are not stored."""
    by_person: dict[str, list[int]] = {}
    for row in sorted(range(len(real.paths)), key=lambda row: real.paths[row]):
        by_person.setdefault(real.identities[row], []).append(row)
    return np.array(sorted(rows[-1] for rows in by_person.values() if len(rows) > 1))


def run_on_server(report: Report, settings: Any, model_id: str, dataset: Dataset, probes: Probes,
                  efs: list[int], args: argparse.Namespace) -> None:
    from pymilvus import MilvusClient

    from infra.vector_index import VectorIndex
    from tests.support.milvus import milvus_server

    segment_config = report.server_segment_settings

    def patch_config(template: str) -> str:
        return patch_segment_settings(template, segment_config)

    with (tempfile.TemporaryDirectory(prefix="facefleet-scale-") as tmp,
          milvus_server(Path(tmp) / "server", patch_config) as uri):
        server_settings = settings.model_copy(update={"uri": uri})
        raw = MilvusClient(uri=uri, timeout=60, alias=RAW_ALIAS)
        time.sleep(5)  # let the fresh server's own start-up work finish before measuring it
        report.rss_mib["idle"] = server_rss_mib()
        with VectorIndex.from_settings(server_settings) as index:
            started = time.perf_counter()
            for start in range(0, len(dataset.vectors), args.insert_batch):
                index.upsert(model_id, dataset.records(start, start + args.insert_batch, PROJECT, FACE_SET))
                if (start // args.insert_batch) % 20 == 0:
                    progress(f"inserted {start + args.insert_batch:,}/{len(dataset.vectors):,}")
            report.insert_s = time.perf_counter() - started
            report.insert_rows_per_s = len(dataset.vectors) / report.insert_s
            report.rss_mib["after_insert"] = server_rss_mib()
            progress(f"insert: {report.insert_rows_per_s:,.0f} rows/s; waiting for the index")
            flushed = time.perf_counter()
            index.flush(model_id)
            built, served, settled, segments = wait_until_served(index, RAW_ALIAS, model_id, len(dataset.vectors),
                                                                 args.settle_s)
            report.index_built_s, report.index_served_s = built - flushed, served - flushed
            report.settled_s, report.segments = settled - flushed, segments
            report.rss_mib["index_served"] = server_rss_mib()
            progress(f"index built after {report.index_built_s:.0f} s, served after {report.index_served_s:.0f} s, "
                     f"settled after {report.settled_s:.0f} s: {segments}")
            filtered_probes = probes.head(int(probes.real.sum()) + args.filtered_queries)
            sets = {False: probes, True: filtered_probes}
            truths = {filtered: exact_top_k(dataset, sets[filtered], filtered, args.top_n) for filtered in sets}
        for ef in efs:
            ef_settings = server_settings.model_copy(update={"search_ef": ef})
            with VectorIndex.from_settings(ef_settings) as index:
                for mode in FILTER_MODES:
                    filtered = mode != "none"
                    report.searches.append(
                        time_searches(index, raw, model_id, dataset, sets[filtered], truths[filtered], ef, mode,
                                      args)
                    )
                    progress(f"{report.searches[-1]}")
        report.rss_mib["after_searches"] = server_rss_mib()
        raw.close()


def time_searches(index: Any, raw: Any, model_id: str, dataset: Dataset, probes: Probes,
                  truth: list[np.ndarray], ef: int, mode: str, args: argparse.Namespace) -> SearchRow:
    """Each probe once through the adapter and once as the same raw query, order alternating
    so that the machine's other load falls on both alike."""
    from infra.filter_columns import FilterColumns
    from infra.search_filter import compile_filter
    from infra.vector_index import collection_name, scope_key

    filtered = mode != "none"
    columns = FilterColumns.for_schema(FILTER_SCHEMA).by_field if mode == "column" else None

    def user_filter(camera: int) -> str:
        return compile_filter(f'camera:"{dataset.camera_name(camera)}"', FILTER_SCHEMA, columns=columns)

    collection = collection_name(index.prefix, model_id)
    scope = f"scope == {scope_key(PROJECT, FACE_SET)}"
    search_params = {"metric_type": "L2", "params": {"ef": max(ef, args.top_n)}}

    def adapter_search(probe: np.ndarray, camera: int) -> list[str]:
        expr = user_filter(camera) if filtered else None
        hits = index.search(model_id, [probe], args.top_n, PROJECT, FACE_SET, expr=expr, face_set_size=args.n)[0]
        return [hit.face_id for hit in hits]

    def raw_search(probe: np.ndarray, camera: int) -> None:
        expr = f"{scope} and ({user_filter(camera)})" if filtered else scope
        raw.search(collection, data=[probe.tolist()], filter=expr, limit=args.top_n, output_fields=["face_id"],
                   search_params=search_params, consistency_level="Bounded")

    for number in range(WARM_UP_SEARCHES):  # connections, caches, the first touch of each segment
        adapter_search(probes.vectors[number % len(probes.vectors)], number % args.cameras)
        raw_search(probes.vectors[number % len(probes.vectors)], number % args.cameras)
    adapter_ms, raw_ms, found = [], [], []
    for number, (probe, camera) in enumerate(zip(probes.vectors, probes.cameras, strict=True)):
        for path in (("adapter", "raw") if number % 2 == 0 else ("raw", "adapter")):
            began = time.perf_counter()
            if path == "adapter":
                found.append(adapter_search(probe, int(camera)))
                adapter_ms.append((time.perf_counter() - began) * 1000)
            else:
                raw_search(probe, int(camera))
                raw_ms.append((time.perf_counter() - began) * 1000)
    recalls, violations = [], 0
    for probe_number, face_ids in enumerate(found):
        rows = dataset.rows_of(face_ids)
        if filtered:
            violations += int(np.sum(dataset.cameras[rows] != probes.cameras[probe_number]))
        recalls.append(recall_at_k(dataset, probes.vectors[probe_number], rows, truth[probe_number], args.top_n))
    recall = np.array(recalls)
    return SearchRow(
        search_ef=ef, filter=mode, searches=len(found),
        adapter_p50_ms=float(np.percentile(adapter_ms, 50)), adapter_p99_ms=float(np.percentile(adapter_ms, 99)),
        adapter_mean_ms=float(np.mean(adapter_ms)),
        raw_p50_ms=float(np.percentile(raw_ms, 50)), raw_p99_ms=float(np.percentile(raw_ms, 99)),
        raw_mean_ms=float(np.mean(raw_ms)),
        recall_real_held_out=float(recall[probes.real].mean()), recall_noisy_copies=float(recall[~probes.real].mean()),
        recall_all=float(recall.mean()), filter_violations=violations,
    )


def print_report(report: Report) -> None:
    rss = ", ".join(f"{stage} {mib:,.0f} MiB" for stage, mib in report.rss_mib.items())
    print(f"\nmachine: {report.machine}\ncommand: {report.command}\nload average: {report.load_average}")
    print(f"faces: {report.rows:,} in one face set ({report.real_stored} real, {report.synthetic:,} synthetic); "
          f"probes: {report.real_held_out} held-out real photos + noisy copies of stored faces")
    print(f"norms real {report.norms_real}, synthetic {report.norms_synthetic}")
    print(f"server dataCoord.segment: {report.server_segment_settings or 'package defaults'}")
    print(f"HNSW M={report.hnsw_m}, efConstruction={report.hnsw_ef_construction}; "
          f"insert {report.insert_rows_per_s:,.0f} rows/s ({report.insert_s:.0f} s); after flush: index built "
          f"{report.index_built_s:.0f} s, served {report.index_served_s:.0f} s, settled {report.settled_s:.0f} s")
    print(f"segments: {report.segments}\nMilvus server RSS: {rss}\n")
    print("| ef | filter | searches | index query p50 | index query p99 | adapter p50 | adapter p99 "
          "| recall@10 held-out real | recall@10 noisy copies | recall@10 all |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    labels = {"none": "none", "column": "camera (~1%), typed column", "json": "camera (~1%), JSON field"}
    for row in report.searches:
        print(f"| {row.search_ef} | {labels[row.filter]} | {row.searches} "
              f"| {row.raw_p50_ms:.1f} ms | {row.raw_p99_ms:.1f} ms | {row.adapter_p50_ms:.1f} ms "
              f"| {row.adapter_p99_ms:.1f} ms | {row.recall_real_held_out:.4f} | {row.recall_noisy_copies:.4f} "
              f"| {row.recall_all:.4f} |")


if __name__ == "__main__":
    main()
