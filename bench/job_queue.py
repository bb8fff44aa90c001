"""The job queue under load: W worker processes claiming N tiny jobs, on SQLite and on PostgreSQL.

    python bench/job_queue.py                          # 8 workers, 2,000 jobs, both backends
    python bench/job_queue.py --backends postgresql --url postgresql://dstrtd@host/bench   # an existing, empty db
    python bench/job_queue.py --workers 4 --jobs 500 --json out.json

Each worker claims a job (with its lease), stores a tiny piece for it and finishes it in one transaction
(`Catalog.store_piece`), until the queue is empty. Prints and writes (default bench/results/job_queue.json):
claims/s over the whole run, claim latency p50/p99, and the jobs run twice (claimed by two workers, or owning two
pieces), which must be 0. Without --url, PostgreSQL is a throwaway server (tests/pgserver.py: initdb in a temporary
folder, Unix socket only, fsync off).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # why: run from a checkout without `pip install -e .` too
sys.path.insert(1, str(ROOT / "tests"))  # tests/pgserver.py

# a 1x1 PNG: the work of a tiny job is the catalog's, not the generator's
TINY_PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de0000000c4944415478"
                         "9c63f8cfc0f01f0005000201a3a4a4c10000000049454e44ae426082")


def work(location: str, root: str, name: str, go: float, out: str) -> None:
    """One worker process: claim, store, finish until the queue is empty; its claims and latencies into `out`."""
    from curation.catalog import Catalog

    with Catalog(location, root=root, timeout=120) as cat:
        while time.time() < go:
            time.sleep(0.001)
        claims, latencies = [], []
        while True:
            t0 = time.perf_counter()
            job = cat.claim_job(name, lease=300)
            latencies.append(time.perf_counter() - t0)
            if job is None:
                break
            claims.append(job.id)
            cat.store_piece(job.id, {"image.png": TINY_PNG}, prompt=job.prompt)
        Path(out).write_text(json.dumps({"claims": claims, "latencies": latencies[:-1], "end": time.time()}))


def run(backend: str, location: str, root: Path, workers: int, jobs: int) -> dict[str, object]:
    from curation.catalog import Catalog

    with Catalog(location, root=root) as cat:
        with cat.transaction(visible=False) as db:
            db.executemany("INSERT INTO jobs (prompt, settings, created, updated) VALUES (?, '{}', 'now', 'now')",
                           [(f"tiny job {i}:1",) for i in range(jobs)])
    go = time.time() + 3.0  # every process connected before the first claim
    outs = [root / f"w{i}.json" for i in range(workers)]
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=work, args=(location, str(root), f"bench-{i}", go, str(outs[i])))
             for i in range(workers)]
    load_before = os.getloadavg()[0]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    load_after = os.getloadavg()[0]
    results = [json.loads(o.read_text()) for o in outs]
    claims = [c for r in results for c in r["claims"]]
    latencies = sorted(x for r in results for x in r["latencies"])
    wall = max(r["end"] for r in results) - go
    with Catalog(location, root=root) as cat:
        per_job = Counter(p.job_id for p in cat.list_pieces())
        done = len(cat.list_jobs("done"))
    twice = sum(1 for n in Counter(claims).values() if n > 1) + sum(1 for n in per_job.values() if n > 1)
    return {
        "backend": backend, "workers": workers, "jobs": jobs, "done": done, "claims": len(claims),
        "seconds": round(wall, 3), "claims_per_s": round(len(claims) / wall, 1),
        "claim_ms_p50": round(statistics.median(latencies) * 1000, 2),
        "claim_ms_p99": round(latencies[int(0.99 * (len(latencies) - 1))] * 1000, 2),
        "run_twice": twice, "load_average": [round(load_before, 2), round(load_after, 2)],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    parser.add_argument("--url", default=None, help="an empty PostgreSQL database to use instead of a throwaway server")
    parser.add_argument("--json", default=str(ROOT / "bench" / "results" / "job_queue.json"))
    args = parser.parse_args(argv)

    import pgserver

    rows = []
    with tempfile.TemporaryDirectory(prefix="dstrtd-bench-") as tmp:
        for backend in args.backends:
            root = Path(tmp) / backend
            root.mkdir()
            if backend == "sqlite":
                rows.append(run(backend, str(root / "catalog.sqlite"), root, args.workers, args.jobs))
            elif args.url:
                rows.append(run(backend, args.url, root, args.workers, args.jobs))
            else:
                with pgserver.running(Path(tempfile.mkdtemp(prefix="dstrtd-pg-"))) as server:
                    rows.append(run(backend, server.create("bench"), root, args.workers, args.jobs))
    for r in rows:
        print(f"{r['backend']:<10} {r['workers']} workers, {r['jobs']} jobs: {r['claims_per_s']:>7.1f} claims/s, "
              f"claim p50 {r['claim_ms_p50']:.1f} ms, p99 {r['claim_ms_p99']:.1f} ms, run twice {r['run_twice']}, "
              f"done {r['done']}/{r['jobs']} (load {r['load_average'][0]} -> {r['load_average'][1]})")
    out = {"results": rows, "cpus": os.cpu_count(), "python": platform.python_version(),
           "machine": platform.machine(), "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0 if all(r["run_twice"] == 0 and r["done"] == r["jobs"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
