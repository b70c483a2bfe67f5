"""Each condition family against hand-made facts, and rule validation errors."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from npsloop.tickets.rules import Condition, Facts, RuleBody, combine

COND = TypeAdapter(Condition)


def facts(**overrides) -> Facts:
    base = dict(
        score=3, category="detractor", language="zh-CN", survey_id="s1",
        nps_type="touchpoint", touchpoint="delivery", comment="快递太慢，要投诉",
        drivers={"delivery": 1.0, "price": 4.0}, attributes={"city": "上海", "orders": 12},
        tags={"vip", "2025"}, lifecycle="retention", analysed=True,
        sentiment_label="negative", sentiment_score=-0.7,
        topics={"delivery", "delivery_speed"}, keywords={"快递", "投诉"},
    )
    base.update(overrides)
    return Facts(**base)


CASES = [
    ({"field": "category", "values": ["detractor"]}, True),
    ({"field": "category", "op": "not_in", "values": ["detractor"]}, False),
    ({"field": "score", "min": 0, "max": 3}, True),
    ({"field": "score", "min": 4}, False),
    ({"field": "driver", "key": "delivery", "max": 2}, True),
    ({"field": "driver", "key": "price", "max": 2}, False),
    ({"field": "driver", "key": "missing", "max": 5}, False),
    ({"field": "sentiment", "labels": ["negative"]}, True),
    ({"field": "sentiment", "max_score": -0.8}, False),
    ({"field": "sentiment", "labels": ["negative", "neutral"], "max_score": -0.5}, True),
    ({"field": "topic", "values": ["delivery"]}, True),
    ({"field": "topic", "op": "not_in", "values": ["delivery"]}, False),
    ({"field": "topic", "values": ["refund"]}, False),
    ({"field": "keyword", "values": ["投诉"]}, True),
    ({"field": "keyword", "values": ["SLOW", "太慢"]}, True),
    ({"field": "keyword", "op": "contains_none", "values": ["退款"]}, True),
    ({"field": "language", "values": ["en"]}, False),
    ({"field": "survey", "values": ["s1", "s2"]}, True),
    ({"field": "nps_type", "values": ["relationship"]}, False),
    ({"field": "touchpoint", "values": ["delivery"]}, True),
    ({"field": "attribute", "key": "city", "value": "上海"}, True),
    ({"field": "attribute", "key": "city", "op": "in", "values": ["北京", "上海"]}, True),
    ({"field": "attribute", "key": "orders", "op": "gte", "value": 10}, True),
    ({"field": "attribute", "key": "orders", "op": "lt", "value": "10"}, False),
    ({"field": "attribute", "key": "tier", "op": "exists"}, False),
    ({"field": "attribute", "key": "tier", "op": "neq", "value": "gold"}, True),
    ({"field": "attribute", "key": "city", "op": "contains", "value": "海"}, True),
    ({"field": "tag", "values": ["vip"]}, True),
    ({"field": "tag", "op": "all", "values": ["vip", "new"]}, False),
    ({"field": "tag", "op": "none", "values": ["churned"]}, True),
    ({"field": "lifecycle", "values": ["retention"]}, True),
    ({"field": "lifecycle", "op": "not_in", "values": ["retention"]}, False),
    ({"field": "group", "match": "any", "conditions": [
        {"field": "score", "min": 9}, {"field": "topic", "values": ["delivery"]}]}, True),
    ({"field": "group", "conditions": [
        {"field": "score", "min": 9}, {"field": "topic", "values": ["delivery"]}]}, False),
]


@pytest.mark.parametrize(("spec", "expected"), CASES,
                         ids=[f"{c['field']}-{i}" for i, (c, _) in enumerate(CASES)])
def test_condition_family(spec, expected):
    assert COND.validate_python(spec).test(facts()) is expected


def test_text_conditions_never_match_an_unanalysed_response():
    bare = facts(analysed=False, sentiment_label=None, sentiment_score=None, topics=set(),
                 keywords=set(), comment="")
    for spec in ({"field": "sentiment", "labels": ["negative"]},
                 {"field": "topic", "values": ["delivery"]},
                 {"field": "keyword", "values": ["投诉"]}):
        assert COND.validate_python(spec).test(bare) is False


def test_all_and_any():
    conditions = [COND.validate_python(c) for c in (
        {"field": "score", "max": 3}, {"field": "language", "values": ["en"]})]
    assert combine("all", conditions, facts()) is False
    assert combine("any", conditions, facts()) is True


@pytest.mark.parametrize(("body", "where"), [
    ({"conditions": [{"field": "score", "min": 9, "max": 2}]}, ("conditions", 0, "score")),
    ({"conditions": [{"field": "mood"}]}, ("conditions", 0)),
    ({"conditions": [{"field": "category", "values": ["angry"]}]},
     ("conditions", 0, "category", "values", 0)),
    ({"conditions": [{"field": "attribute", "key": "x", "op": "gt", "value": "a"}]},
     ("conditions", 0, "attribute")),
    ({"conditions": []}, ("conditions",)),
    ({"actions": {}}, ("actions",)),
    ({"actions": {"ticket": {"priority": "P9"}}}, ("actions", "ticket", "priority")),
    ({"actions": {"ticket": {"routing": {"mode": "round_robin"}}}},
     ("actions", "ticket", "routing")),
    ({"actions": {"ticket": {"first_response_hours": 50, "resolution_hours": 10}}},
     ("actions", "ticket")),
])
def test_invalid_rules_name_the_place(body, where):
    full = {"name": "r", "conditions": [{"field": "score", "max": 6}],
            "actions": {"ticket": {}}, **body}
    with pytest.raises(ValidationError) as info:
        RuleBody.model_validate(full)
    assert tuple(info.value.errors()[0]["loc"])[:len(where)] == where
