"""Translation layer: each domain ships `locales/en.json` and `locales/zh-CN.json`.

Catalogs are per domain so that domains stay independent; keys are namespaced by
convention (`dashboard.title`). A test keeps the two languages' key sets identical.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

LANGUAGES = ("zh-CN", "en")
PACKAGE_ROOT = Path(__file__).resolve().parent.parent


@lru_cache
def catalogs() -> dict[str, dict[str, str]]:
    merged: dict[str, dict[str, str]] = {lang: {} for lang in LANGUAGES}
    for lang in LANGUAGES:
        for path in sorted(PACKAGE_ROOT.glob(f"*/locales/{lang}.json")):
            merged[lang].update(json.loads(path.read_text(encoding="utf-8")))
    return merged


def normalize_language(value: str | None) -> str | None:
    """Map 'zh', 'zh-cn', 'zh_CN', 'zh-Hans' to 'zh-CN' and 'en-US' to 'en'."""
    if not value:
        return None
    v = value.strip().replace("_", "-").lower()
    if v.startswith("zh"):
        return "zh-CN"
    if v.startswith("en"):
        return "en"
    return None


def negotiate(accept_language: str | None, default: str = "zh-CN") -> str:
    if not accept_language:
        return default
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        lang = normalize_language(tag)
        if lang:
            weighted.append((-quality, index, lang))
    return sorted(weighted)[0][2] if weighted else default


def translate(key: str, lang: str, **params: object) -> str:
    table = catalogs().get(lang) or catalogs()["en"]
    text = table.get(key) or catalogs()["en"].get(key) or key
    return text.format(**params) if params else text


class Translator:
    """Bound to one language; templates call it as `t('key')`."""

    def __init__(self, lang: str) -> None:
        self.lang = lang

    def __call__(self, key: str, **params: object) -> str:
        return translate(key, self.lang, **params)
