"""`dstrtd weights list|fetch NAME...|verify [NAME...]|convert PATH --trust`: the model weights on this machine."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub.add_parser("list", help="the registry: names, sizes, licences, and which files are here")
    fetch = sub.add_parser("fetch", help="download weights into the cache (resumes, checks sha256)")
    fetch.add_argument("names", nargs="+", metavar="NAME", help="registry names (see `dstrtd weights list`)")
    verify = sub.add_parser("verify", help="check cached files against their published sha256")
    verify.add_argument("names", nargs="*", metavar="NAME", help="registry names (default: all)")
    convert = sub.add_parser("convert", help="read a checkpoint you trust (a pickle, or a TorchScript CLIP archive) "
                                             "and cache its weights as safetensors")
    convert.add_argument("path", help="a .ckpt/.pt file that the safe loader refused (VQGAN or CLIP)")
    convert.add_argument("--trust", action="store_true", help="confirm that you trust the file (it may run code)")


def run(args: argparse.Namespace) -> int:
    from generator import weights

    if args.action == "list":
        print(f"cache: {weights.weights_dir()}")
        for entry in weights.list_entries():
            ckpt = entry.file()
            here = (weights.weights_dir() / ckpt.filename).is_file()
            size = f"~{ckpt.size_mb:g} MB" if ckpt.size_mb else "?"
            sha = "sha256 known" if ckpt.sha256 else "no sha256"
            print(f"{'*' if here else ' '} {entry.name:26} {entry.kind:6} {size:>10}  {sha:12}  {entry.licence}")
        print("* = in the cache. Place a file by hand at <cache>/<file name> or pass its path where a name is asked.")
        return 0
    if args.action == "fetch":
        from tqdm import tqdm

        for name in args.names:
            entry = weights.get_entry(name)
            for wf in entry.files:
                bar = None

                def progress(done: int, total: int | None, filename: str) -> None:
                    nonlocal bar
                    if bar is None:
                        bar = tqdm(total=total, unit="B", unit_scale=True, desc=filename, file=sys.stderr)
                    bar.update(done - bar.n)

                try:
                    path = weights.fetch(name, role=wf.role, progress=progress)
                finally:
                    if bar is not None:
                        bar.close()
                print(f"{name} ({wf.role}): {path}")
        return 0
    if args.action == "verify":
        bad = 0
        for result in weights.verify(args.names or None):
            bad += result.status == "MISMATCH"
            where = result.path or "-"
            print(f"{result.status:32} {result.name:32} {where}")
            if result.status == "MISMATCH":
                print(f"{'':32} expected {result.expected}, found {result.sha256}")
            elif result.path is not None and result.expected is None:
                print(f"{'':32} sha256 {result.sha256}")
        return 1 if bad else 0
    if args.action == "convert":
        from generator.checkpoints import convert_trusted
        from generator.errors import GeneratorError

        if not args.trust:
            raise GeneratorError("convert unpickles the file without restrictions, which can run code in it; add "
                                 "--trust if you trust where it came from")
        dest = convert_trusted(args.path)
        print(f"converted {args.path} to {dest}; name {args.path} as before (--vqgan NAME:PATH, --perceptors "
              "MODEL:PATH, --tower MODEL:PATH): it now loads from this copy, unpickling nothing")
        return 0
    return 2
