"""Benchmark: comments analysed per second per core, zh and en, with bench_textmining's
per-CPU-second rate (other processes on the machine do not distort it).

For each language: the sentiment model alone and the full analysis (language, sentiment,
keywords, the 14 default topics), against a baseline measured in the same run: tokenising
the same comments (jieba for zh, the lexicon valence features for en), the step every
analysis starts with.

    .venv/bin/python -m bench.bench_text_throughput
"""

from __future__ import annotations

from bench.bench_textmining import SHORT, rate
from bench.common import Result
from npsloop.textmining import sentiment, topics
from npsloop.textmining.analyzer import analyse_text
from npsloop.textmining.features import en_lexicon_features, segmenter

COMMENTS = {
    "zh": [t for t in SHORT if not t.isascii()] + [
        "客服态度很好，问题当天就解决了", "退款太慢，打了三次电话都没人管",
        "会员价比超市便宜，以后还会再买", "骑手把鸡蛋摔碎了，申请售后很麻烦"],
    "en": [t for t in SHORT if t.isascii()] + [
        "Support solved my problem the same day", "The courier left the box in the rain",
        "Prices are fair and the quality is consistent", "Checkout failed twice on my phone"],
}


def run(seconds: float = 2.0) -> list[Result]:
    rules = [topics.TopicRule.of(t.key, p, {"zh": t.zh, "en": t.en})
             for t, p in topics.flatten(topics.DEFAULT_TAXONOMY)]
    results = []
    for lang, texts in COMMENTS.items():
        model = sentiment.model(lang)
        if lang == "zh":
            tokenise = segmenter().lcut
            base_name = "jieba segmentation"
        else:
            tokenise = en_lexicon_features
            base_name = "lexicon features"
        base = rate(tokenise, texts, seconds)
        sentiment_rate = rate(model.predict, texts, seconds)
        full_rate = rate(lambda t: analyse_text(t, rules=rules), texts, seconds)
        results += [
            Result("text", f"{lang}: sentiment, comments/s per core", sentiment_rate, "/s",
                   base, base_name),
            Result("text", f"{lang}: full analysis, comments/s per core", full_rate, "/s",
                   base, base_name),
        ]
    return results


def main() -> None:
    for result in run():
        print(result.line())


if __name__ == "__main__":
    main()
