"""Topic rules: the default e-commerce/services taxonomy and the matcher.

A topic has keywords per language and synonyms (a synonym matches as its keyword does).
Chinese keywords match as substrings (Chinese has no spaces; "快递" should match "快递太慢");
English keywords match whole words, with an optional plural/verb "s"/"es"/"ed"/"ing" ending.
A comment matching a sub-topic also belongs to its parent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from npsloop.textmining.features import normalize
from npsloop.textmining.language import HAN


@dataclass(frozen=True)
class TopicRule:
    id: str
    parent_id: str | None
    keywords: tuple[str, ...]  # all languages and synonyms, lower-cased

    @classmethod
    def of(cls, id: str, parent_id: str | None, keywords: dict[str, list[str]],
           synonyms: dict[str, list[str]] | None = None) -> TopicRule:
        terms = [k for words in keywords.values() for k in words]
        for variants in (synonyms or {}).values():
            terms.extend(variants)
        cleaned = tuple(dict.fromkeys(t.strip().lower() for t in terms if t.strip()))
        return cls(id, parent_id, cleaned)


@lru_cache(maxsize=4096)
def _english_pattern(word: str) -> re.Pattern[str]:
    return re.compile(r"(?<![a-z0-9])" + re.escape(word) + r"(?:s|es|ed|d|ing)?(?![a-z0-9])")


def matches(keyword: str, lowered_text: str) -> bool:
    if HAN.search(keyword):
        return keyword in lowered_text
    return _english_pattern(keyword).search(lowered_text) is not None


@lru_cache(maxsize=4096)
def _rule_matcher(keywords: tuple[str, ...]) -> tuple[tuple[str, ...], re.Pattern[str] | None]:
    """Han keywords (substring tests) and one alternation regex for the English ones."""
    han = tuple(k for k in keywords if HAN.search(k))
    latin = sorted((k for k in keywords if not HAN.search(k)), key=len, reverse=True)
    if not latin:
        return han, None
    body = "|".join(re.escape(k) for k in latin)
    return han, re.compile(r"(?<![a-z0-9])(?:" + body + r")(?:s|es|ed|d|ing)?(?![a-z0-9])")


def _hits(rule: TopicRule, lowered: str) -> list[str]:
    han, pattern = _rule_matcher(rule.keywords)
    hits = [k for k in han if k in lowered]
    if pattern is not None and pattern.search(lowered):
        hits += [k for k in rule.keywords if not HAN.search(k) and matches(k, lowered)]
    return hits


def match_topics(text: str, rules: Iterable[TopicRule]) -> dict[str, list[str]]:
    """topic id -> the keywords that matched (parents inherit their children's matches)."""
    lowered = normalize(text).lower()
    rules = list(rules)
    by_id = {r.id: r for r in rules}
    found: dict[str, list[str]] = {}
    for rule in rules:
        hits = _hits(rule, lowered)
        if hits:
            found.setdefault(rule.id, []).extend(hits)
            parent = by_id.get(rule.parent_id or "")
            while parent is not None:
                found.setdefault(parent.id, []).extend(hits)
                parent = by_id.get(parent.parent_id or "")
    return {k: list(dict.fromkeys(v)) for k, v in found.items()}


@dataclass(frozen=True)
class DefaultTopic:
    key: str
    name_zh: str
    name_en: str
    zh: list[str]
    en: list[str]
    children: list[DefaultTopic] = field(default_factory=list)


DEFAULT_TAXONOMY: list[DefaultTopic] = [
    DefaultTopic("delivery", "配送物流", "Delivery", ["快递", "物流", "配送", "送货", "发货",
                 "到货", "送达"],
                 ["delivery", "deliver", "shipping", "shipment", "courier", "arrive"], [
        DefaultTopic("delivery_speed", "配送速度", "Delivery speed",
                     ["太慢", "很慢", "慢死", "及时", "准时", "迟到", "延误", "很快", "超时"],
                     ["late", "slow delivery", "on time", "delay", "fast delivery"]),
        DefaultTopic("courier", "配送员", "Courier", ["快递员", "快递小哥", "配送员", "骑手"],
                     ["driver", "courier", "rider"]),
    ]),
    DefaultTopic("price", "价格", "Price", ["价格", "太贵", "便宜", "性价比", "划算",
                                            "涨价", "价钱"],
                 ["price", "expensive", "cheap", "pricey", "value for money", "overpriced"]),
    DefaultTopic("promotions", "优惠活动", "Coupons & promotions",
                 ["优惠券", "优惠", "满减", "红包", "折扣", "活动", "会员", "积分"],
                 ["coupon", "discount", "promotion", "promo", "voucher", "membership", "points"]),
    DefaultTopic("quality", "商品质量", "Product quality",
                 ["质量", "品质", "做工", "假货", "正品", "次品", "瑕疵", "好用"],
                 ["quality", "fake", "defective", "broken", "durable", "genuine"]),
    DefaultTopic("freshness", "新鲜度", "Freshness",
                 ["新鲜", "不新鲜", "变质", "腐烂", "烂了", "过期", "保质期", "发霉", "坏了"],
                 ["fresh", "freshness", "rotten", "spoiled", "expired", "stale", "mouldy"]),
    DefaultTopic("packaging", "包装", "Packaging",
                 ["包装", "破损", "压坏", "漏液", "盒子", "冰袋"],
                 ["packaging", "package", "packed", "box", "damaged", "leaking", "ice pack"]),
    DefaultTopic("customer_service", "客服", "Customer service",
                 ["客服", "售后", "服务态度", "态度", "回复", "投诉", "人工"],
                 ["customer service", "support", "service", "agent", "staff", "rude",
                  "helpful", "response"]),
    DefaultTopic("refund", "退款退货", "Refunds & returns",
                 ["退款", "退货", "换货", "退钱", "赔偿", "补发"],
                 ["refund", "return", "exchange", "money back", "compensation"]),
    DefaultTopic("app", "App与小程序", "App & website",
                 ["app", "小程序", "网站", "页面", "界面", "下单", "登录", "闪退", "卡顿", "加载"],
                 ["app", "website", "site", "page", "login", "log in", "checkout", "crash",
                  "bug", "interface"], [
        DefaultTopic("app_stability", "闪退卡顿", "Crashes & lag",
                     ["闪退", "卡顿", "崩溃", "打不开"],
                     ["crash", "freeze", "lag", "bug", "not loading"]),
        DefaultTopic("payment", "支付", "Payment", ["支付", "付款", "扣款", "结账"],
                     ["payment", "pay", "checkout", "charged"]),
    ]),
    DefaultTopic("assortment", "品类库存", "Range & stock",
                 ["缺货", "断货", "品类", "种类", "选择", "没货", "库存"],
                 ["out of stock", "stock", "selection", "range", "variety", "available"]),
]


def flatten(taxonomy: list[DefaultTopic], parent: str | None = None
            ) -> list[tuple[DefaultTopic, str | None]]:
    out: list[tuple[DefaultTopic, str | None]] = []
    for topic in taxonomy:
        out.append((topic, parent))
        out.extend(flatten(topic.children, topic.key))
    return out
