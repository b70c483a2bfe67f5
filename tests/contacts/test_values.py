"""Field normalisation and type coercion (pure functions, no database)."""

from __future__ import annotations

from datetime import datetime

import pytest

from npsloop.contacts import values


@pytest.mark.parametrize("raw, country, expected", [
    ("13800138000", "86", "+8613800138000"),
    ("138 0013 8000", "86", "+8613800138000"),
    ("0086 138-0013-8000", "86", "+8613800138000"),
    ("010-12345678", "86", "+861012345678"),
    ("+44 20 7946 0958", "86", "+442079460958"),
    ("(202) 555-0123", "1", "+12025550123"),
])
def test_phone_to_e164(raw, country, expected):
    assert values.normalize_phone(raw, country) == expected


@pytest.mark.parametrize("raw", ["1380013", "12", "abc", "+12"])
def test_bad_phones(raw):
    with pytest.raises(ValueError):
        values.normalize_phone(raw, "86")


def test_email_and_language_and_stage():
    assert values.normalize_email(" Ann@Example.COM ") == "Ann@example.com"
    for bad in ("a@", "@b.cn", "a b@c.cn", "a@b"):
        with pytest.raises(ValueError):
            values.normalize_email(bad)
    assert values.normalize_language_field("中文") == "zh-CN"
    assert values.normalize_language_field("en-US") == "en"
    assert values.normalize_stage("留存") == "retention"
    with pytest.raises(ValueError):
        values.normalize_stage("later")


def test_text_coercion_and_inference():
    assert values.text_value("number", "1,234.50") == 1234.5
    assert values.text_value("number", 3.0) == 3
    assert values.text_value("boolean", "是") is True
    assert values.text_value("date", "2026/3/4") == "2026-03-04"
    assert values.text_value("date", datetime(2026, 3, 4, 10, 0)) == "2026-03-04"
    assert values.text_value("string", 10023.0) == "10023"
    assert values.infer_text_type(["01234", "20001"]) == "string"  # leading zero: a code
    assert values.infer_text_type(["1", "2", "x", "4", "5"]) == "number"  # 80% rule
    assert values.infer_text_type(["1", "x"]) == "string"
    assert values.infer_text_type(["2026-01-01", "2025/12/31"]) == "date"
    assert values.infer_text_type(["yes", "no", "no"]) == "boolean"
    with pytest.raises(ValueError, match="number"):
        values.strict_value("number", "5")
    with pytest.raises(ValueError):
        values.strict_value("number", True)
