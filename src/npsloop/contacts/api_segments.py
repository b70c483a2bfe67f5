"""JSON routes for segments: CRUD, a live preview (count and sample) and counts."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from npsloop.accounts.service import audit
from npsloop.contacts import segment_rules, segments
from npsloop.contacts.api_common import Reader, Writer, not_found, unprocessable
from npsloop.contacts.models import Segment
from npsloop.contacts.schemas import (
    ContactOut,
    PreviewIn,
    PreviewOut,
    SegmentIn,
    SegmentOut,
    SegmentUpdate,
)
from npsloop.core.deps import SessionDep

router = APIRouter(tags=["segments"])


def _load(db: SessionDep, org_id: str, segment_id: str) -> Segment:
    segment = segments.get_segment(db, org_id=org_id, segment_id=segment_id)
    if segment is None:
        raise not_found("segment", segment_id)
    return segment


def _refuse(db: SessionDep, exc: Exception) -> Exception:
    db.rollback()
    if isinstance(exc, segments.RuleError):
        return unprocessable(exc.problems)
    assert isinstance(exc, segments.SegmentError)
    return unprocessable([(exc.field, exc.message)])


RULES_DOC = "Rules:\n\n```\n" + (segment_rules.__doc__ or "") + "\n```"


@router.post("/segments/preview", response_model=PreviewOut, description=RULES_DOC)
def preview(body: PreviewIn, db: SessionDep, principal: Reader) -> PreviewOut:
    """How many contacts the rules match now, and a few of them (nothing is saved)."""
    try:
        total, sample = segments.preview(db, principal.org_id, body.rules,
                                         sample_size=body.sample_size)
    except segments.RuleError as exc:
        raise unprocessable(exc.problems) from exc
    return PreviewOut(count=total, sample=[ContactOut.model_validate(c) for c in sample])


@router.get("/segments", response_model=list[SegmentOut])
def list_segments(db: SessionDep, principal: Reader) -> list[SegmentOut]:
    return [SegmentOut.model_validate(s)
            for s in segments.list_segments(db, org_id=principal.org_id)]


@router.post("/segments", response_model=SegmentOut, status_code=status.HTTP_201_CREATED,
             description=RULES_DOC)
def create_segment(body: SegmentIn, db: SessionDep, principal: Writer) -> SegmentOut:
    try:
        segment = segments.create_segment(
            db, org_id=principal.org_id, name=body.name, rules=body.rules,
            description=body.description, created_by=principal.actor)
    except (segments.RuleError, segments.SegmentError) as exc:
        raise _refuse(db, exc) from exc
    audit(db, org_id=principal.org_id, actor=principal.actor, action="segment.create",
          target=("segment", segment.id))
    db.commit()
    return SegmentOut.model_validate(segment)


@router.get("/segments/{segment_id}", response_model=SegmentOut)
def get_segment(segment_id: str, db: SessionDep, principal: Reader) -> SegmentOut:
    return SegmentOut.model_validate(_load(db, principal.org_id, segment_id))


@router.get("/segments/{segment_id}/count")
def count_segment(segment_id: str, db: SessionDep, principal: Reader) -> dict[str, int]:
    segment = _load(db, principal.org_id, segment_id)
    try:
        return {"count": segments.count(db, principal.org_id, segment.rules)}
    except segments.RuleError as exc:
        raise unprocessable(exc.problems) from exc


@router.patch("/segments/{segment_id}", response_model=SegmentOut)
def update_segment(segment_id: str, body: SegmentUpdate, db: SessionDep,
                   principal: Writer) -> SegmentOut:
    segment = _load(db, principal.org_id, segment_id)
    try:
        segments.update_segment(db, segment=segment, name=body.name, rules=body.rules,
                                description=body.description)
    except (segments.RuleError, segments.SegmentError) as exc:
        raise _refuse(db, exc) from exc
    audit(db, org_id=principal.org_id, actor=principal.actor, action="segment.update",
          target=("segment", segment.id))
    db.commit()
    return SegmentOut.model_validate(segment)


@router.delete("/segments/{segment_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_segment(segment_id: str, db: SessionDep, principal: Writer) -> Response:
    segment = _load(db, principal.org_id, segment_id)
    audit(db, org_id=principal.org_id, actor=principal.actor, action="segment.delete",
          target=("segment", segment.id), detail={"name": segment.name})
    segments.delete_segment(db, segment=segment)
    db.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
