"""Typed reads of `Contact.attributes` that work on SQLite and PostgreSQL.

SQLAlchemy's JSON index accessors (`.as_string()`, `.as_float()`) give the value; a guard on
the JSON type makes a value of another type read as NULL instead of failing a cast on
PostgreSQL (a number attribute should only ever hold numbers, but one stray value must not
break every segment of the organisation).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, case, func, literal

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
    kinds = _kinds(dialect)
    return json_type(dialect, key).in_(
        sorted({*kinds["string"], *kinds["number"], *kinds["true"], *kinds["false"]}))


def _sqlite_value(key: str) -> ColumnElement[object]:
    # json_extract already returns SQL text / integer / real; no CAST needed (a CAST would
    # also turn the number 5 into the text '5').
    return func.json_extract(Contact.attributes, literal(f'$."{key}"'))


def string_value(dialect: str, key: str) -> ColumnElement[str]:
    if dialect != "postgresql":
        return case((has_kind(dialect, key, "string"), _sqlite_value(key)))
    return case((has_kind(dialect, key, "string"), Contact.attributes[key].as_string()))


def number_value(dialect: str, key: str) -> ColumnElement[float]:
    if dialect != "postgresql":
        return case((has_kind(dialect, key, "number"), _sqlite_value(key)))
    return case((has_kind(dialect, key, "number"), Contact.attributes[key].as_float()))


def boolean_is(dialect: str, key: str, wanted: bool) -> ColumnElement[bool]:
    if dialect == "postgresql":
        return and_(has_kind(dialect, key, "true"),
                    Contact.attributes[key].as_string() == ("true" if wanted else "false"))
    return has_kind(dialect, key, "true" if wanted else "false")
