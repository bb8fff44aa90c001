"""The catalog of a studio: themes, jobs, pieces, scores, decisions, clusters, exports, engagement, workers.

SQLite (WAL) in the studio folder is the embedded default; a `postgresql://` URL puts it on a PostgreSQL server that
workers, galleries and web servers on many machines share. Standard library only (and the shared file helpers; psycopg
for PostgreSQL): the gallery machine reads it without torch. Callers use `Catalog` (facade.py), which hands each call
to the part that owns it:

    records.py           the frozen records (Theme, Job, Piece, Score, Decision, WorkerInfo), statuses, text rules
    schema.py            the SQL schema as numbered migrations for both backends, SCHEMA_VERSION
    database.py          the connection: transactions (nested ones join), migrations, the revision, SQLite
    postgres.py          the same on PostgreSQL
    themes.py            the themes copied from themes.toml
    jobs.py              the job queue (`JobQueue`): enqueue, claim with a lease, progress, finish, fail, requeue,
                         cancel, the attempts cap
    workers.py           the workers on every machine and their heartbeats
    pieces.py            the piece store (`PieceStore`): rows and folders, add, list, status/title/reflection, check
    scores.py            scores, decisions and clusters
    publication.py       exports and engagement
    display_commands.py  the web -> display control channel

The revision (`Catalog.revision()`) moves only with what the gallery shows: pieces, themes, scores, decisions and
clusters; job, export, engagement and command writes leave it alone.
"""

from curation.catalog.facade import Catalog
from curation.catalog.jobs import MAX_ATTEMPTS, PROGRESS_BUSY_MS, Accept, JobQueue, default_worker_name
from curation.catalog.pieces import PieceFiles, PieceStore
from curation.catalog.records import (
    JOB_STATUSES,
    LEASE_S,
    PIECE_STATUSES,
    PUBLIC_STATUSES,
    REFLECTION_MAX,
    TITLE_MAX,
    CatalogConflict,
    CatalogError,
    CatalogUnavailable,
    Decision,
    Job,
    JobStatus,
    Piece,
    PieceStatus,
    Score,
    Theme,
    WorkerInfo,
    control_characters,
    duration,
    now_iso,
    piece_reflection,
    slugify,
    tidy_reflection,
)
from curation.catalog.schema import SCHEMA_VERSION

__all__ = [
    "JOB_STATUSES", "LEASE_S", "MAX_ATTEMPTS", "PIECE_STATUSES", "PROGRESS_BUSY_MS", "PUBLIC_STATUSES",
    "REFLECTION_MAX", "SCHEMA_VERSION", "TITLE_MAX", "Accept", "Catalog", "CatalogConflict", "CatalogError",
    "CatalogUnavailable", "Decision", "Job", "JobQueue", "JobStatus", "Piece", "PieceFiles", "PieceStatus",
    "PieceStore", "Score", "Theme", "WorkerInfo", "control_characters", "default_worker_name", "duration", "now_iso",
    "piece_reflection", "slugify", "tidy_reflection",
]
