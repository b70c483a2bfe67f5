"""Attribute definitions: each attribute key has one type per organisation.

A key seen for the first time gets a definition with the type its value suggests; after that
every value must fit (or, from a spreadsheet, be coercible to) that type. Segment SQL relies
on this: a number attribute holds JSON numbers only.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, cast, exists, func, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from npsloop.contacts import jsonsql, values
from npsloop.contacts.models import AttributeDefinition, AttributeType, Contact

TYPES = tuple(t.value for t in AttributeType)
MAX_DEFINITIONS = 500


class AttributeError_(ValueError):
    """A bad attribute definition request (field, reason)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class AttributeRegistry:
    """The organisation's definitions, loaded once per request or import run."""

    def __init__(self, session: Session, org_id: str) -> None:
        self.session = session
        self.org_id = org_id
        rows = session.scalars(
            select(AttributeDefinition).where(AttributeDefinition.org_id == org_id)
        )
        self.types: dict[str, str] = {row.key: row.type for row in rows}
        self.pending: dict[str, tuple[str, str]] = {}
        if not self.types and session.scalar(select(exists().where(
                Contact.org_id == org_id, cast(Contact.attributes, String) != "{}"))):
            # Attribute values but no definitions: data written before definitions existed
            # (or straight into the table). Their types are inferred now and stored with the
            # next write that goes through this registry.
            for key, kind in undefined_types(session, org_id=org_id, known=set()).items():
                self.types[key] = kind
                self.pending[key] = (kind, "")

    def type_of(self, key: str) -> str | None:
        return self.types.get(key)

    def check(self, key: str, value: Any, *, mode: str = "strict", label: str = "") -> Any:
        """The stored form of `value`, defining the key on first sight. ValueError if the
        value does not fit the key's type. Modes: "strict" (API JSON), "text" (spreadsheet
        cells, coerced), "lenient" (strict, but text such as "42" may fill a number)."""
        values.check_key(key)
        kind = self.types.get(key)
        if kind is None:
            kind = (values.infer_text_type([value]) if mode == "text"
                    else values.infer_strict_type(value))
            self.declare(key, kind, label=label)
        if mode == "text":
            return values.text_value(kind, value)
        try:
            return values.strict_value(kind, value)
        except ValueError:
            if mode == "lenient" and isinstance(value, str):
                return values.text_value(kind, value)
            raise

    def declare(self, key: str, kind: str, *, label: str = "") -> None:
        """Remembers a new definition; `flush_new` writes it with the contacts."""
        if key in self.types:
            return
        if len(self.types) >= MAX_DEFINITIONS:
            raise ValueError(f"an organisation may define at most {MAX_DEFINITIONS} attributes")
        self.types[key] = kind
        self.pending[key] = (kind, label)

    def flush_new(self) -> None:
        for key, (kind, label) in list(self.pending.items()):
            try:
                with self.session.begin_nested():
                    self.session.add(AttributeDefinition(
                        org_id=self.org_id, key=key, type=kind, label=label,
                        show_in_list=len(self.types) <= 4,
                    ))
            except IntegrityError:
                # Defined meanwhile by a concurrent request: keep the stored type.
                stored = self.session.scalar(select(AttributeDefinition.type).where(
                    AttributeDefinition.org_id == self.org_id, AttributeDefinition.key == key))
                if stored is not None:
                    self.types[key] = stored
        self.pending.clear()


def list_definitions(session: Session, *, org_id: str) -> list[AttributeDefinition]:
    return list(session.scalars(
        select(AttributeDefinition)
        .where(AttributeDefinition.org_id == org_id)
        .order_by(AttributeDefinition.created_at, AttributeDefinition.key)
    ))


def get_definition(session: Session, *, org_id: str, key: str) -> AttributeDefinition | None:
    return session.scalar(select(AttributeDefinition).where(
        AttributeDefinition.org_id == org_id, AttributeDefinition.key == key))


def define(
    session: Session, *, org_id: str, key: str, kind: str, label: str = "",
    show_in_list: bool = False,
) -> AttributeDefinition:
    """Declares an attribute before any contact has it (e.g. to fix a date type)."""
    try:
        values.check_key(key)
    except ValueError as exc:
        raise AttributeError_("key", str(exc)) from exc
    if kind not in TYPES:
        raise AttributeError_("type", f"must be one of {', '.join(TYPES)}")
    if get_definition(session, org_id=org_id, key=key) is not None:
        raise AttributeError_("key", f"attribute '{key}' is already defined")
    definition = AttributeDefinition(org_id=org_id, key=key, type=kind, label=label.strip(),
                                     show_in_list=show_in_list)
    session.add(definition)
    session.flush()
    return definition


def update_definition(
    session: Session, *, definition: AttributeDefinition, label: str | None = None,
    show_in_list: bool | None = None, kind: str | None = None,
) -> AttributeDefinition:
    """Label and list visibility change freely; the type only while no contact has a value
    (a stored value of the old type would no longer fit)."""
    if label is not None:
        definition.label = label.strip()[:200]
    if show_in_list is not None:
        definition.show_in_list = show_in_list
    if kind is not None and kind != definition.type:
        if kind not in TYPES:
            raise AttributeError_("type", f"must be one of {', '.join(TYPES)}")
        if count_with_value(session, org_id=definition.org_id, key=definition.key):
            raise AttributeError_(
                "type", f"contacts already hold values of '{definition.key}' as "
                        f"{definition.type}; the type cannot change")
        definition.type = kind
    session.flush()
    return definition


def count_with_value(session: Session, *, org_id: str, key: str) -> int:
    dialect = session.get_bind().dialect.name
    return session.scalar(
        select(func.count()).select_from(Contact).where(
            Contact.org_id == org_id, jsonsql.is_set(dialect, key))
    ) or 0


def undefined_types(session: Session, *, org_id: str, known: set[str],
                    sample: int = 200) -> dict[str, str]:
    """The type of each attribute key that contacts hold without a definition: the type
    all its stored values share (strings that are all ISO dates: date); mixed: string."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        pairs = func.json_each(Contact.attributes).table_valued("key", "value").render_derived(
            name="kv")
        kind = func.json_typeof(pairs.c.value)
        text_value = func.json_extract_path_text(Contact.attributes, pairs.c.key)
        number_kinds, bool_kinds, string_kinds = {"number"}, {"boolean"}, {"string"}
    else:
        pairs = func.json_each(Contact.attributes).table_valued("key", "value", "type").alias(
            "kv")
        kind = pairs.c.type
        text_value = pairs.c.value
        number_kinds, bool_kinds, string_kinds = {"integer", "real"}, {"true", "false"}, {"text"}
    found: dict[str, set[str]] = {}
    rows = session.execute(select(pairs.c.key, kind).select_from(Contact).join(pairs, true())
                           .where(Contact.org_id == org_id).distinct())
    for key, value_kind in rows:
        if key in known or not values.KEY_RE.match(str(key)) or value_kind == "null":
            continue
        found.setdefault(str(key), set()).add(str(value_kind))
    types: dict[str, str] = {}
    for key, kinds in sorted(found.items()):
        if kinds <= number_kinds:
            types[key] = AttributeType.number
        elif kinds <= bool_kinds:
            types[key] = AttributeType.boolean
        elif kinds <= string_kinds:
            samples = list(session.scalars(
                select(text_value).select_from(Contact).join(pairs, true())
                .where(Contact.org_id == org_id, pairs.c.key == key).limit(sample)))
            dates = bool(samples) and all(values.ISO_DATE_RE.match(str(v)) for v in samples)
            types[key] = AttributeType.date if dates else AttributeType.string
        else:
            types[key] = AttributeType.string
    return types


def discover(session: Session, *, org_id: str) -> list[AttributeDefinition]:
    """Stores a definition for every attribute key contacts hold without one (flushes; the
    caller commits). For data loaded straight into the table, e.g. by a seed script."""
    known = {d.key for d in list_definitions(session, org_id=org_id)}
    created = []
    for key, kind in undefined_types(session, org_id=org_id, known=known).items():
        created.append(define(session, org_id=org_id, key=key, kind=kind,
                              show_in_list=len(known) + len(created) < 4))
    return created
