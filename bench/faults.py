"""Faults on a shared catalog: workers killed with SIGKILL at random moments and restarted, and the PostgreSQL server
stopped for 30 s mid-run, while a gallery watches the catalog from its own studio folder.

    python bench/faults.py                       # 4 workers, 120 jobs, kills every 2-6 s, a 30 s outage
    python bench/faults.py --jobs 40 --outage 10 --json out.json

The workers are real `StudioWorker` processes (lease 4 s) with a stand-in generator and curator (tests/installation/
worker/worker_fakes.py: a flat image after `--steps` steps of `--step-s` seconds, every piece accepted), so the
figures are the catalog's. At the end every job must be done exactly once: done, one piece each, no piece without
its job, every piece's bytes in the catalog and matching its checksum; and the gallery must never have shown fewer
pieces than before, nor stopped. Prints and writes bench/results/faults.json (kills, restarts, attempts, outage).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # why: run from a checkout without `pip install -e .` too
sys.path.insert(1, str(ROOT / "tests"))  # tests/pgserver.py

WORKER = textwrap.dedent("""
    import logging, sys
    sys.path.insert(0, sys.argv[1])
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(name)s: %(message)s")
    from worker_fakes import AcceptAll, FakeBackend
    from curation.studio import open_studio
    from installation.worker import StudioWorker, WorkerOptions
    studio = open_studio(sys.argv[2], sys.argv[3])
    cat = studio.catalog()
    options = WorkerOptions(preset="tiny", worker=sys.argv[4], sample=False, poll=0.2, lease=4.0, retry=0.5,
                            overrides={"size": [32, 32], "steps": int(sys.argv[5])})
    backend = FakeBackend(step_s=float(sys.argv[6]))
    sys.exit(StudioWorker(studio, options, backend=backend, curator=AcceptAll(cat), catalog=cat).run())
""")


def start_worker(root: Path, url: str, name: str, steps: int, step_s: float, log: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    with open(log, "a") as f:
        return subprocess.Popen([sys.executable, "-c", WORKER, str(ROOT / "tests" / "installation" / "worker"),
                                 str(root), url, name, str(steps), str(step_s)], stdout=f, stderr=f, env=env)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--jobs", type=int, default=120)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--step-s", type=float, default=0.05, help="seconds per stand-in step (a job: steps x this)")
    parser.add_argument("--kill-every", type=float, nargs=2, default=(2.0, 6.0), metavar=("MIN", "MAX"))
    parser.add_argument("--outage", type=float, default=30.0, help="seconds the server is stopped mid-run")
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=str(ROOT / "bench" / "results" / "faults.json"))
    args = parser.parse_args(argv)

    import pgserver

    from curation.catalog import Catalog
    from curation.studio import init_studio
    from installation.gallery.source import CatalogWatcher

    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="dstrtd-faults-"))
    report: dict[str, object] = {}
    with pgserver.running(Path(tempfile.mkdtemp(prefix="dstrtd-pg-"))) as server:
        url = server.create("faults")
        gpu = init_studio(tmp / "gpu-box", catalog=url)
        wall = init_studio(tmp / "gallery-box", catalog=url)
        with gpu.catalog() as cat:
            for i in range(args.jobs):
                cat.enqueue(f"piece {i}:1", theme="glacier")
        logs = tmp / "workers.log"
        procs = {f"w{i}": start_worker(gpu.root, url, f"w{i}", args.steps, args.step_s, logs)
                 for i in range(args.workers)}
        watcher = CatalogWatcher(url, wall.root, poll=0.5)
        shown, shrunk, kills, restarts = 0, 0, 0, 0
        outage_at = None
        started = time.monotonic()
        next_kill = started + rng.uniform(*args.kill_every)
        outage_done = False
        try:
            while time.monotonic() - started < args.timeout:
                for update in watcher.poll():
                    if update.pieces is not None:
                        shrunk += len(update.pieces) < shown
                        shown = max(shown, len(update.pieces))
                try:
                    with Catalog(url, root=gpu.root, timeout=2) as cat:
                        done = len(cat.list_jobs("done"))
                except Exception:
                    done = -1
                if done == args.jobs:
                    break
                now = time.monotonic()
                if not outage_done and done >= args.jobs // 3:
                    print(f"{now - started:6.1f} s: stopping the server for {args.outage:.0f} s ({done} done)")
                    outage_at = now - started
                    server.kill()
                    time.sleep(args.outage)
                    server.start()
                    print(f"{time.monotonic() - started:6.1f} s: server back")
                    outage_done = True
                    continue
                if now >= next_kill:
                    name = rng.choice(sorted(procs))
                    procs[name].send_signal(signal.SIGKILL)
                    procs[name].wait()
                    kills += 1
                    procs[name] = start_worker(gpu.root, url, name, args.steps, args.step_s, logs)
                    restarts += 1
                    next_kill = now + rng.uniform(*args.kill_every)
                for name, p in procs.items():  # a worker that stopped on its own is started again
                    if p.poll() is not None:
                        procs[name] = start_worker(gpu.root, url, name, args.steps, args.step_s, logs)
                        restarts += 1
                time.sleep(0.2)
            elapsed = time.monotonic() - started
            time.sleep(2)
            for update in watcher.poll():
                if update.pieces is not None:
                    shrunk += len(update.pieces) < shown
                    shown = max(shown, len(update.pieces))
            gallery_alive = watcher._thread.is_alive()
        finally:
            for p in procs.values():
                p.send_signal(signal.SIGTERM)
            for p in procs.values():
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
            watcher.close()
        with Catalog(url, root=wall.root) as cat:
            jobs = cat.list_jobs()
            pieces = cat.list_pieces()
            per_job: dict[int | None, int] = {}
            for p in pieces:
                per_job[p.job_id] = per_job.get(p.job_id, 0) + 1
            problems = [m for m in cat.check() if "has no catalog row" not in m]
        report = {
            "jobs": args.jobs, "workers": args.workers, "seconds": round(elapsed, 1),
            "done": sum(j.status == "done" for j in jobs), "failed": sum(j.status == "failed" for j in jobs),
            "pieces": len(pieces), "jobs_with_two_pieces": sum(n > 1 for n in per_job.values()),
            "pieces_without_job": per_job.get(None, 0), "check_problems": problems,
            "kills": kills, "restarts": restarts, "outage_s": args.outage, "outage_at_s": outage_at,
            "attempts_max": max(j.attempts for j in jobs), "jobs_retried": sum(j.attempts > 1 for j in jobs),
            "gallery_shown": shown, "gallery_shrank": shrunk, "gallery_alive": gallery_alive,
            "cpus": os.cpu_count(), "python": platform.python_version(), "load_average": round(os.getloadavg()[0], 2),
        }
    ok = (report["done"] == args.jobs and report["pieces"] == args.jobs and not report["jobs_with_two_pieces"]
          and not report["pieces_without_job"] and not problems and not shrunk and gallery_alive)
    report["ok"] = ok
    print(json.dumps(report, indent=2))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.json}; worker logs in {logs}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
