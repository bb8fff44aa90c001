"""`dstrtd catalog list|show|jobs|check|accept|feature|reject|title|reflection`: read a studio's catalog and record
the artist's own decisions, titles and reflections; `catalog jobs cancel|priority` manage the queue (no torch)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import textwrap
from collections.abc import Callable
from typing import Any

from curation.catalog import Catalog, Job, Piece, WorkerInfo, duration, tidy_reflection
from curation.catalog.database import redact
from curation.studio import Studio
from installation.commands._common import add_catalog_argument, add_studio_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = sub.add_parser("list", help="list pieces")
    add_studio_argument(p)
    p.add_argument("--status", action="append", default=None,
                   help="generated, accepted, rejected or featured (repeat for several)")
    p.add_argument("--theme", default=None)
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--json", action="store_true", help="one JSON array instead of a table")
    p = sub.add_parser("show", help="everything about one piece: settings, scores, decisions, files")
    add_studio_argument(p)
    p.add_argument("slug")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("jobs", help="list the studio's jobs and workers; cancel or reprioritise queued jobs")
    add_studio_argument(p)
    p.add_argument("--status", default=None, help="queued, running, done or failed")
    p.add_argument("--json", action="store_true")
    verbs = p.add_subparsers(dest="job_action", metavar="VERB")
    v = verbs.add_parser("cancel", help="take queued jobs out of the queue (kept, as failed: cancelled)")
    v.add_argument("ids", nargs="+", type=int, metavar="ID")
    v.add_argument("--reason", default="", help="why, kept in the job's error")
    v = verbs.add_parser("priority", help="move a queued job up (higher runs first) or down the queue")
    v.add_argument("id", type=int, metavar="ID")
    v.add_argument("priority", type=int, metavar="N")
    for v in verbs.choices.values():  # --studio after the verb too; SUPPRESS keeps one given before it
        v.add_argument("--studio", default=argparse.SUPPRESS, help="studio folder (as before the verb)")
        add_catalog_argument(v, default=argparse.SUPPRESS)
    p = sub.add_parser("check", help="check the catalog against the files on disk")
    add_studio_argument(p)
    p = sub.add_parser("migrate", help="copy the studio's SQLite catalog, with its pieces' files, onto an empty "
                                       "PostgreSQL database that several machines share (the studio is left as it is)")
    p.add_argument("--studio", default=None, help="studio folder (default: $DSTRTD_STUDIO, else the current folder)")
    p.add_argument("--to", required=True, metavar="URL", help="the new catalog, e.g. postgresql://dstrtd@host/dstrtd")
    for action in DECISIONS:
        p = sub.add_parser(action, help=f"{action} pieces by hand (recorded with your reason; the curators leave "
                                        "decided pieces alone)")
        add_studio_argument(p)
        p.add_argument("slugs", nargs="+", metavar="SLUG")
        p.add_argument("--reason", default="", help="why, in your words (stored with the decision)")
        p.add_argument("--by", default=None, help="who decides (default: your user name)")
    p = sub.add_parser("title", help="name a piece (its page, posters, gallery); \"\" goes back to the theme's title")
    add_studio_argument(p)
    p.add_argument("slug")
    p.add_argument("title")
    p = sub.add_parser("reflection", help="your words on one piece, read instead of its theme's reflection (its page, "
                                          "the API, the gallery); \"\" goes back to the theme's")
    add_studio_argument(p)
    p.add_argument("slug")
    p.add_argument("text", nargs="?", default=None, help="the reflection; a blank line starts a new paragraph")
    p.add_argument("--file", default=None, metavar="PATH", help="read the reflection from a UTF-8 text file instead")


# why: the verbs people type; the catalog stores the status each one leads to
DECISIONS = {"accept": "accepted", "feature": "featured", "reject": "rejected"}


def _fmt(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table(rows: list[list[str]], header: list[str]) -> str:
    """Plain-text columns, the last one left unpadded."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for r in [header, *rows]:
        cells = [str(c).ljust(w) for c, w in zip(r[:-1], widths[:-1], strict=True)] + [str(r[-1])]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def job_progress(job: Job) -> str:
    """'step 120/300 loss 0.8123' for a running job that recorded progress, else '-'."""
    if job.status != "running" or job.steps <= 0:
        return "-"
    return f"step {job.step}/{job.steps}" + (f" loss {job.loss:.4f}" if job.loss is not None else "")


def piece_dict(piece: Piece) -> dict[str, Any]:
    return {
        "id": piece.id, "slug": piece.slug, "status": piece.status, "theme": piece.theme, "title": piece.title,
        "prompt": piece.prompt, "seed": piece.seed, "size": [piece.width, piece.height], "file": piece.file,
        "sha256": piece.sha256, "created": piece.created, "updated": piece.updated, "job_id": piece.job_id,
        "scores": piece.scores, "reflection": piece.reflection,
    }


def run(args: argparse.Namespace) -> int:
    from curation.studio import open_studio

    if args.action == "migrate":
        return _migrate(args)
    studio = open_studio(args.studio, args.catalog)
    action = _decide if args.action in DECISIONS else ACTIONS[args.action]
    with studio.catalog() as cat:
        return action(cat, studio, args)


def _list(cat: Catalog, studio: Studio, args: argparse.Namespace) -> int:
    pieces = cat.list_pieces(args.status, theme=args.theme, limit=args.limit)
    clusters = cat.clusters()
    if args.json:
        print(json.dumps([piece_dict(p) | {"cluster": clusters.get(p.id)} for p in pieces], indent=2))
        return 0
    rows = [[p.slug, p.status, p.theme or "-", _fmt(p.scores.get("aesthetic"), 2),
             _fmt(p.scores.get("alignment"), 3), str(clusters.get(p.id, "-")), p.created] for p in pieces]
    print(table(rows, ["slug", "status", "theme", "aesthetic", "alignment", "cluster", "created"]))
    print(f"{len(pieces)} piece(s) in {studio.root}")
    return 0


def _show(cat: Catalog, studio: Studio, args: argparse.Namespace) -> int:
    piece = _piece(cat, studio, args.slug)
    folder = cat.root / piece.folder
    theme = cat.get_theme(piece.theme) if piece.theme else None
    info = piece_dict(piece) | {
        "theme_reflection": theme.reflection if theme is not None else "",
        "folder": str(folder),
        "files": sorted(os.listdir(folder)) if folder.is_dir() else [],
        "cluster": cat.clusters().get(piece.id),
        "settings": piece.settings,
        "score_history": [{"curator": s.curator, "version": s.version, "value": s.value,
                           "details": s.details, "created": s.created} for s in cat.scores(piece.id)],
        "decisions": [{"decision": d.decision, "reasons": list(d.reasons), "created": d.created}
                      for d in cat.decisions(piece.id)],
        "exports": cat.exports(piece.id),
    }
    if args.json:
        print(json.dumps(info, indent=2, default=str))
    else:
        _print_piece(info)
    return 0


def _jobs(cat: Catalog, studio: Studio, args: argparse.Namespace) -> int:
    if args.job_action == "cancel":
        return _cancel(cat, args)
    if args.job_action == "priority":
        cat.set_job_priority(args.id, args.priority)
        print(f"job {args.id}: priority {args.priority}; {_queue_place(cat, args.id)}")
        return 0
    jobs = cat.list_jobs(args.status)
    workers = cat.list_workers()
    if args.json:
        print(json.dumps([dataclasses.asdict(j) for j in jobs], indent=2, default=str))
        return 0
    rows = [[str(j.id), j.status, str(j.attempts), j.theme or "-", j.worker or "-", job_progress(j),
             j.prompt if len(j.prompt) <= 48 else j.prompt[:45] + "...", j.error] for j in jobs]
    print(table(rows, ["id", "status", "attempts", "theme", "worker", "progress", "prompt", "error"]))
    if workers:
        print()
        rows = [[w.name, w.host or "-", w.device or "-", str(w.job_id) if w.job_id is not None else "-",
                 f"{duration(w.seen_s)} ago", worker_state(w)] for w in workers]
        print(table(rows, ["worker", "host", "device", "job", "heartbeat", "state"]))
    return 0


def worker_state(worker: WorkerInfo) -> str:
    """'running', 'stopped <when>', or 'silent' when its heartbeat stopped without a clean stop (it died)."""
    if worker.state == "stopped":
        return f"stopped {worker.stopped}"
    return "running" if worker.state == "running" else "silent (no heartbeat: stopped without a word, or cut off)"


def _cancel(cat: Catalog, args: argparse.Namespace) -> int:
    """Cancel every ID, all checked first: a wrong id or a running job cancels nothing."""
    from installation.errors import CommandError

    for job_id in args.ids:
        job = cat.get_job(job_id)
        if job is None:
            raise CommandError(f"no job with id {job_id}; see `dstrtd catalog jobs`; nothing was cancelled")
        if job.status != "queued":
            raise CommandError(f"job {job_id} is {job.status}; only a queued job can be cancelled; nothing was "
                               "cancelled")
    for job_id in args.ids:
        cat.cancel_job(job_id, args.reason)
        print(f"job {job_id}: cancelled" + (f" ({args.reason.strip()})" if args.reason.strip() else ""))
    return 0


def _migrate(args: argparse.Namespace) -> int:
    """Copy the studio's own SQLite catalog to a server and show the comparison of every table."""
    from curation.catalog.transfer import migrate
    from curation.studio import catalog_url, open_studio

    # the source is this folder's own file, whatever $DSTRTD_CATALOG_URL says
    studio = dataclasses.replace(open_studio(args.studio), catalog_url=None)
    if not studio.catalog_path.is_file():
        from installation.errors import CommandError

        raise CommandError(f"no SQLite catalog at {studio.catalog_path} to copy")
    url = catalog_url(args.to)
    assert url is not None
    compared = migrate(studio.catalog_path, studio.root, url)
    rows = [[c.table, str(c.rows), str(c.copied), c.checksum[:12], "same" if c.same else "DIFFERENT"]
            for c in compared]
    print(table(rows, ["table", "studio", "copied", "sha256", "check"]))
    print(f"copied {studio.catalog_path} to {redact(url)}; the studio is left as it was. Use the new catalog with "
          f"--catalog URL or DSTRTD_CATALOG_URL=URL (on every machine: `dstrtd init DIR --catalog URL`)")
    return 0


def _queue_place(cat: Catalog, job_id: int) -> str:
    queued = [j.id for j in sorted(cat.list_jobs("queued"), key=lambda j: (-j.priority, j.id))]
    return f"runs {queued.index(job_id) + 1} of {len(queued)} in the queue" if job_id in queued else "not queued"


def _check(cat: Catalog, studio: Studio, args: argparse.Namespace) -> int:
    problems = cat.check() + studio.leftovers()
    for p in problems:
        print(p)
    print(f"{len(problems)} problem(s) in {studio.root}")
    return 1 if problems else 0


def _title(cat: Catalog, studio: Studio, args: argparse.Namespace) -> int:
    piece = _piece(cat, studio, args.slug)
    cat.set_title(piece.id, args.title)
    title = " ".join(args.title.split())
    print(f"{piece.slug}: title {title!r}" if title else f"{piece.slug}: title cleared (the theme's is shown)")
    return 0


def _piece(cat: Catalog, studio: Studio, slug: str) -> Piece:
    from installation.errors import CommandError

    piece = cat.get_piece_by_slug(slug)
    if piece is None:
        raise CommandError(f"no piece {slug!r} in {studio.root}; see `dstrtd catalog list`")
    return piece


def _reflect(cat: Catalog, studio: Studio, args: argparse.Namespace) -> int:
    """Set (or clear, with "") one piece's own reflection, from the command line or a file."""
    from installation.errors import CommandError

    if (args.text is None) == (args.file is None):
        raise CommandError("give the reflection as TEXT or with --file PATH (one of them; \"\" clears it)")
    piece = _piece(cat, studio, args.slug)
    text = args.text
    if args.file is not None:
        try:
            with open(args.file, encoding="utf-8") as f:
                text = f.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"cannot read the reflection from {args.file}: {exc}") from None
    cat.set_reflection(piece.id, text)
    tidy = tidy_reflection(text)
    if tidy:
        paragraphs = tidy.count("\n\n") + 1
        print(f"{piece.slug}: reflection set ({len(tidy)} characters, {paragraphs} paragraph(s))")
    else:
        print(f"{piece.slug}: reflection cleared (the theme's is shown)")
    return 0


def _decide(cat: Catalog, studio: Studio, args: argparse.Namespace) -> int:
    """Record the artist's decision on each slug; all slugs are checked before anything is written."""
    import getpass

    pieces = [_piece(cat, studio, slug) for slug in args.slugs]
    try:
        who = args.by or getpass.getuser()
    except (KeyError, OSError):  # why: containers may run as a uid with no name
        who = "the artist"
    reason = f"by {who} via cli" + (f": {args.reason.strip()}" if args.reason.strip() else "")
    status = DECISIONS[args.action]
    for piece in pieces:
        cat.decide(piece.id, status, [reason])
        print(f"{piece.slug}: {piece.status} -> {status}")
    return 0


ACTIONS: dict[str, Callable[[Catalog, Studio, argparse.Namespace], int]] = {
    "list": _list, "show": _show, "jobs": _jobs, "check": _check, "title": _title, "reflection": _reflect,
}


def _print_piece(info: dict[str, Any]) -> None:
    print(f"{info['slug']}  [{info['status']}]  theme {info['theme'] or '-'}  cluster {info['cluster']}")
    if info["title"]:
        print(f"  title    {info['title']}")
    own = info["reflection"]
    if own or info["theme_reflection"]:
        label = "reflection" if own else "reflection (the theme's)"
        print(f"  {label}")
        for i, paragraph in enumerate((own or info["theme_reflection"]).split("\n\n")):
            if i:
                print()
            for line in textwrap.wrap(" ".join(paragraph.split()), 96):
                print(f"    {line}")
    print(f"  prompt   {info['prompt']}")
    print(f"  seed     {info['seed']}   size {info['size'][0]}x{info['size'][1]}   job {info['job_id']}")
    print(f"  folder   {info['folder']}")
    print(f"  files    {', '.join(info['files'])}")
    print(f"  sha256   {info['sha256']}")
    print("  scores")
    for s in info["score_history"]:
        print(f"    {s['curator']:<10} {s['value']:.4f}  ({s['version']}, {s['created']})")
    print("  decisions")
    for d in info["decisions"]:
        print(f"    {d['created']}  {d['decision']}")
        for r in d["reasons"]:
            print(f"      - {r}")
    if info["exports"]:
        print("  exports")
        for e in info["exports"]:
            print(f"    {e['kind']:<10} {e['path']} {e['external_id']}")
    print("  settings")
    for line in json.dumps(info["settings"], indent=2, sort_keys=True, default=str).splitlines():
        print(f"    {line}")
