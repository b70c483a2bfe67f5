"""Standard wording: the NPS question, category follow-ups and common drivers (zh-CN, en)."""

from __future__ import annotations

from typing import Any

NPS_TEXT = {
    "zh-CN": "您有多大可能向朋友或同事推荐{brand}?",
    "en": "How likely are you to recommend {brand} to a friend or colleague?",
}
BRAND_FALLBACK = {"zh-CN": "我们", "en": "us"}

FOLLOWUP_TEXT = {
    "zh-CN": {
        "promoter": "太好了!您最喜欢我们哪一点?",
        "passive": "我们怎样做才能让您更满意?",
        "detractor": "很抱歉让您失望了。主要是哪些方面没有做好?",
    },
    "en": {
        "promoter": "Great! What do you like most about us?",
        "passive": "What could we do to make you happier?",
        "detractor": "We're sorry. What disappointed you most?",
    },
}

DRIVER_LABELS: dict[str, dict[str, str]] = {
    "price": {"zh-CN": "价格", "en": "Price"},
    "quality": {"zh-CN": "商品质量", "en": "Product quality"},
    "delivery": {"zh-CN": "配送速度", "en": "Delivery"},
    "service": {"zh-CN": "客户服务", "en": "Customer service"},
    "app": {"zh-CN": "App 与网站体验", "en": "App and website"},
    "checkout": {"zh-CN": "下单与支付", "en": "Checkout and payment"},
    "returns": {"zh-CN": "退换货", "en": "Returns and refunds"},
}
DRIVER_PROMPT = {
    "zh-CN": "请为以下方面打分(1 很差 - 5 很好):{label}",
    "en": "Please rate {label} (1 very poor - 5 excellent)",
}


def nps_question(brand: str | None = None) -> dict[str, Any]:
    texts = {
        lang: {"text": text.format(brand=brand or BRAND_FALLBACK[lang])}
        for lang, text in NPS_TEXT.items()
    }
    return {"kind": "nps", "key": "nps", "required": True, "texts": texts}


def followup_question() -> dict[str, Any]:
    texts = {
        lang: {"text": by_cat["passive"], "by_category": dict(by_cat)}
        for lang, by_cat in FOLLOWUP_TEXT.items()
    }
    return {"kind": "open_followup", "key": "comment", "required": False, "texts": texts}


def driver_question(key: str) -> dict[str, Any]:
    labels = DRIVER_LABELS.get(key, {"zh-CN": key, "en": key.replace("_", " ").title()})
    texts = {lang: {"text": labels[lang], "prompt": DRIVER_PROMPT[lang].format(label=labels[lang])}
             for lang in ("zh-CN", "en")}
    return {"kind": "driver_rating", "key": key, "required": False, "texts": texts}


def default_questions(drivers: list[str], brand: str | None = None) -> list[dict[str, Any]]:
    return [nps_question(brand), followup_question(), *[driver_question(d) for d in drivers]]
