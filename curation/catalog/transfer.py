"""`dstrtd catalog migrate --to postgresql://...`: a SQLite studio's catalog copied onto a PostgreSQL server, whole.

The studio is left exactly as it was: its catalog is read from a snapshot (SQLite's online backup, consistent even
while a worker writes), migrated to the current schema in a temporary folder. Everything is copied in one transaction
on the server, ids kept (so piece pages, QR codes and job numbers stay the same), each piece's files read from its
folder into the catalog (pieces are refused whole if one's image is missing or differs from its checksum). Before
the commit, every table is read back and compared with the snapshot, row count and checksum; any difference rolls
the whole copy back. The server's database must be empty (made by `createdb`, or holding only the schema).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from curation.catalog.database import Connection, Database, SqliteDatabase, redact
from curation.catalog.piece_files import store as store_files
from curation.catalog.postgres import PostgresDatabase
from curation.catalog.records import CatalogError
from generator.common.files import sha256_file

log = logging.getLogger(__name__)

# Every table, in the order foreign keys allow, with the key that orders its rows for the checksums.
TABLES: tuple[tuple[str, str], ...] = (
    ("themes", "name"), ("jobs", "id"), ("pieces", "id"), ("scores", "id"), ("decisions", "id"),
    ("clusters", "run, piece_id"), ("exports", "id"), ("engagement", "id"), ("commands", "id"),
    ("job_duplicate_pieces", "piece_id"), ("workers", "name"), ("revision", "id"),
)
IDENTITY = ("jobs", "pieces", "scores", "decisions", "exports", "engagement", "commands")


@dataclass(frozen=True)
class Compared:
    table: str
    rows: int  # in the studio
    checksum: str
    copied: int  # read back from the server before the commit
    copied_checksum: str

    @property
    def same(self) -> bool:
        return self.rows == self.copied and self.checksum == self.copied_checksum


def _canonical(value: Any) -> Any:
    """One form for a value on either backend (SQLite may keep 0 for 0.0; bytes are compared by hash)."""
    if isinstance(value, bytes | memoryview):
        return "sha256:" + hashlib.sha256(bytes(value)).hexdigest()
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def table_digest(db: Connection | Database, table: str, key: str) -> tuple[int, str]:
    """(row count, sha256 of the rows in key order as canonical JSON)."""
    digest = hashlib.sha256()
    n = 0
    for row in db.execute(f"SELECT * FROM {table} ORDER BY {key}"):
        data = {k: _canonical(row[k]) for k in sorted(dict(row))}
        digest.update(json.dumps(data, sort_keys=True, default=str).encode() + b"\n")
        n += 1
    return n, digest.hexdigest()


def files_digest(db: Connection | Database) -> tuple[int, str]:
    """(file count, sha256 over each piece file's name and checksum) of piece_files."""
    digest = hashlib.sha256()
    n = 0
    for row in db.execute("SELECT p.slug, f.name, f.sha256, f.size FROM piece_files f "
                          "JOIN pieces p ON p.id = f.piece_id ORDER BY p.slug, f.name"):
        digest.update(f"{row['slug']}/{row['name']} {row['sha256']} {row['size']}\n".encode())
        n += 1
    return n, digest.hexdigest()


def _snapshot(source: Path, into: Path) -> SqliteDatabase:
    """A consistent copy of the catalog file `source` at `into`, migrated to the current schema (the original is
    only read)."""
    if not source.is_file():
        raise CatalogError(f"no catalog at {source}")
    with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as src, sqlite3.connect(into) as dst:
        src.backup(dst)
    return SqliteDatabase(into)


def migrate(source: str | os.PathLike[str], root: str | os.PathLike[str], url: str) -> list[Compared]:
    """Copy the SQLite catalog `source` (its pieces' files under `root`) into the empty PostgreSQL catalog at `url`.
    Returns the comparison of every table (and of the files, as the table "piece files"); all are the same, or
    CatalogError was raised and nothing was written."""
    root = Path(root)
    with tempfile.TemporaryDirectory(prefix="dstrtd-migrate-") as tmp:
        snap = _snapshot(Path(source), Path(tmp) / "catalog.sqlite")
        target = PostgresDatabase(url)
        try:
            busy = [t for t, _ in TABLES if t != "revision"
                    and target.execute(f"SELECT 1 FROM {t} LIMIT 1").fetchone() is not None]
            if busy:
                raise CatalogError(f"the catalog at {redact(url)} is not empty ({', '.join(busy)} hold rows); "
                                   "migrate into a new, empty database (createdb)")
            missing = _check_files(snap, root)
            if missing:
                raise CatalogError("these pieces' files cannot be copied, so nothing was: " + "; ".join(missing[:10])
                                   + (f" (and {len(missing) - 10} more)" if len(missing) > 10 else "")
                                   + "; see `dstrtd catalog check`")
            with target.transaction(visible=False) as db:
                for table, _key in TABLES:
                    _copy(snap, db, table)
                for table in IDENTITY:
                    db.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                               f"COALESCE((SELECT MAX(id) FROM {table}), 1), (SELECT COUNT(*) > 0 FROM {table}))")
                for row in snap.execute("SELECT id, slug FROM pieces ORDER BY id"):
                    store_files(db, row["id"], root / "pieces" / row["slug"])
                compared = [Compared(t, *table_digest(snap, t, k), *table_digest(db, t, k)) for t, k in TABLES]
                compared.append(Compared("piece files", *_folder_digest(snap, root), *files_digest(db)))
                different = [c.table for c in compared if not c.same]
                if different:  # rolls the copy back
                    raise CatalogError(f"the copy differs from the studio in {', '.join(different)}; nothing was "
                                       "written")
        finally:
            target.close()
            snap.close()
    log.info("catalog %s copied to %s", source, redact(url))
    return compared


def _copy(snap: SqliteDatabase, db: Connection, table: str) -> None:
    rows = [dict(r) for r in snap.execute(f"SELECT * FROM {table}")]
    if table == "revision":
        db.execute("UPDATE revision SET value = ? WHERE id = 1", (rows[0]["value"],))
        return
    if not rows:
        return
    columns = list(rows[0])
    db.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                   [tuple(r[c] for c in columns) for r in rows])


def _check_files(snap: SqliteDatabase, root: Path) -> list[str]:
    problems = []
    for row in snap.execute("SELECT slug, file, sha256 FROM pieces ORDER BY id"):
        image = root / row["file"]
        if not image.is_file():
            problems.append(f"piece {row['slug']}: {row['file']} is missing")
        elif sha256_file(image) != row["sha256"]:
            problems.append(f"piece {row['slug']}: {row['file']} does not match its sha256")
    return problems


def _folder_digest(snap: SqliteDatabase, root: Path) -> tuple[int, str]:
    """What files_digest gives for the studio's folders."""
    digest = hashlib.sha256()
    n = 0
    for slug in sorted(r["slug"] for r in snap.execute("SELECT slug FROM pieces")):
        for path in sorted(p for p in (root / "pieces" / slug).iterdir() if p.is_file()):
            digest.update(f"{slug}/{path.name} {sha256_file(path)} {path.stat().st_size}\n".encode())
            n += 1
    return n, digest.hexdigest()
