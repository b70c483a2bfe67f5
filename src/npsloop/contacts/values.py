"""Checking and normalising contact fields and typed attribute values.

Two entry points per type: `strict` for JSON from the API (a number must be a JSON number),
and `from_text` for spreadsheet cells, where everything arrives as text (or as the cell's own
Python type from XLSX). Each raises ValueError with a message a person can act on.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from typing import Any

from npsloop.contacts.models import AttributeType, LifecycleStage
from npsloop.core.i18n import normalize_language

MAX_TEXT = 500
MAX_TAG = 64
MAX_TAGS = 50
KEY_RE = re.compile(r"^[^\W\d][\w-]{0,63}$")
TAG_SPLIT_RE = re.compile(r"[,;|，；、]")
EMAIL_RE = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}"
    r"[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
ISO_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
LOOSE_DATE_RE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")
PLAIN_NUMBER_RE = re.compile(r"^[+-]?(?:0|[1-9]\d{0,2}(?:,\d{3})+|[1-9]\d*)(?:\.\d+)?$")
TRUE_WORDS = {"true", "yes", "y", "1", "是", "对", "真"}
FALSE_WORDS = {"false", "no", "n", "0", "否", "不", "假"}
DEFAULT_COUNTRY_CODE = "86"


class Problem(ValueError):
    """A bad value: an English message, plus a code and parameters the pages translate
    (locales: contacts.error.<code>)."""

    def __init__(self, code: str, message: str, **params: object) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


def check_key(key: str) -> str:
    if not KEY_RE.match(key):
        raise Problem(
            "bad_key",
            "attribute names start with a letter and hold letters, digits, '_' or '-' (at most 64)",
        )
    return key


def key_from_header(header: str) -> str:
    """'Plan Type' -> 'plan_type'; '会员等级' stays as is."""
    key = re.sub(r"[^\w-]+", "_", header.strip()).strip("_").lower()
    if key and key[0].isdigit():
        key = f"a_{key}"
    return key[:64]


# --- typed attribute values ------------------------------------------------------------


def _date_text(value: date) -> str:
    return value.isoformat()[:10]


def _parse_date_text(text: str) -> str:
    text = text.strip()
    if ISO_DATE_RE.match(text):
        return _date_text(date.fromisoformat(text))
    loose = LOOSE_DATE_RE.match(text)
    if loose:
        year, month, day = (int(part) for part in loose.groups())
        return _date_text(date(year, month, day))
    # A full timestamp keeps its own calendar day (the offset it was written in).
    return _date_text(datetime.fromisoformat(text.replace("Z", "+00:00")).date())


def strict_value(kind: str, value: Any) -> Any:
    """A JSON value from the API checked against the attribute's type."""
    if kind == AttributeType.string:
        if not isinstance(value, str):
            raise Problem(
                "not_string",
                f"must be a string (this attribute is of type string), got {_json_kind(value)}",
            )
        if len(value) > MAX_TEXT:
            raise Problem("too_long", f"is longer than {MAX_TEXT} characters", max=MAX_TEXT)
        return value
    if kind == AttributeType.number:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise Problem(
                "not_number",
                f"must be a number (this attribute is of type number), got {_json_kind(value)}",
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise Problem("not_finite", "must be a finite number")
        return value
    if kind == AttributeType.boolean:
        if not isinstance(value, bool):
            raise Problem(
                "not_boolean",
                f"must be true or false (this attribute is of type boolean), "
                f"got {_json_kind(value)}",
            )
        return value
    if kind == AttributeType.date:
        if not isinstance(value, str):
            raise Problem(
                "not_date",
                f"must be a date string YYYY-MM-DD (this attribute is of type "
                f"date), got {_json_kind(value)}",
            )
        try:
            return _parse_date_text(value)
        except ValueError:
            raise Problem(
                "bad_date", f"'{value[:40]}' is not a date (YYYY-MM-DD)", value=value[:40]
            ) from None
    raise Problem("unknown_type", f"unknown attribute type '{kind}'")


def text_value(kind: str, value: Any) -> Any:
    """A spreadsheet cell (text, or a number/date/bool from XLSX) coerced to the type."""
    if isinstance(value, str):
        value = value.strip()
    if kind == AttributeType.string:
        text = cell_text(value)
        if len(text) > MAX_TEXT:
            raise Problem("too_long", f"is longer than {MAX_TEXT} characters", max=MAX_TEXT)
        return text
    if kind == AttributeType.number:
        if isinstance(value, bool):
            raise Problem("not_number", "must be a number")
        if isinstance(value, int | float):
            return _tidy_number(value)
        cleaned = str(value).replace(",", "").replace("，", "")
        try:
            number = float(cleaned)
        except ValueError:
            raise Problem(
                "bad_number", f"'{str(value)[:40]}' is not a number", value=str(value)[:40]
            ) from None
        if not math.isfinite(number):
            raise Problem("not_finite", "must be a finite number")
        return _tidy_number(number)
    if kind == AttributeType.boolean:
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise Problem(
            "bad_boolean",
            f"'{str(value)[:40]}' is not true/false (yes/no, 1/0, 是/否)",
            value=str(value)[:40],
        )
    if kind == AttributeType.date:
        if isinstance(value, datetime | date):
            return _date_text(value)
        try:
            return _parse_date_text(str(value))
        except ValueError:
            raise Problem(
                "bad_date", f"'{str(value)[:40]}' is not a date (YYYY-MM-DD)", value=str(value)[:40]
            ) from None
    raise Problem("unknown_type", f"unknown attribute type '{kind}'")


def infer_strict_type(value: Any) -> str:
    """The type a first-seen API value gives its attribute."""
    if isinstance(value, bool):
        return AttributeType.boolean
    if isinstance(value, int | float):
        return AttributeType.number
    if isinstance(value, str) and ISO_DATE_RE.match(value):
        try:
            date.fromisoformat(value)
            return AttributeType.date
        except ValueError:
            return AttributeType.string
    return AttributeType.string


def infer_text_type(samples: list[Any]) -> str:
    """The type a column of cells suggests: the first of boolean, number, date that at least
    80% of the non-empty samples fit (the rest are then reported as bad values, not allowed
    to turn the column into text). Numbers with a leading zero (postcodes, ids) are text."""
    values = [s.strip() if isinstance(s, str) else s for s in samples]
    values = [v for v in values if v not in (None, "")]
    if not values:
        return AttributeType.string

    def fits(test: Any) -> bool:
        return sum(1 for v in values if test(v)) >= max(1.0, 0.8 * len(values))

    if fits(lambda v: isinstance(v, bool) or str(v).lower() in BOOLEAN_WORDS):
        return AttributeType.boolean
    if fits(
        lambda v: (
            (isinstance(v, int | float) and not isinstance(v, bool))
            or bool(PLAIN_NUMBER_RE.match(str(v)))
        )
    ):
        return AttributeType.number
    if fits(_looks_like_date):
        return AttributeType.date
    return AttributeType.string


BOOLEAN_WORDS = {"true", "false", "yes", "no", "是", "否"}


def _looks_like_date(value: Any) -> bool:
    if isinstance(value, datetime | date):
        return True
    text = str(value)
    if not (ISO_DATE_RE.match(text) or LOOSE_DATE_RE.match(text)):
        return False
    try:
        _parse_date_text(text)
        return True
    except ValueError:
        return False


def _tidy_number(number: float | int) -> float | int:
    if isinstance(number, float) and number.is_integer() and abs(number) < 2**53:
        return int(number)
    return number


def cell_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime) and value.time() == datetime.min.time():
        return value.date().isoformat()
    return str(value)


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "an object"


# --- built-in fields -------------------------------------------------------------------


def normalize_email(value: str) -> str:
    email = value.strip()
    if len(email) > 320 or not EMAIL_RE.match(email):
        raise Problem("bad_email", f"'{value[:60]}' is not an email address", value=value[:60])
    local, _, domain = email.rpartition("@")
    return f"{local}@{domain.lower()}"


def normalize_phone(value: str, country_code: str = DEFAULT_COUNTRY_CODE) -> str:
    """E.164 where the number says enough: '+44 20 7946 0958' -> '+442079460958',
    '0086 138-0013-8000' -> '+8613800138000'; a national number gets the organisation's
    country code (mainland China by default: '13800138000' -> '+8613800138000')."""
    raw = value.strip()
    digits = re.sub(r"[\s\-().（）]", "", raw)
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    if digits.startswith("+"):
        body = digits[1:]
    elif country_code == "86":
        # Mainland numbers: an 11-digit mobile (1xx), or a landline with its 0 area code.
        if re.fullmatch(r"(86)?1[3-9]\d{9}", digits):
            body = digits if digits.startswith("86") else "86" + digits
        elif re.fullmatch(r"0[1-9]\d{8,10}", digits):
            body = "86" + digits[1:]
        else:
            raise Problem(
                "bad_mainland_phone",
                f"'{value[:40]}' is not a mainland China mobile or landline "
                "number; write other countries with +country code",
                value=value[:40],
            )
    else:
        national = digits[1:] if digits.startswith("0") else digits
        if not re.fullmatch(r"\d{6,12}", national):
            raise Problem("bad_phone", f"'{value[:40]}' is not a phone number", value=value[:40])
        body = country_code + national
    if not body.isdigit() or not 8 <= len(body) <= 15 or body.startswith("0"):
        raise Problem("bad_phone", f"'{value[:40]}' is not a phone number", value=value[:40])
    return "+" + body


LANGUAGE_WORDS = {"中文": "zh-CN", "简体中文": "zh-CN", "汉语": "zh-CN", "英文": "en", "英语": "en"}


def normalize_language_field(value: str) -> str:
    language = LANGUAGE_WORDS.get(value.strip()) or normalize_language(value)
    if language is None:
        raise Problem(
            "bad_language",
            f"'{value[:20]}' is not a supported language (zh-CN or en)",
            value=value[:20],
        )
    return language


def normalize_stage(value: str) -> str:
    stage = value.strip().lower()
    stage = STAGE_ALIASES.get(stage, stage)
    if stage not in {s.value for s in LifecycleStage}:
        allowed = ", ".join(s.value for s in LifecycleStage)
        raise Problem(
            "bad_stage", f"'{value[:30]}' is not a lifecycle stage ({allowed})", value=value[:30]
        )
    return stage


STAGE_ALIASES = {
    "获客": "acquisition",
    "留存": "retention",
    "转化": "conversion",
    "推荐": "referral",
    "拉新": "acquisition",
    "复购": "retention",
}


def normalize_tags(values: list[str] | str) -> list[str]:
    items = TAG_SPLIT_RE.split(values) if isinstance(values, str) else values
    tags: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise Problem("tags_not_strings", "tags must be strings")
        tag = item.strip()
        if not tag:
            continue
        if len(tag) > MAX_TAG:
            raise Problem(
                "tag_too_long",
                f"tag '{tag[:20]}…' is longer than {MAX_TAG} characters",
                value=tag[:20],
                max=MAX_TAG,
            )
        if tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise Problem("too_many_tags", f"at most {MAX_TAGS} tags per contact", max=MAX_TAGS)
    return tags
