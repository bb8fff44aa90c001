"""`dstrtd studio`: run the studio worker (queue -> generate -> curate -> catalog) until stopped."""

from __future__ import annotations

import argparse

from installation.commands._common import add_studio_argument


def add_generator_overrides(parser: argparse.ArgumentParser) -> None:
    """Generator settings shared by `studio` and `queue` (names equal the `GenerateConfig` fields they set)."""
    g = parser.add_argument_group("generator settings")
    g.add_argument("--size", type=int, nargs=2, metavar=("W", "H"), default=None, help="image size in pixels")
    g.add_argument("--steps", type=int, default=None, help="optimisation steps per piece")
    g.add_argument("--cutn", type=int, default=None, help="cutouts per step")
    g.add_argument("--cut-pow", dest="cut_pow", type=float, default=None, help="cutout size power")
    g.add_argument("--lr", type=float, default=None, help="learning rate")
    g.add_argument("--optimizer", default=None, help="optimiser name (e.g. Adam)")


def generator_overrides(args: argparse.Namespace) -> dict:
    out: dict = {}
    for name in ("size", "steps", "cutn", "cut_pow", "lr", "optimizer"):
        value = getattr(args, name, None)
        if value is not None:
            out[name] = list(value) if name == "size" else value
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_studio_argument(parser)
    parser.add_argument("--preset", default=None,
                        help="generator preset (default imagenet_16384; tiny runs offline with random weights)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (one worker per GPU)")
    parser.add_argument("--worker", default=None, help="worker name recorded on its jobs (default host:pid)")
    parser.add_argument("--max-jobs", dest="max_jobs", type=int, default=None, help="stop after N jobs")
    parser.add_argument("--idle-exit", dest="idle_exit", action="store_true", help="exit when the queue is empty")
    parser.add_argument("--no-sample", dest="sample", action="store_false",
                        help="do not sample prompts from the themes when the queue is empty")
    parser.add_argument("--scorer", default=None, help="aesthetic scorer: tiny, laion-vit-b-32, ... or a path")
    parser.add_argument("--encoder", default=None, help="aligner encoder (default: the preset's perceptor)")
    parser.add_argument("--policy", default=None, help="selection policy JSON (default: STUDIO/selection.json)")
    parser.add_argument("--no-curate", dest="curate", action="store_false", help="generate only; curate later")
    parser.add_argument("--poll", dest="poll_s", type=float, default=2.0, help="seconds between idle queue checks")
    parser.add_argument("--requeue-running", dest="requeue_running", action="store_true",
                        help="at start, requeue every job left 'running' (only when no other worker is running)")
    parser.add_argument("--sample-seed", dest="sample_seed", type=int, default=None, help="seed of theme sampling")
    add_generator_overrides(parser)


def run(args: argparse.Namespace) -> int:
    from curation.studio import open_studio
    from installation.studio import WorkerOptions, run_worker

    options = WorkerOptions(
        preset=args.preset, device=args.device, worker=args.worker, max_jobs=args.max_jobs, idle_exit=args.idle_exit,
        sample=args.sample, poll_s=args.poll_s, scorer=args.scorer, encoder=args.encoder, policy=args.policy,
        overrides=generator_overrides(args), sample_seed=args.sample_seed, curate=args.curate,
        requeue_running=args.requeue_running,
    )
    return run_worker(open_studio(args.studio), options)
