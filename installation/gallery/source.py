"""The gallery's view of the catalog: the showable pieces, and a thread that watches for changes and commands.

The watcher has its own catalog connection on its own thread, so a busy catalog (the studio writing, a slow disk, a
far server) never stalls a crossfade. Each `poll` seconds it reads `Catalog.revision()` (one row) and takes the
display's commands; it re-reads the pieces only when the revision moved (on a PostgreSQL catalog, fetching the files
this machine has no copy of yet). While the catalog is unreachable the display keeps the last set it read, and the
watcher connects again at each poll.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from curation.catalog import PUBLIC_STATUSES, Catalog, CatalogError, CatalogUnavailable
from curation.catalog.database import redact
from curation.photos import piece_photo
from curation.public import clipped, piece_reflection, piece_title
from installation.gallery.order import PieceInfo

log = logging.getLogger(__name__)

COMMAND_TARGET = "display"
COMMANDS = ("next", "previous", "pause", "resume", "reload")
DB_TIMEOUT = 2.0  # seconds a poll waits for the studio's write lock; why: on the watcher thread, so no stutter
# Every text the display reads is cut (with an ellipsis) to these lengths before it is wrapped or drawn; why: theme
# titles and reflections have no length limit, and the panel shows at most two title lines and four body lines
# (about 60 characters each), so anything past these never shows and must cost nothing.
TITLE_CHARS = 160
REFLECTION_CHARS = 600


def _printable(text: str, limit: int) -> str:
    """`text` without control characters but line breaks (a NUL stops pygame's font renderer, so one slipped into
    the catalog by an old version or an edit by hand must not stop the display), cut to `limit` characters."""
    return clipped("".join(c for c in text if c == "\n" or unicodedata.category(c) != "Cc"), limit)


def read_pieces(catalog: Catalog, score_curator: str = "aesthetic") -> list[PieceInfo]:
    """The accepted and featured pieces, with what the display shows of them (title, reflection: the piece's own or
    else its theme's)."""
    themes = {t.name: t for t in catalog.list_themes()}
    clusters = catalog.clusters()
    out = []
    for piece in catalog.list_pieces(PUBLIC_STATUSES):
        try:
            path = catalog.abspath(piece.file)
        except CatalogUnavailable:
            raise  # the whole read fails and the display keeps its last set, rather than show fewer pieces
        except CatalogError as exc:
            log.warning("piece %s skipped: %s", piece.slug, exc)
            continue
        theme = themes.get(piece.theme or "")
        group = f"cluster {clusters[piece.id]}" if piece.id in clusters else f"theme {piece.theme or '-'}"
        photo = piece_photo(piece.settings)
        out.append(PieceInfo(
            id=piece.id, slug=piece.slug, path=str(path), sha256=piece.sha256,
            title=_printable(piece_title(piece, theme), TITLE_CHARS),
            reflection=_printable(piece_reflection(piece, theme), REFLECTION_CHARS),
            credit=_printable(photo.byline, TITLE_CHARS) if photo is not None else "",
            featured=piece.status == "featured", score=piece.scores.get(score_curator), group=group,
        ))
    return out


@dataclass
class Update:
    pieces: list[PieceInfo] | None = None  # the whole showable set, when it changed
    commands: list[str] = field(default_factory=list)


class CatalogWatcher:
    """Watches one catalog on a background thread; `poll()` returns what changed since the last call."""

    def __init__(self, catalog_path: str | os.PathLike[str], root: str | os.PathLike[str], *, poll: float = 1.0,
                 score_curator: str = "aesthetic") -> None:
        # a SQLite file, or a catalog server's URL (named without its password in the log)
        self.catalog_path, self.root = catalog_path, Path(root)
        self._name = redact(str(catalog_path))
        self.poll_seconds = poll
        self.score_curator = score_curator
        self._updates: queue.SimpleQueue[Update] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._reloads_asked = 1  # the first look reads the pieces
        self._reloads_done = 0  # why two counters: each is written by one thread only, so no request is lost
        self._last_error = ""
        self.polls = 0
        self._thread = threading.Thread(target=self._work, name="gallery-catalog", daemon=True)
        self._thread.start()

    def reload(self) -> None:
        """Read the pieces again at the next look, changed or not."""
        self._reloads_asked += 1

    def poll(self) -> list[Update]:
        out = []
        while True:
            try:
                out.append(self._updates.get_nowait())
            except queue.Empty:
                return out

    def close(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _work(self) -> None:
        catalog: Catalog | None = None
        seen = -1
        while not self._stop.is_set():
            try:
                if catalog is None:
                    catalog = Catalog(self.catalog_path, root=self.root, timeout=DB_TIMEOUT)
                seen = self._look(catalog, seen)
                if self._last_error:
                    log.info("catalog readable again")
                    self._last_error = ""
            except Exception as exc:  # the display keeps showing what it has; it tries again next time
                message = f"{type(exc).__name__}: {exc}"
                if message != self._last_error:
                    log.warning("cannot read the catalog %s (%s); trying again every %.0f s",
                                self._name, message, self.poll_seconds)
                    self._last_error = message
                if catalog is not None:
                    catalog.close()
                    catalog = None
            self.polls += 1
            self._stop.wait(self.poll_seconds)
        if catalog is not None:
            catalog.close()

    def _look(self, catalog: Catalog, seen: int) -> int:
        before = catalog.revision()
        taken = catalog.take_commands(COMMAND_TARGET)
        after = catalog.revision()
        # taking commands leaves the revision alone: any move is a change the gallery shows
        asked = self._reloads_asked
        changed = before != seen or after != before or asked != self._reloads_done
        update = Update()
        for name, _args in taken:
            if name in COMMANDS:
                update.commands.append(name)
            else:
                log.warning("unknown display command %r ignored (known: %s)", name, ", ".join(COMMANDS))
        if changed:
            self._reloads_done = asked
            t0 = time.perf_counter()
            update.pieces = read_pieces(catalog, self.score_curator)
            log.debug("catalog revision %d: %d showable pieces (%.0f ms)", after, len(update.pieces),
                      (time.perf_counter() - t0) * 1000)
        if update.pieces is not None or update.commands:
            self._updates.put(update)
        return after
