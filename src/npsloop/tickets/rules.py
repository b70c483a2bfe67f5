"""A rule's shape (conditions and actions) and its evaluation against one response.

Conditions are a tagged union on `field`, so a bad rule is refused with a 422 that names the
exact place (`conditions.2.score.min`). Evaluation is pure: it reads a `Facts` snapshot of the
response (built in facts.py from the response, its survey, contact and text analysis), which
is what lets the dry run replay a rule over 1,000 stored responses without side effects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from npsloop.tickets.models import Priority

Category = Literal["promoter", "passive", "detractor"]
Stage = Literal["acquisition", "retention", "conversion", "referral"]
SetOp = Literal["in", "not_in"]
Words = Annotated[list[Annotated[str, Field(min_length=1, max_length=200)]],
                  Field(min_length=1, max_length=200)]

# First-response and resolution hours when a rule does not set them.
DEFAULT_SLA_HOURS: dict[str, tuple[float, float]] = {
    "P0": (1.0, 24.0), "P1": (4.0, 48.0), "P2": (8.0, 72.0), "P3": (24.0, 120.0),
}


@dataclass
class Facts:
    """What a rule can see of one response."""

    score: int
    category: str
    language: str
    survey_id: str
    nps_type: str = ""
    touchpoint: str = ""
    comment: str = ""
    drivers: dict[str, float] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)
    tags: set[str] = field(default_factory=set)
    lifecycle: str | None = None
    analysed: bool = False
    sentiment_label: str | None = None
    sentiment_score: float | None = None
    topics: set[str] = field(default_factory=set)
    keywords: set[str] = field(default_factory=set)


class _Cond(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CategoryCondition(_Cond):
    field: Literal["category"]
    op: SetOp = "in"
    values: list[Category] = Field(min_length=1)

    def test(self, f: Facts) -> bool:
        return (f.category in self.values) == (self.op == "in")


class ScoreCondition(_Cond):
    field: Literal["score"]
    min: int = Field(0, ge=0, le=10)
    max: int = Field(10, ge=0, le=10)

    @model_validator(mode="after")
    def _order(self) -> ScoreCondition:
        if self.min > self.max:
            raise ValueError("min must not exceed max")
        return self

    def test(self, f: Facts) -> bool:
        return self.min <= f.score <= self.max


class DriverCondition(_Cond):
    """A driver rating (1-5) within a range; a response without that rating never matches."""

    field: Literal["driver"]
    key: str = Field(min_length=1, max_length=64)
    min: float = Field(1, ge=0, le=10)
    max: float = Field(5, ge=0, le=10)

    @model_validator(mode="after")
    def _order(self) -> DriverCondition:
        if self.min > self.max:
            raise ValueError("min must not exceed max")
        return self

    def test(self, f: Facts) -> bool:
        value = f.drivers.get(self.key)
        return value is not None and self.min <= value <= self.max


class SentimentCondition(_Cond):
    """Sentiment of the comment: a label and/or a score range (-1 .. 1). A response without
    an analysed comment never matches."""

    field: Literal["sentiment"]
    labels: list[Literal["negative", "neutral", "positive"]] = Field(default_factory=list)
    min_score: float | None = Field(None, ge=-1, le=1)
    max_score: float | None = Field(None, ge=-1, le=1)

    @model_validator(mode="after")
    def _something(self) -> SentimentCondition:
        if not self.labels and self.min_score is None and self.max_score is None:
            raise ValueError("give labels, min_score or max_score")
        return self

    def test(self, f: Facts) -> bool:
        if not f.analysed or f.sentiment_label is None:
            return False
        if self.labels and f.sentiment_label not in self.labels:
            return False
        score = f.sentiment_score if f.sentiment_score is not None else 0.0
        if self.min_score is not None and score < self.min_score:
            return False
        return self.max_score is None or score <= self.max_score


class TopicCondition(_Cond):
    """Topic keys from text mining (a sub-topic also counts for its parent)."""

    field: Literal["topic"]
    op: SetOp = "in"
    values: Words

    def test(self, f: Facts) -> bool:
        return bool(f.topics & set(self.values)) == (self.op == "in")


class KeywordCondition(_Cond):
    """Words in the comment (case-insensitive substring) or among its extracted keywords."""

    field: Literal["keyword"]
    op: Literal["contains_any", "contains_none"] = "contains_any"
    values: Words

    def test(self, f: Facts) -> bool:
        text = f.comment.casefold()
        keywords = {k.casefold() for k in f.keywords}
        hit = any(v.casefold() in text or v.casefold() in keywords for v in self.values)
        return hit == (self.op == "contains_any")


class LanguageCondition(_Cond):
    field: Literal["language"]
    op: SetOp = "in"
    values: list[Literal["zh-CN", "en"]] = Field(min_length=1)

    def test(self, f: Facts) -> bool:
        return (f.language in self.values) == (self.op == "in")


class SurveyCondition(_Cond):
    field: Literal["survey"]
    op: SetOp = "in"
    values: Words  # survey ids

    def test(self, f: Facts) -> bool:
        return (f.survey_id in self.values) == (self.op == "in")


class NpsTypeCondition(_Cond):
    field: Literal["nps_type"]
    op: SetOp = "in"
    values: list[Literal["strategic", "relationship", "touchpoint"]] = Field(min_length=1)

    def test(self, f: Facts) -> bool:
        return (f.nps_type in self.values) == (self.op == "in")


class TouchpointCondition(_Cond):
    field: Literal["touchpoint"]
    op: SetOp = "in"
    values: Words

    def test(self, f: Facts) -> bool:
        return (f.touchpoint in self.values) == (self.op == "in")


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


class AttributeCondition(_Cond):
    """A contact attribute as it was when the response was given."""

    field: Literal["attribute"]
    key: str = Field(min_length=1, max_length=64)
    op: Literal["eq", "neq", "in", "not_in", "contains", "gt", "gte", "lt", "lte",
                "exists", "not_exists"] = "eq"
    value: str | int | float | bool | None = None
    values: list[str | int | float | bool] = Field(default_factory=list, max_length=500)

    @model_validator(mode="after")
    def _operand(self) -> AttributeCondition:
        if self.op in ("in", "not_in") and not self.values:
            raise ValueError(f"op '{self.op}' needs 'values'")
        if self.op in ("eq", "neq", "contains", "gt", "gte", "lt", "lte") and self.value is None:
            raise ValueError(f"op '{self.op}' needs 'value'")
        if self.op in ("gt", "gte", "lt", "lte") and _number(self.value) is None:
            raise ValueError(f"op '{self.op}' needs a number")
        return self

    @staticmethod
    def _same(a: Any, b: Any) -> bool:
        na, nb = _number(a), _number(b)
        if na is not None and nb is not None:
            return na == nb
        return str(a).strip().casefold() == str(b).strip().casefold()

    def test(self, f: Facts) -> bool:
        present = self.key in f.attributes and f.attributes[self.key] not in (None, "")
        if self.op in ("exists", "not_exists"):
            return present == (self.op == "exists")
        if not present:
            return self.op in ("neq", "not_in")
        actual = f.attributes[self.key]
        if self.op == "eq":
            return self._same(actual, self.value)
        if self.op == "neq":
            return not self._same(actual, self.value)
        if self.op in ("in", "not_in"):
            return any(self._same(actual, v) for v in self.values) == (self.op == "in")
        if self.op == "contains":
            return str(self.value).casefold() in str(actual).casefold()
        number, bound = _number(actual), _number(self.value)
        if number is None or bound is None:
            return False
        return {"gt": number > bound, "gte": number >= bound, "lt": number < bound,
                "lte": number <= bound}[self.op]


class TagCondition(_Cond):
    """Tags of the contact."""

    field: Literal["tag"]
    op: Literal["any", "all", "none"] = "any"
    values: Words

    def test(self, f: Facts) -> bool:
        wanted = set(self.values)
        if self.op == "all":
            return wanted <= f.tags
        return bool(wanted & f.tags) == (self.op == "any")


class LifecycleCondition(_Cond):
    field: Literal["lifecycle"]
    op: SetOp = "in"
    values: list[Stage] = Field(min_length=1)

    def test(self, f: Facts) -> bool:
        return (f.lifecycle in self.values) == (self.op == "in")


class GroupCondition(_Cond):
    """A nested all/any group, e.g. score 0-2 AND (topic refund OR keyword 投诉)."""

    field: Literal["group"]
    match: Literal["all", "any"] = "all"
    conditions: list[Condition] = Field(min_length=1, max_length=50)

    def test(self, f: Facts) -> bool:
        return combine(self.match, self.conditions, f)


Condition = Annotated[
    CategoryCondition | ScoreCondition | DriverCondition | SentimentCondition
    | TopicCondition | KeywordCondition | LanguageCondition | SurveyCondition
    | NpsTypeCondition | TouchpointCondition | AttributeCondition | TagCondition
    | LifecycleCondition | GroupCondition,
    Field(discriminator="field"),
]
GroupCondition.model_rebuild()
CONDITION_FIELDS = ("category", "score", "driver", "sentiment", "topic", "keyword", "language",
                    "survey", "nps_type", "touchpoint", "attribute", "tag", "lifecycle", "group")
TEXT_FIELDS = frozenset({"sentiment", "topic", "keyword"})


def combine(match: str, conditions: list[Any], facts: Facts) -> bool:
    results = (c.test(facts) for c in conditions)
    return all(results) if match == "all" else any(results)


# -- actions -----------------------------------------------------------------------------

class Routing(BaseModel):
    """Who gets the ticket.

    fixed: `team_id` and/or `owner_id` as given.
    round_robin: the next member of `team_id` in turn.
    attribute: the team is looked up from a contact attribute (`map`: value -> team id,
    `default_team_id` otherwise); `assign` then picks a member in turn or leaves the
    ticket with the team.
    """

    model_config = ConfigDict(extra="forbid")

    mode: Literal["fixed", "round_robin", "attribute"] = "fixed"
    team_id: str | None = None
    owner_id: str | None = None
    attribute: str | None = Field(None, max_length=64)
    map: dict[str, str] = Field(default_factory=dict, max_length=500)
    default_team_id: str | None = None
    assign: Literal["round_robin", "team"] = "round_robin"

    @model_validator(mode="after")
    def _complete(self) -> Routing:
        if self.mode == "round_robin" and not self.team_id:
            raise ValueError("round_robin routing needs team_id")
        if self.mode == "attribute" and (not self.attribute or not
                                         (self.map or self.default_team_id)):
            raise ValueError("attribute routing needs attribute and map or default_team_id")
        return self


class TicketAction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    priority: Priority = Priority.p2
    routing: Routing = Field(default_factory=Routing)
    first_response_hours: float | None = Field(None, gt=0, le=24 * 90)
    resolution_hours: float | None = Field(None, gt=0, le=24 * 365)
    followup_days: int = Field(7, ge=0, le=365)
    followup_survey_id: str | None = None  # default: the survey that was answered
    followup_channel_id: str | None = None  # email/SMS channel for the invitation

    @model_validator(mode="after")
    def _hours(self) -> TicketAction:
        first, resolution = self.sla_hours()
        if first > resolution:
            raise ValueError("first_response_hours must not exceed resolution_hours")
        return self

    def sla_hours(self) -> tuple[float, float]:
        default_first, default_resolution = DEFAULT_SLA_HOURS[self.priority.value]
        return (self.first_response_hours or default_first,
                self.resolution_hours or default_resolution)


Tag = Annotated[str, Field(min_length=1, max_length=64)]


class Actions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ticket: TicketAction | None = None
    notify_channel_ids: list[str] = Field(default_factory=list, max_length=20)
    tags: list[Tag] = Field(default_factory=list, max_length=20)  # on the response
    contact_tags: list[Tag] = Field(default_factory=list, max_length=20)
    webhook_endpoint_ids: list[str] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _something(self) -> Actions:
        if not (self.ticket or self.notify_channel_ids or self.tags or self.contact_tags
                or self.webhook_endpoint_ids):
            raise ValueError("a rule needs at least one action")
        return self


class RuleBody(BaseModel):
    """A rule as the API takes it (also the unsaved body of a dry run)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=2000)
    enabled: bool = True
    match: Literal["all", "any"] = "all"
    conditions: list[Condition] = Field(min_length=1, max_length=50)
    actions: Actions
    stop_processing: bool = False


@dataclass(frozen=True)
class CompiledRule:
    """A stored rule, parsed once per evaluation run."""

    id: str
    name: str
    match: str
    conditions: list[Any]
    actions: Actions
    stop_processing: bool

    @property
    def needs_text(self) -> bool:
        return _uses_text(self.conditions)

    def matches(self, facts: Facts) -> bool:
        return combine(self.match, self.conditions, facts)


def _uses_text(conditions: list[Any]) -> bool:
    return any(c.field in TEXT_FIELDS or (c.field == "group" and _uses_text(c.conditions))
               for c in conditions)


def compile_rule(rule_id: str, body: RuleBody) -> CompiledRule:
    return CompiledRule(rule_id, body.name, body.match, list(body.conditions), body.actions,
                        body.stop_processing)


def parse_stored(rule: Any) -> CompiledRule:
    """A stored rule row as a CompiledRule (the JSON was validated when it was saved)."""
    body = RuleBody.model_validate({
        "name": rule.name, "match": rule.match, "conditions": rule.conditions,
        "actions": rule.actions, "stop_processing": rule.stop_processing,
    })
    return compile_rule(rule.id, body)
