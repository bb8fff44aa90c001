"""The catalog of a studio: themes, jobs, pieces, scores, decisions, clusters, exports, engagement (SQLite, WAL).

Standard library only (and the shared file helpers): the gallery machine reads it without torch. Callers use
`Catalog` (facade.py), which hands each call to the part that owns it:

    records.py           the frozen records (Theme, Job, Piece, Score, Decision), statuses, title/reflection rules
    schema.py            the SQL schema as numbered migrations, SCHEMA_VERSION
    database.py          the connection: WAL, BEGIN IMMEDIATE transactions, migrations, the gallery's revision
    themes.py            the themes copied from themes.toml
    jobs.py              the job queue (`JobQueue`): enqueue, claim, progress, finish, fail, requeue, cancel
    pieces.py            the piece store (`PieceStore`): rows and folders, add, list, status/title/reflection, check
    scores.py            scores, decisions and clusters
    publication.py       exports and engagement
    display_commands.py  the web -> display control channel

The revision (`Catalog.revision()`) moves only with what the gallery shows: pieces, themes, scores, decisions and
clusters; job, export, engagement and command writes leave it alone.
"""

from curation.catalog.facade import Catalog
from curation.catalog.jobs import PROGRESS_BUSY_MS, JobQueue, default_worker_name
from curation.catalog.pieces import PieceFiles, PieceStore
from curation.catalog.records import (
    JOB_STATUSES,
    PIECE_STATUSES,
    PUBLIC_STATUSES,
    REFLECTION_MAX,
    TITLE_MAX,
    CatalogError,
    Decision,
    Job,
    JobStatus,
    Piece,
    PieceStatus,
    Score,
    Theme,
    control_characters,
    now_iso,
    piece_reflection,
    slugify,
    tidy_reflection,
)
from curation.catalog.schema import SCHEMA_VERSION

__all__ = [
    "JOB_STATUSES", "PIECE_STATUSES", "PROGRESS_BUSY_MS", "PUBLIC_STATUSES", "REFLECTION_MAX", "SCHEMA_VERSION",
    "TITLE_MAX", "Catalog", "CatalogError", "Decision", "Job", "JobQueue", "JobStatus", "Piece", "PieceFiles",
    "PieceStatus", "PieceStore", "Score", "Theme", "control_characters", "default_worker_name", "now_iso",
    "piece_reflection", "slugify", "tidy_reflection",
]
