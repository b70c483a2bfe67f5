"""enqueue_many, the batch path a campaign uses, queues exactly the rows that enqueue queues
one message at a time: same columns, same order, same dedupe and ordering behaviour."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from npsloop.notify import service
from npsloop.notify.base import Fact, Notice
from npsloop.notify.crypto import SecretBox
from npsloop.notify.models import NotifyMessage

BOX = SecretBox("t" * 32)
# Columns that differ by construction between two channels / two runs.
PER_RUN = {"id", "channel_id", "target", "created_at", "updated_at", "next_attempt_at"}


def _channel(db: Session, org_id: str, name: str) -> str:
    return service.create_channel(
        db, org_id=org_id, kind="email", name=name, box=BOX,
        config={"host": "127.0.0.1", "port": 1025, "security": "none",
                "from_address": "a@example.test"}).id


def _items() -> list[service.BatchItem]:
    """Awkward input on purpose: markup and mentions in user text, blank and padded
    recipients, a dedupe key repeated inside the batch, items without keys, ordering keys."""
    items: list[service.BatchItem] = []
    for i in range(12):
        notice = Notice(
            title=f"<b>Hi {i}</b> & @all", text="您好 *bold* _x_ {name}",
            facts=(Fact("unsubscribe", "退订", f"https://x.test/u/{i}"),),
            quote="<script>alert(1)</script>", link_url=f"https://x.test/i/{i}",
            link_label="Open", language="en" if i % 2 else "zh-CN")
        key = None if i % 4 == 3 else f"invitation:{i % 9}"  # 0 and 1 repeat as 9 and 10
        items.append((notice, [f" c{i}@example.test ", "", "  "], key,
                      f"contact:{i % 3}" if i % 2 else None))
    return items


def _rows(db: Session, channel_id: str) -> list[dict[str, Any]]:
    messages = db.scalars(select(NotifyMessage).where(NotifyMessage.channel_id == channel_id)
                          .order_by(NotifyMessage.created_at)).all()
    return [{c.key: getattr(m, c.key) for c in NotifyMessage.__table__.columns
             if c.key not in PER_RUN} for m in messages]


def test_batch_rows_equal_single_rows(db: Session, make_org) -> None:
    org = make_org()
    single, batch = _channel(db, org.org_id, "single"), _channel(db, org.org_id, "batch")
    items = _items()
    single_ids = [service.enqueue(db, org_id=org.org_id, channel_id=single, message=notice,
                                  recipients=recipients, dedupe_key=key,
                                  ordering_key=ordering).id
                  for notice, recipients, key, ordering in items]
    batch_ids = service.enqueue_many(db, org_id=org.org_id, channel_id=batch, items=items)
    db.commit()
    db.expire_all()
    assert len(batch_ids) == len(items)
    expected = _rows(db, single)
    assert len(expected) == 10  # 12 items; invitation:0 and invitation:1 given twice
    assert _rows(db, batch) == expected
    assert expected[0]["recipients"] == ["c0@example.test"]
    assert expected[0]["body"]["quote"] == "<script>alert(1)</script>"  # escaped per channel
    # The id each item got follows the same pattern: a repeated key maps to the first row.
    pattern = [single_ids.index(i) for i in single_ids]
    assert [batch_ids.index(i) for i in batch_ids] == pattern
    assert batch_ids[9] == batch_ids[0] and batch_ids[3] != batch_ids[7]
    # Created times strictly increase in item order, which is what ordering keys rely on.
    created = [db.get(NotifyMessage, i).created_at for i in dict.fromkeys(batch_ids)]
    assert created == sorted(created) and len(set(created)) == len(created)


def test_rerun_enqueues_nothing_twice(db: Session, make_org) -> None:
    org = make_org()
    channel = _channel(db, org.org_id, "mail")
    items = _items()
    first = service.enqueue_many(db, org_id=org.org_id, channel_id=channel, items=items)
    db.commit()
    count = select(func.count()).select_from(NotifyMessage).where(
        NotifyMessage.channel_id == channel)
    queued = db.scalar(count)
    again = service.enqueue_many(db, org_id=org.org_id, channel_id=channel, items=items)
    db.commit()
    keyed = [i for i, item in enumerate(items) if item[2]]
    assert [again[i] for i in keyed] == [first[i] for i in keyed]
    # Items without a dedupe key are new messages each time, as with enqueue.
    assert db.scalar(count) == queued + sum(1 for item in items if not item[2])
    # The single path sees the batch's rows too, and the other way round.
    notice, recipients, key, _ = items[0]
    assert service.enqueue(db, org_id=org.org_id, channel_id=channel, message=notice,
                           recipients=recipients, dedupe_key=key).id == first[0]
    fresh = service.enqueue(db, org_id=org.org_id, channel_id=channel, message=notice,
                            dedupe_key="invitation:new")
    assert service.enqueue_many(db, org_id=org.org_id, channel_id=channel,
                                items=[(notice, (), "invitation:new", None)]) == [fresh.id]


def test_many_keys_span_several_dedupe_queries(db: Session, make_org) -> None:
    org = make_org()
    channel = _channel(db, org.org_id, "mail")
    size = service.DEDUPE_QUERY_CHUNK + 5
    items = [(Notice(title=f"n{i}"), [f"c{i}@example.test"], f"k:{i}", None)
             for i in range(size)]
    first = service.enqueue_many(db, org_id=org.org_id, channel_id=channel, items=items)
    db.commit()
    assert service.enqueue_many(db, org_id=org.org_id, channel_id=channel,
                                items=items) == first
    assert db.scalar(select(func.count()).select_from(NotifyMessage).where(
        NotifyMessage.channel_id == channel)) == size


def test_another_organisations_channel_is_refused(db: Session, make_org) -> None:
    mine, theirs = make_org(), make_org()
    channel = _channel(db, theirs.org_id, "theirs")
    with pytest.raises(service.NotifyError) as caught:
        service.enqueue_many(db, org_id=mine.org_id, channel_id=channel,
                             items=[(Notice(title="x"), ["a@example.test"], "k", None)])
    assert caught.value.field == "channel_id"


def test_notice_to_dict_is_what_asdict_gives() -> None:
    notice = _items()[1][0]
    expected = asdict(notice)
    expected["facts"] = [asdict(f) for f in notice.facts]
    assert notice.to_dict() == expected
    assert Notice.from_dict(notice.to_dict()) == notice
