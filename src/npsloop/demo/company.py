"""Who the demo company is: 鲜达优选 FreshGo, a fresh-grocery e-commerce retailer.

Its team (every demo account uses the password DEMO_PASSWORD):

    demo@npsloop.local      owner    (the login printed by `npsloop serve`)
    analyst@npsloop.local   analyst  (builds surveys and reads results)
    agent@npsloop.local     agent    (works the close-the-loop queue)
    viewer@npsloop.local    viewer   (read-only, e.g. an executive)

and five surveys: a quarterly relationship NPS, three touchpoint surveys (after checkout,
after delivery, after customer service) and a twice-yearly strategic brand benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from npsloop.surveys import defaults
from npsloop.surveys.schemas import QuestionIn, SurveyCreate

DEMO_EMAIL = "demo@npsloop.local"
DEMO_PASSWORD = "npsloop-demo"
ORG_NAME = "鲜达优选 FreshGo"
TIMEZONE = "Asia/Shanghai"
BRAND = {"zh-CN": "鲜达优选", "en": "FreshGo"}

TEAM = (
    ("analyst@npsloop.local", "analyst", "李娜 Li Na"),
    ("agent@npsloop.local", "agent", "王强 Wang Qiang"),
    ("viewer@npsloop.local", "viewer", "陈静 Chen Jing"),
)
OWNER_NAME = "周敏 Zhou Min"

REASON_LABELS: dict[str, dict[str, str]] = {
    "price": {"zh-CN": "价格与优惠", "en": "Prices and deals"},
    "quality": {"zh-CN": "商品新鲜度与质量", "en": "Freshness and quality"},
    "delivery": {"zh-CN": "配送速度与包装", "en": "Delivery speed and packaging"},
    "service": {"zh-CN": "客服", "en": "Customer service"},
    "app": {"zh-CN": "App 使用体验", "en": "App experience"},
    "checkout": {"zh-CN": "下单与支付", "en": "Ordering and payment"},
    "returns": {"zh-CN": "退款与售后", "en": "Refunds and after-sales"},
    "other": {"zh-CN": "其他", "en": "Something else"},
}
REASON_QUESTION = {
    "zh-CN": "影响您这次评分的最主要因素是?",
    "en": "What influenced your score the most?",
}


@dataclass(frozen=True)
class SurveySpec:
    """A demo survey: its definition plus how its answers are generated."""

    code: str  # internal name used by the generator
    name: str
    nps_type: str
    journey_stage: str
    touchpoint: str
    drivers: tuple[str, ...]
    share: float  # share of all responses
    base: float  # latent satisfaction level before drivers and contact effects
    channels: tuple[tuple[str, float], ...]
    nps_text: dict[str, str]
    description: str
    status: str = "live"


SURVEYS: tuple[SurveySpec, ...] = (
    SurveySpec(
        code="relationship", name="季度关系 NPS · Quarterly relationship NPS",
        nps_type="relationship", journey_stage="retention", touchpoint="",
        drivers=("price", "quality", "delivery", "service", "app"), share=0.22, base=0.55,
        channels=(("email", 0.42), ("sms", 0.3), ("link", 0.16), ("widget", 0.12)),
        nps_text={"zh-CN": "您有多大可能向朋友或同事推荐鲜达优选?",
                  "en": "How likely are you to recommend FreshGo to a friend or colleague?"},
        description="每季度第二个周二发送给过去 90 天下过单的会员。 "
                    "Sent on the second Tuesday of each quarter to members who ordered in the "
                    "last 90 days.",
    ),
    SurveySpec(
        code="checkout", name="下单后 · After checkout",
        nps_type="touchpoint", journey_stage="conversion", touchpoint="checkout",
        drivers=("checkout", "app", "price"), share=0.2, base=0.95,
        channels=(("widget", 0.58), ("api", 0.24), ("link", 0.1), ("qr", 0.08)),
        nps_text={"zh-CN": "根据这次下单体验,您有多大可能向朋友或同事推荐鲜达优选?",
                  "en": "Based on this order, how likely are you to recommend FreshGo "
                        "to a friend or colleague?"},
        description="支付成功页内嵌问卷,10% 抽样。 In-app widget on the payment success page, "
                    "10% sample.",
    ),
    SurveySpec(
        code="delivery", name="配送后 · After delivery",
        nps_type="touchpoint", journey_stage="fulfilment", touchpoint="delivery",
        drivers=("delivery", "quality", "price"), share=0.39, base=0.8,
        channels=(("sms", 0.38), ("widget", 0.27), ("qr", 0.17), ("link", 0.1), ("email", 0.08)),
        nps_text={"zh-CN": "根据这次配送体验,您有多大可能向朋友或同事推荐鲜达优选?",
                  "en": "Based on this delivery, how likely are you to recommend FreshGo "
                        "to a friend or colleague?"},
        description="签收后 2 小时短信/App 推送,保温袋上也有二维码。 Sent 2 hours after "
                    "delivery by SMS or app push; a QR code is printed on the cool bag.",
    ),
    SurveySpec(
        code="service", name="客服后 · After customer service",
        nps_type="touchpoint", journey_stage="support", touchpoint="customer_service",
        drivers=("service", "returns", "app"), share=0.13, base=0.4,
        channels=(("sms", 0.4), ("widget", 0.3), ("email", 0.18), ("link", 0.12)),
        nps_text={"zh-CN": "根据这次客服体验,您有多大可能向朋友或同事推荐鲜达优选?",
                  "en": "Based on this support conversation, how likely are you to recommend "
                        "FreshGo to a friend or colleague?"},
        description="工单关闭后发送。 Sent when a support ticket is closed.",
    ),
    SurveySpec(
        code="strategic", name="品牌 NPS 基准调研 · Brand NPS benchmark",
        nps_type="strategic", journey_stage="referral", touchpoint="",
        drivers=("price", "quality", "delivery", "app"), share=0.06, base=0.3,
        channels=(("link", 0.6), ("email", 0.28), ("qr", 0.12)),
        nps_text={"zh-CN": "您有多大可能向朋友或同事推荐鲜达优选?",
                  "en": "How likely are you to recommend FreshGo to a friend or colleague?"},
        description="每年 3 月和 9 月与竞品一起做的市场基准调研。 Market benchmark run every "
                    "March and September alongside competitors.",
        status="paused",
    ),
)


def _reason_question(drivers: tuple[str, ...]) -> QuestionIn:
    options = [{"key": key, "labels": dict(REASON_LABELS[key])} for key in (*drivers, "other")]
    texts: dict[str, Any] = {lang: {"text": text} for lang, text in REASON_QUESTION.items()}
    return QuestionIn(kind="single_choice", key="main_reason", texts=texts, options=options)


def survey_create(spec: SurveySpec) -> SurveyCreate:
    """The SurveyCreate model of a spec: NPS, follow-up, driver ratings, main reason."""
    nps: dict[str, Any] = {"kind": "nps", "key": "nps", "required": True,
                           "texts": {lang: {"text": text} for lang, text in spec.nps_text.items()}}
    questions = [
        QuestionIn.model_validate(nps),
        QuestionIn.model_validate(defaults.followup_question()),
        *[QuestionIn.model_validate(defaults.driver_question(d)) for d in spec.drivers],
        _reason_question(spec.drivers),
    ]
    return SurveyCreate(
        name=spec.name, nps_type=spec.nps_type, journey_stage=spec.journey_stage,
        touchpoint=spec.touchpoint, status=spec.status, languages=["zh-CN", "en"],
        default_language="zh-CN", description=spec.description, questions=questions,
    )
