"""The piece store: each piece is a row and a folder `pieces/<slug>/` (its image, sidecar, loss trace and plot).

A piece's files are written into a temporary folder and renamed into place before its row commits, so a reader never
sees half a piece; a writer killed between the rename and the commit leaves a folder with no row, which `check`
reports and `remove_orphans` sets aside. On PostgreSQL the files also go into the catalog as bytes in the row's
transaction (piece_files.py), and the folder is this machine's copy, fetched on first use (`ensure_local`) by every
other machine. Every write here moves the gallery's revision: the gallery shows pieces.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from curation.catalog import piece_files
from curation.catalog.database import Connection, Database
from curation.catalog.records import (
    CatalogError,
    Piece,
    check_piece_status,
    checked_reflection,
    checked_title,
    duration,
    now_iso,
    slugify,
    to_json,
)
from curation.catalog.themes import SqlThemes
from generator.common.files import move_dir, sha256_file

log = logging.getLogger(__name__)

PieceFiles = Mapping[str, str | os.PathLike[str] | bytes]  # name inside the piece's folder -> source path or bytes


class PieceStore(Protocol):
    """What the worker, the curators, the pages, the exports and the gallery need from the pieces (SQLite here;
    PostgreSQL with the same folders can follow)."""

    def add(self, files: PieceFiles, *, prompt: str, theme: str | None = None, seed: int | None = None,
            settings: Mapping[str, Any] | None = None, title: str = "", status: str = "generated",
            job_id: int | None = None, image_name: str = "image.png") -> Piece: ...

    def get(self, piece_id: int) -> Piece | None: ...

    def get_by_slug(self, slug: str) -> Piece | None: ...

    def find(self, status: str | Sequence[str] | None = None, *, theme: str | None = None, limit: int | None = None,
             offset: int = 0, newest_first: bool = False) -> list[Piece]: ...

    def count(self, status: str | Sequence[str] | None = None) -> int: ...

    def set_status(self, piece_id: int, status: str) -> None: ...

    def set_title(self, piece_id: int, title: str) -> None: ...

    def set_reflection(self, piece_id: int, text: str) -> None: ...

    def remove_orphans(self, older_than_s: float = 3600.0) -> list[Path]: ...

    def ensure_local(self, relative: str) -> None: ...

    def check(self) -> list[str]: ...


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG header, or (0, 0) for anything else (no Pillow needed)."""
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
        return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    return 0, 0


def _fill_folder(folder: Path, files: PieceFiles, image_name: str) -> None:
    """Copy or write `files` into `folder`; the image is fsynced (its checksum goes into the row)."""
    for name, src in files.items():
        if "/" in name or "\\" in name or name.startswith("."):
            raise CatalogError(f"piece file name {name!r} must be a plain file name")
        dest = folder / name
        if isinstance(src, bytes):
            dest.write_bytes(src)
        else:
            shutil.copyfile(src, dest)
    with open(folder / image_name, "rb") as f:
        os.fsync(f.fileno())


class SqlPieceStore:
    """Pieces in the catalog's `pieces` table, their files under `root/pieces/`."""

    def __init__(self, db: Database, themes: SqlThemes, root: Path) -> None:
        self._db = db
        self._themes = themes
        self.root = root
        self.files_in_db = db.kind == "postgresql"  # shared by machines: the bytes travel with the row

    @property
    def pieces_dir(self) -> Path:
        return self.root / "pieces"

    def add(self, files: PieceFiles, *, prompt: str, theme: str | None = None, seed: int | None = None,
            settings: Mapping[str, Any] | None = None, title: str = "", status: str = "generated",
            job_id: int | None = None, image_name: str = "image.png") -> Piece:
        """Add a piece atomically. `files` maps names inside the piece's folder to source paths or bytes and must
        hold `image_name`. The folder is assembled under a temporary name and renamed into `pieces/<slug>/` before
        the row commits; if anything fails, neither the folder nor the row is left behind.
        """
        if image_name not in files:
            raise CatalogError(f"add_piece needs the image file {image_name!r} among {sorted(files)}")
        check_piece_status(status)
        self._themes.require(theme)
        self.pieces_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.pieces_dir / f".tmp-{uuid.uuid4().hex}"
        tmp.mkdir()
        try:
            _fill_folder(tmp, files, image_name)
            digest = sha256_file(tmp / image_name)
            width, height = png_size(tmp / image_name)
            base = slugify(title or theme or prompt.split(":")[0], 24)
            with self._db.transaction(visible=True) as db:
                slug = self._free_slug(db, base, digest)
                piece_id = int(db.execute(
                    """INSERT INTO pieces (slug, file, sha256, theme, prompt, seed, settings, status, title,
                         width, height, job_id, created, updated)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id""",
                    (slug, f"pieces/{slug}/{image_name}", digest, theme, prompt, seed,
                     to_json(dict(settings or {})), status, title, width, height, job_id, now_iso(), now_iso()),
                ).fetchone()[0])
                if self.files_in_db:
                    piece_files.store(db, piece_id, tmp)
                dest = self.pieces_dir / slug
                move_dir(tmp, dest)
                # why here: the folder is in place before the row commits; a rollback (here or in a transaction
                # this one joined, e.g. the job's finish) takes it away again
                self._db.on_rollback(lambda: shutil.rmtree(dest, ignore_errors=True))
                piece = self.get(piece_id)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        assert piece is not None
        return piece

    def _free_slug(self, db: Connection, base: str, digest: str) -> str:
        """`base-` and the first 6 hex of the image's sha256, longer while a row or a folder has it already."""
        n = 6
        slug = f"{base}-{digest[:n]}"
        taken = "SELECT 1 FROM pieces WHERE slug = ?"
        while db.execute(taken, (slug,)).fetchone() or (self.pieces_dir / slug).exists():
            n += 1
            slug = f"{base}-{digest[:n]}" if n <= 64 else f"{base}-{uuid.uuid4().hex[:8]}"
        return slug

    def _scores_for(self, piece_ids: Sequence[int]) -> dict[int, dict[str, float]]:
        out: dict[int, dict[str, float]] = {i: {} for i in piece_ids}
        if not piece_ids:
            return out
        marks = ",".join("?" * len(piece_ids))
        rows = self._db.execute(
            f"""SELECT piece_id, curator, value FROM scores WHERE id IN (
                  SELECT MAX(id) FROM scores WHERE piece_id IN ({marks}) GROUP BY piece_id, curator)""",
            piece_ids)
        for r in rows:
            out[r["piece_id"]][r["curator"]] = r["value"]
        return out

    def _select(self, where: str, params: Sequence[Any]) -> list[Piece]:
        rows = self._db.execute(f"SELECT * FROM pieces {where}", params).fetchall()
        scores = self._scores_for([r["id"] for r in rows])
        return [Piece.from_row(r, scores[r["id"]]) for r in rows]

    def get(self, piece_id: int) -> Piece | None:
        found = self._select("WHERE id = ?", (piece_id,))
        return found[0] if found else None

    def get_by_slug(self, slug: str) -> Piece | None:
        found = self._select("WHERE slug = ?", (slug,))
        return found[0] if found else None

    def find(self, status: str | Sequence[str] | None = None, *, theme: str | None = None, limit: int | None = None,
             offset: int = 0, newest_first: bool = False) -> list[Piece]:
        """Pieces filtered by status (one or several) and theme, oldest first unless `newest_first`."""
        clauses, params = [], []
        if status is not None:
            statuses = [status] if isinstance(status, str) else list(status)
            for s in statuses:
                check_piece_status(s)
            clauses.append(f"status IN ({','.join('?' * len(statuses))})")
            params += statuses
        if theme is not None:
            clauses.append("theme = ?")
            params.append(theme)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        where += f" ORDER BY id {'DESC' if newest_first else 'ASC'}"
        if limit is not None:
            where += " LIMIT ? OFFSET ?"
            params += [int(limit), int(offset)]
        return self._select(where, params)

    def count(self, status: str | Sequence[str] | None = None) -> int:
        if status is None:
            return int(self._db.execute("SELECT COUNT(*) FROM pieces").fetchone()[0])
        statuses = [status] if isinstance(status, str) else list(status)
        return int(self._db.execute(
            f"SELECT COUNT(*) FROM pieces WHERE status IN ({','.join('?' * len(statuses))})", statuses).fetchone()[0])

    def set_status(self, piece_id: int, status: str) -> None:
        check_piece_status(status)
        self._update(piece_id, "status", status)

    def set_title(self, piece_id: int, title: str) -> None:
        """Name a piece (pages, posters, gallery); an empty title falls back to its theme's title."""
        self._update(piece_id, "title", checked_title(title))

    def set_reflection(self, piece_id: int, text: str) -> None:
        """The artist's reflection on one piece, shown instead of its theme's (page, API, gallery, post); an
        empty text goes back to the theme's. Whitespace is tidied, paragraph breaks (blank lines) are kept."""
        self._update(piece_id, "reflection", checked_reflection(text))

    def _update(self, piece_id: int, column: str, value: str) -> None:
        """Write one checked column of a piece in its own transaction (so the revision moves)."""
        assert column in ("status", "title", "reflection")  # a column name, never user input
        with self._db.transaction(visible=True) as db:
            cur = db.execute(f"UPDATE pieces SET {column}=?, updated=? WHERE id=?", (value, now_iso(), piece_id))
            if cur.rowcount == 0:
                raise CatalogError(f"no piece with id {piece_id}")

    def _rowless_folders(self) -> list[Path]:
        """Piece folders with no catalog row: left by a writer killed between its rename and its commit."""
        if not self.pieces_dir.is_dir():
            return []
        slugs = {r[0] for r in self._db.execute("SELECT slug FROM pieces")}
        return sorted(p for p in self.pieces_dir.iterdir()
                      if p.is_dir() and not p.name.startswith(".") and p.name not in slugs)

    def remove_orphans(self, older_than_s: float = 3600.0) -> list[Path]:
        """Tidy what crashed writers left (older than `older_than_s`, so no live writer is touched): temporary
        folders are deleted; finished piece folders that never got their row are moved, not deleted, into
        `pieces/.orphaned/` (their jobs were requeued; the images are kept for a person to look at).
        Returns the paths removed or moved.
        """
        touched: list[Path] = []
        if not self.pieces_dir.is_dir():
            return touched
        cutoff = time.time() - older_than_s
        for p in self.pieces_dir.glob(".tmp-*"):
            if p.stat().st_mtime < cutoff:
                shutil.rmtree(p, ignore_errors=True)
                touched.append(p)
        for p in self._rowless_folders():
            if p.stat().st_mtime < cutoff:
                dest = self.pieces_dir / ".orphaned" / p.name
                dest.parent.mkdir(exist_ok=True)
                if dest.exists():  # the same piece was orphaned before: identical content-named folder
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    move_dir(p, dest)
                log.warning("piece folder %s had no catalog row; moved to %s", p.name, dest)
                touched.append(p)
        return touched

    def ensure_local(self, relative: str) -> None:
        """Make sure this machine has the piece file `relative` (`pieces/<slug>/<name>`): on a shared catalog a
        missing one is fetched from it; on SQLite the folder is the store and nothing happens."""
        if self.files_in_db and not (self.root / relative).is_file():
            piece_files.fetch(self._db, self.root, relative)

    def check(self) -> list[str]:
        """Pieces whose file is missing or whose checksum differs (on a shared catalog: its stored bytes, and this
        machine's copy where it has one), piece folders that have no catalog row, and the temporary folders of
        writers killed mid-piece (with their age)."""
        problems = piece_files.check(self._db) if self.files_in_db else []
        for piece in self.find():
            path = self.root / piece.file
            if not path.is_file():
                if not self.files_in_db:  # on a shared catalog a copy is made when it is first needed
                    problems.append(f"piece {piece.slug}: file {piece.file} is missing")
            elif sha256_file(path) != piece.sha256:
                problems.append(f"piece {piece.slug}: file {piece.file} does not match its sha256"
                                + ("; delete this machine's copy to fetch it again" if self.files_in_db else ""))
        for folder in self._rowless_folders():
            problems.append(f"folder pieces/{folder.name} has no catalog row (a writer was killed mid-piece); "
                            "`dstrtd studio` moves such folders to pieces/.orphaned/ after an hour")
        problems += temp_folders(self.root, "pieces", ".tmp-*", "a piece being written")
        return problems


def temp_folders(root: Path, folder: str, pattern: str, what: str) -> list[str]:
    """One line per temporary folder in `root/folder` matching `pattern`, with its age: left by a process killed
    while it wrote (or one writing now, when it is young)."""
    parent = root / folder
    now = time.time()
    out = []
    for p in sorted(parent.glob(pattern)) if parent.is_dir() else []:
        try:
            age = now - p.stat().st_mtime
        except OSError:  # removed meanwhile by its writer
            continue
        out.append(f"temporary folder {folder}/{p.name} ({what}), {duration(age)} old: left by a process killed "
                   f"mid-write, unless one is writing it now; `dstrtd studio` removes it after an hour")
    return out
