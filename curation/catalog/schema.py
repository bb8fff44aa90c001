"""The catalog's schema, one for both backends: migration N takes a catalog from schema version N-1 to N (SQLite:
`PRAGMA user_version`; PostgreSQL: the `schema_version` table).

Written in SQLite's words; `migration(n, "postgresql")` turns the column types into PostgreSQL's (64-bit integers and
identity keys, double precision, bytea, and text compared byte by byte as SQLite does). Append a migration to change
the schema; never edit one that has shipped, since catalogs out there ran it.
"""

from __future__ import annotations

import re
from typing import Literal

SCHEMA_VERSION = 5
Dialect = Literal["sqlite", "postgresql"]

MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE themes (
        name TEXT PRIMARY KEY,
        title TEXT NOT NULL DEFAULT '',
        prompts TEXT NOT NULL DEFAULT '[]',
        negative_prompts TEXT NOT NULL DEFAULT '[]',
        reflection TEXT NOT NULL DEFAULT '',
        facts TEXT NOT NULL DEFAULT '',
        hashtags TEXT NOT NULL DEFAULT '[]',
        updated TEXT NOT NULL
    );
    CREATE TABLE jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        prompt TEXT NOT NULL,
        theme TEXT REFERENCES themes(name) ON DELETE SET NULL,
        settings TEXT NOT NULL DEFAULT '{}',
        status TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
        priority INTEGER NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 0,
        error TEXT NOT NULL DEFAULT '',
        worker TEXT NOT NULL DEFAULT '',
        piece_id INTEGER,
        created TEXT NOT NULL,
        updated TEXT NOT NULL
    );
    CREATE INDEX jobs_status ON jobs(status, priority DESC, id);
    CREATE TABLE pieces (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        slug TEXT NOT NULL UNIQUE,
        file TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        theme TEXT REFERENCES themes(name) ON DELETE SET NULL,
        prompt TEXT NOT NULL DEFAULT '',
        seed INTEGER,
        settings TEXT NOT NULL DEFAULT '{}',
        status TEXT NOT NULL DEFAULT 'generated'
            CHECK (status IN ('generated', 'accepted', 'rejected', 'featured')),
        title TEXT NOT NULL DEFAULT '',
        width INTEGER NOT NULL DEFAULT 0,
        height INTEGER NOT NULL DEFAULT 0,
        job_id INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
        created TEXT NOT NULL,
        updated TEXT NOT NULL
    );
    CREATE INDEX pieces_status ON pieces(status);
    CREATE TABLE scores (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        piece_id INTEGER NOT NULL REFERENCES pieces(id) ON DELETE CASCADE,
        curator TEXT NOT NULL,
        version TEXT NOT NULL DEFAULT '',
        value REAL NOT NULL,
        details TEXT NOT NULL DEFAULT '{}',
        created TEXT NOT NULL
    );
    CREATE INDEX scores_piece ON scores(piece_id, curator);
    CREATE TABLE decisions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        piece_id INTEGER NOT NULL REFERENCES pieces(id) ON DELETE CASCADE,
        decision TEXT NOT NULL,
        reasons TEXT NOT NULL DEFAULT '[]',
        created TEXT NOT NULL
    );
    CREATE TABLE clusters (
        run TEXT NOT NULL,
        piece_id INTEGER NOT NULL REFERENCES pieces(id) ON DELETE CASCADE,
        label INTEGER NOT NULL,
        distance REAL NOT NULL DEFAULT 0,
        created TEXT NOT NULL,
        PRIMARY KEY (run, piece_id)
    );
    CREATE TABLE exports (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        piece_id INTEGER NOT NULL REFERENCES pieces(id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        path TEXT NOT NULL DEFAULT '',
        external_id TEXT NOT NULL DEFAULT '',
        details TEXT NOT NULL DEFAULT '{}',
        created TEXT NOT NULL
    );
    CREATE INDEX exports_external ON exports(kind, external_id);
    CREATE TABLE engagement (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        piece_id INTEGER NOT NULL REFERENCES pieces(id) ON DELETE CASCADE,
        platform TEXT NOT NULL,
        external_id TEXT NOT NULL,
        likes INTEGER NOT NULL DEFAULT 0,
        comments INTEGER NOT NULL DEFAULT 0,
        details TEXT NOT NULL DEFAULT '{}',
        fetched TEXT NOT NULL
    );
    CREATE INDEX engagement_piece ON engagement(piece_id, platform, fetched);
    """,
    2: """
    CREATE TABLE commands (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        target TEXT NOT NULL,
        command TEXT NOT NULL,
        args TEXT NOT NULL DEFAULT '{}',
        created TEXT NOT NULL,
        taken TEXT
    );
    CREATE INDEX commands_target ON commands(target, taken, id);
    CREATE TABLE revision (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL);
    INSERT INTO revision (id, value) VALUES (1, 0);
    """,
    3: """
    ALTER TABLE pieces ADD COLUMN reflection TEXT NOT NULL DEFAULT ''
    """,
    # JSON {"step", "steps", "loss", "updated"} of a job's current attempt, written by `SqlJobQueue.set_progress`
    4: """
    ALTER TABLE jobs ADD COLUMN progress TEXT NOT NULL DEFAULT '{}'
    """,
    # Leases and the attempts cap (jobs.py); a job owns at most one piece, and pieces that were second pieces of one
    # job (a worker killed between storing a piece and finishing its job, before schema 5) are listed in
    # job_duplicate_pieces, keeping the piece the job names (else the first), for `dstrtd catalog check`; the
    # workers that run jobs, with their heartbeat (workers.py); the files of each piece as bytes (pieces.py: on
    # PostgreSQL, so that every machine gets them with the row; SQLite keeps them in the folders and this table
    # empty). Jobs claimed before leases are expired at once.
    5: """
    ALTER TABLE jobs ADD COLUMN lease_until REAL;
    ALTER TABLE jobs ADD COLUMN lease_s REAL NOT NULL DEFAULT 0;
    UPDATE jobs SET lease_until = 0 WHERE status = 'running';
    CREATE INDEX jobs_lease ON jobs(status, lease_until);
    CREATE TABLE job_duplicate_pieces (
        piece_id INTEGER PRIMARY KEY REFERENCES pieces(id) ON DELETE CASCADE,
        job_id INTEGER NOT NULL
    );
    INSERT INTO job_duplicate_pieces (piece_id, job_id)
        SELECT p.id, p.job_id FROM pieces p
        WHERE p.job_id IS NOT NULL AND p.id <> COALESCE(
            (SELECT q.id FROM pieces q JOIN jobs j ON j.piece_id = q.id WHERE j.id = p.job_id AND q.job_id = p.job_id),
            (SELECT MIN(q.id) FROM pieces q WHERE q.job_id = p.job_id));
    UPDATE pieces SET job_id = NULL WHERE id IN (SELECT piece_id FROM job_duplicate_pieces);
    CREATE UNIQUE INDEX pieces_job ON pieces(job_id) WHERE job_id IS NOT NULL;
    CREATE TABLE workers (
        name TEXT PRIMARY KEY,
        host TEXT NOT NULL DEFAULT '',
        pid INTEGER NOT NULL DEFAULT 0,
        device TEXT NOT NULL DEFAULT '',
        capabilities TEXT NOT NULL DEFAULT '{}',
        job_id INTEGER,
        started TEXT NOT NULL,
        heartbeat REAL NOT NULL,
        stopped TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE piece_files (
        piece_id INTEGER NOT NULL REFERENCES pieces(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        size INTEGER NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (piece_id, name)
    )
    """,
}

_POSTGRES_TYPES = (
    (re.compile(r"\bINTEGER PRIMARY KEY AUTOINCREMENT\b"), "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
    (re.compile(r"\bINTEGER\b"), "BIGINT"),
    (re.compile(r"\bREAL\b"), "DOUBLE PRECISION"),
    (re.compile(r"\bBLOB\b"), "BYTEA"),
    (re.compile(r"\bTEXT\b"), 'TEXT COLLATE "C"'),  # why: ORDER BY as on SQLite, whatever the server's locale
)


def migration(version: int, dialect: Dialect) -> list[str]:
    """The statements of migration `version` in `dialect`."""
    sql = MIGRATIONS[version]
    if dialect == "postgresql":
        for pattern, replacement in _POSTGRES_TYPES:
            sql = pattern.sub(replacement, sql)
    return [s.strip() for s in sql.split(";") if s.strip()]
