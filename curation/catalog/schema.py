"""The catalog's SQLite schema: migration N takes a catalog from schema version N-1 to N (`PRAGMA user_version`).

Append a migration to change the schema; never edit one that has shipped, since catalogs out there ran it.
"""

from __future__ import annotations

SCHEMA_VERSION = 4

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
    # JSON {"step", "steps", "loss", "updated"} of a job's current attempt, written by `SqliteJobQueue.set_progress`
    4: """
    ALTER TABLE jobs ADD COLUMN progress TEXT NOT NULL DEFAULT '{}'
    """,
}
