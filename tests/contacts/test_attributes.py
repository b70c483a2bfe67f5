"""Attribute values stored without definitions (seed scripts, data from before definitions
existed) get their types inferred, so segments and imports can use them."""

from __future__ import annotations

from npsloop.contacts import attributes, segments
from npsloop.contacts.models import Contact


def test_undefined_attributes_are_inferred_and_discovered(db, org):
    db.add_all([
        Contact(org_id=org.org_id, external_id="a", tags=[], attributes={
            "city": "上海", "spend": 10, "vip": True, "since": "2024-01-02"}),
        Contact(org_id=org.org_id, external_id="b", tags=[], attributes={
            "city": "北京", "spend": 2.5, "vip": False, "since": "2025-03-04", "mixed": 1}),
        Contact(org_id=org.org_id, external_id="c", tags=[], attributes={"mixed": "x"}),
    ])
    db.commit()
    registry = attributes.AttributeRegistry(db, org.org_id)
    assert registry.types == {"city": "string", "spend": "number", "vip": "boolean",
                              "since": "date", "mixed": "string"}
    rules = {"match": "all", "conditions": [
        {"field": "attribute", "key": "spend", "operator": ">", "value": 5},
        {"field": "attribute", "key": "since", "operator": "before", "value": "2024-06-01"}]}
    assert segments.count(db, org.org_id, rules) == 1
    created = attributes.discover(db, org_id=org.org_id)
    assert sorted(d.key for d in created) == ["city", "mixed", "since", "spend", "vip"]
    assert attributes.discover(db, org_id=org.org_id) == []
