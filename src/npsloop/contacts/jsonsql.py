"""Typed reads of `Contact.attributes` that work on SQLite and PostgreSQL.

SQLAlchemy's JSON index accessors (`.as_string()`, `.as_float()`) give the value on
PostgreSQL, `json_extract` on SQLite. Number reads are guarded by the JSON type so that a
value of another type reads as NULL instead of failing a cast (a number attribute holds only
numbers when written through npsloop, but one stray value must not break every segment).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, case, func, literal

from npsloop.contacts.models import Contact

# JSON type names per dialect: SQLite's json_type() and PostgreSQL's json_typeof().
_KINDS = {
    "sqlite": {"string": ("text",), "number": ("integer", "real"), "true": ("true",),
               "false": ("false",)},
    "postgresql": {"string": ("string",), "number": ("number",), "true": ("boolean",),
                   "false": ("boolean",)},
}


def _kinds(dialect: str) -> dict[str, tuple[str, ...]]:
    return _KINDS["postgresql" if dialect == "postgresql" else "sqlite"]


def json_type(dialect: str, key: str) -> ColumnElement[str]:
    """The value's JSON type name, 'missing' when the key is absent (never NULL, so that
    NOT (...) of a test on it stays true or false)."""
    if dialect == "postgresql":
        kind = func.json_typeof(Contact.attributes[key])
    else:
        # The key is checked by values.check_key (letters, digits, '_', '-'): safe in a path.
        kind = func.json_type(Contact.attributes, literal(f'$."{key}"'))
    return func.coalesce(kind, "missing")


def has_kind(dialect: str, key: str, kind: str) -> ColumnElement[bool]:
    return json_type(dialect, key).in_(_kinds(dialect)[kind])


def is_set(dialect: str, key: str) -> ColumnElement[bool]:
    # Both extractors give SQL NULL for a missing key and for a JSON null.
    return _value(dialect, key).is_not(None)


def _value(dialect: str, key: str) -> ColumnElement[object]:
    if dialect == "postgresql":
        return Contact.attributes[key].as_string()
    # json_extract already returns SQL text / integer / real; no CAST needed (a CAST would
    # also turn the number 5 into the text '5').
    return func.json_extract(Contact.attributes, literal(f'$."{key}"'))


def string_value(dialect: str, key: str) -> ColumnElement[str]:
    """Text attributes are compared as they are: each JSON read parses the document again,
    so only numbers (below) pay for a type check."""
    return _value(dialect, key)


def number_value(dialect: str, key: str) -> ColumnElement[float]:
    """NULL unless the value is a JSON number: a stray text value must not fail the cast on
    PostgreSQL, nor compare greater than every number on SQLite."""
    if dialect == "postgresql":
        return case((has_kind(dialect, key, "number"), Contact.attributes[key].as_float()))
    return case((has_kind(dialect, key, "number"), _value(dialect, key)))


def boolean_is(dialect: str, key: str, wanted: bool) -> ColumnElement[bool]:
    if dialect == "postgresql":
        return Contact.attributes[key].as_string() == ("true" if wanted else "false")
    return has_kind(dialect, key, "true" if wanted else "false")
