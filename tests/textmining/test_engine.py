"""Language, tokens, keywords, sentiment on clear examples, topic rules: no database."""

import pytest

from npsloop.textmining import language, sentiment, text, topics
from npsloop.textmining.analyzer import analyse_text


@pytest.mark.parametrize(
    ("comment", "expected"),
    [
        ("快递太慢了", "zh"),
        ("app keeps crashing", "en"),
        ("app又闪退了", "zh"),  # a brand word inside Chinese stays Chinese
        ("买了iPhone 很满意", "zh"),
        ("The delivery was late, 客服态度也不好", "mixed"),
        ("这个app的UI设计 really bad, 很难用", "mixed"),
        ("Отлично", "other"),
        ("12345 !!!", "other"),
        ("", "other"),
    ],
)
def test_language_detection(comment, expected):
    assert language.detect(comment).language == expected


def test_chinese_tokens_use_domain_dictionary():
    assert "快递小哥" in text.tokens("快递小哥态度很好")
    assert "性价比" in text.tokens("这家店性价比很高")


def test_custom_words_stay_whole_for_that_vocabulary_only():
    vocab = text.Vocabulary.of(custom_words=["鲜果多多", "Fresh Go"])
    assert "鲜果多多" in text.tokens("鲜果多多的草莓不新鲜", vocab)
    assert "鲜果多多" not in text.tokens("鲜果多多的草莓不新鲜")
    assert "fresh go" in text.tokens("Fresh Go app crashes", vocab)


def test_stop_words_are_extendable():
    assert "物流" in text.terms("物流太慢")
    vocab = text.Vocabulary.of(stop_words=["物流"])
    assert "物流" not in text.terms("物流太慢", vocab)
    assert "太慢" in text.terms("物流太慢", vocab)
    # shipped stop words never become terms
    assert "the" not in text.terms("The customer service was slow")


def test_english_phrases_do_not_cross_punctuation():
    found = text.terms("Great app, fast delivery! customer service was rude")
    assert "customer service" in found and "fast delivery" in found
    assert "app fast" not in found


def test_keywords_prefer_terms_rare_in_the_corpus():
    corpus = text.corpus_stats([["快递", "太慢"]] * 50 + [["包装", "破损"]])
    top = text.keywords("快递，包装", corpus, limit=1)
    assert top == ["包装"]


@pytest.mark.parametrize(
    ("comment", "lang", "label"),
    [
        ("很满意，下次还来", "zh", "positive"),
        ("质量很好，物超所值，强烈推荐", "zh", "positive"),
        ("快递太慢了，等了一个星期，非常失望", "zh", "negative"),
        ("客服态度太差了，再也不买了", "zh", "negative"),
        ("Great app, fast delivery, love it!", "en", "positive"),
        ("Excellent service and friendly staff", "en", "positive"),
        ("Terrible experience, the app keeps crashing and support never answers", "en",
         "negative"),
        ("Awful quality, broke after one day. Waste of money.", "en", "negative"),
    ],
)
def test_sentiment_on_clear_examples(comment, lang, label):
    result = sentiment.model(lang).predict(comment)
    assert result.label == label
    assert -1.0 <= result.score <= 1.0
    assert (result.score > 0) == (label == "positive")


def test_negation_flips_english_sentiment():
    good = sentiment.model("en").predict("the food was good").score
    not_good = sentiment.model("en").predict("the food was not good").score
    assert not_good < good


def test_neutral_band_and_other_language():
    assert sentiment.label_of(0.1, 0.2) == "neutral"
    assert sentiment.label_of(-0.25, 0.2) == "negative"
    assert sentiment.analyse("Отлично", "other") is None


def test_topic_rules_with_synonyms_and_parents():
    rules = [
        topics.TopicRule.of("d", None, {"zh": ["快递"], "en": ["delivery"]},
                            {"delivery": ["shipping", "courier"]}),
        topics.TopicRule.of("speed", "d", {"zh": ["太慢"], "en": ["late"]}),
        topics.TopicRule.of("p", None, {"zh": ["价格"], "en": ["price"]}),
    ]
    assert topics.match_topics("快递太慢了", rules) == {"d": ["快递", "太慢"], "speed": ["太慢"]}
    # synonym and plural; parent inherits the child's hit
    assert set(topics.match_topics("Shipping was late twice", rules)) == {"d", "speed"}
    assert topics.match_topics("The couriers were friendly", rules) == {"d": ["courier"]}
    # whole words only in English
    assert topics.match_topics("priceless moments", rules) == {}
    assert "p" in topics.match_topics("Prices went up", rules)


def test_default_taxonomy_is_bilingual_and_unique():
    flat = topics.flatten(topics.DEFAULT_TAXONOMY)
    keys = [t.key for t, _ in flat]
    assert len(keys) == len(set(keys))
    assert {"delivery", "price", "quality", "customer_service", "app", "refund", "packaging",
            "freshness", "promotions"} <= set(keys)
    assert all(t.zh and t.en and t.name_zh and t.name_en for t, _ in flat)


def test_analyse_text_combines_everything():
    rules = [topics.TopicRule.of(t.key, p, {"zh": t.zh, "en": t.en})
             for t, p in topics.flatten(topics.DEFAULT_TAXONOMY)]
    result = analyse_text("快递太慢了，包装也破损了", rules=rules)
    assert result.language == "zh"
    assert result.sentiment_label == "negative"
    assert {"delivery", "delivery_speed", "packaging"} <= set(result.topic_hits)
    assert result.keywords
