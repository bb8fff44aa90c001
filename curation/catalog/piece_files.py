"""A piece's files as bytes in the catalog (table `piece_files`), for catalogs that machines share (PostgreSQL).

Why in the database, not a shared object store: the bytes commit in the same transaction as the piece's row, so a
worker that dies mid-upload leaves neither (the server rolls the transaction back), and no machine ever sees a row
without its file or keeps a file without its row; there is no second service to run, secure and back up, and a
backup of the database is a backup of the studio. The cost is size: a piece is a few MB (a 1024 px PNG, its sidecar,
loss trace and plot), so a weekend of hundreds of pieces is a few GB, well within what PostgreSQL stores (TOAST,
compressed where it helps). Each machine that shows or exports a piece keeps a local copy under its studio folder,
`pieces/<slug>/<name>`, written atomically on first use and checked against the stored sha256, so the gallery and
the web read local files as they do on SQLite and fetch each file once.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from curation.catalog.database import Connection, Database
from generator.common.files import write_bytes_atomic

log = logging.getLogger(__name__)


def store(db: Connection, piece_id: int, folder: Path) -> None:
    """Insert every file of `folder` (a piece's, complete) for `piece_id`, inside the caller's transaction."""
    rows = []
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        data = path.read_bytes()
        rows.append((piece_id, path.name, hashlib.sha256(data).hexdigest(), len(data), data))
    db.executemany("INSERT INTO piece_files (piece_id, name, sha256, size, data) VALUES (?, ?, ?, ?, ?)", rows)


def fetch(db: Database, root: Path, relative: str) -> bool:
    """Make the local copy of `relative` (`pieces/<slug>/<name>`) under `root` from the catalog; False when the
    catalog holds no such file. A copy whose bytes do not match their sha256 is refused, never written."""
    parts = relative.split("/")
    if len(parts) != 3 or parts[0] != "pieces":
        return False
    row = db.execute("SELECT f.data, f.sha256 FROM piece_files f JOIN pieces p ON p.id = f.piece_id "
                     "WHERE p.slug = ? AND f.name = ?", (parts[1], parts[2])).fetchone()
    if row is None:
        return False
    data = bytes(row["data"])
    if hashlib.sha256(data).hexdigest() != row["sha256"]:
        log.error("the catalog's copy of %s does not match its sha256; not written (see `dstrtd catalog check`)",
                  relative)
        return False
    write_bytes_atomic(root / relative, data)
    log.debug("fetched %s (%d bytes) from the catalog", relative, len(data))
    return True


def check(db: Database) -> list[str]:
    """Pieces whose image the catalog lacks, and stored files whose bytes do not match their sha256 (computed by
    the server, so no bytes travel)."""
    problems = [f"piece {r['slug']}: the catalog holds no bytes for its image {r['file']}" for r in db.execute(
        "SELECT p.slug, p.file FROM pieces p WHERE NOT EXISTS (SELECT 1 FROM piece_files f WHERE f.piece_id = p.id "
        "AND 'pieces/' || p.slug || '/' || f.name = p.file)")]
    problems += [f"piece {r['slug']}: the catalog's {r['name']} does not match its sha256" for r in db.execute(
        "SELECT p.slug, f.name FROM piece_files f JOIN pieces p ON p.id = f.piece_id "
        "WHERE encode(sha256(f.data), 'hex') <> f.sha256 OR ('pieces/' || p.slug || '/' || f.name = p.file "
        "AND f.sha256 <> p.sha256) ORDER BY p.id, f.name")]
    return problems
