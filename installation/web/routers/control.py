"""Control endpoints for the people running the installation: queue a prompt, decide on a piece, steer the display.

Every route here needs `Authorization: Bearer <token>`; without a configured token they all answer 403.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query

from curation.catalog import CatalogError
from installation.job_settings import JobSettingsError, check_job
from installation.web.deps import CatalogsDep, SettingsDep, require_token, valid_slug
from installation.web.schemas import CommandOut, DecidedOut, DecisionIn, PieceOut, QueuedOut, QueueIn, piece_out
from installation.web.settings import API_MAX_LIMIT

router = APIRouter(prefix="/api/control", tags=["control"], dependencies=[Depends(require_token)])

DisplayCommand = Literal["next", "previous", "pause", "resume", "reload"]


@router.post("/queue", response_model=QueuedOut, status_code=201, summary="Queue a prompt for the studio worker")
def queue(body: QueueIn, catalogs: CatalogsDep) -> dict[str, Any]:
    try:  # the rules of `dstrtd queue`, which are the worker's: nothing is queued that the worker would refuse
        settings = check_job(body.prompt, body.settings, priority=body.priority, studio=catalogs.studio.root,
                             theme=body.theme)
    except JobSettingsError as exc:
        raise HTTPException(422, str(exc)) from None
    with catalogs.write() as cat:
        try:
            job = cat.enqueue(body.prompt, theme=body.theme, settings=settings, priority=body.priority)
        except CatalogError as exc:  # unknown theme: the message says which
            raise HTTPException(422, str(exc)) from exc
    return {"job": job}


@router.post("/pieces/{slug}/decision", response_model=DecidedOut,
             summary="Accept, feature or reject a piece (recorded as 'by <who> via web')")
def decide(slug: str, body: DecisionIn, catalogs: CatalogsDep) -> dict[str, Any]:
    with catalogs.write() as cat:
        piece = cat.get_piece_by_slug(slug) if valid_slug(slug) else None
        if piece is None:
            raise HTTPException(404, "no piece with this slug")
        cat.decide(piece.id, body.decision, reasons=[f"by {body.by} via web"])
    return {"slug": slug, "status": body.decision}


@router.get("/pieces", response_model=list[PieceOut], summary="Pieces of any status, e.g. those waiting for a decision")
def pieces(settings: SettingsDep, catalogs: CatalogsDep,
           status: Literal["generated", "accepted", "rejected", "featured"] = "generated",
           offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
           limit: Annotated[int, Query(ge=1, le=API_MAX_LIMIT)] = 50) -> list[dict[str, Any]]:
    with catalogs.read() as cat:
        themes = {t.name: t for t in cat.list_themes()}
        found = cat.list_pieces(status, limit=limit, offset=offset, newest_first=True)
    return [piece_out(p, themes.get(p.theme or ""), settings.base_url) for p in found]


@router.post("/display/{command}", response_model=CommandOut, status_code=202,
             summary="Tell the gallery display: next, previous, pause, resume or reload")
def display(command: DisplayCommand, catalogs: CatalogsDep) -> dict[str, Any]:
    with catalogs.write() as cat:
        command_id = cat.post_command("display", command)
    return {"command": command, "id": command_id}
