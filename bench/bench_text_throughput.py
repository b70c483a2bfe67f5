"""Benchmark: comments analysed per second per core, zh and en, with bench_textmining's
per-CPU-second rate (other processes on the machine do not distort it).

For each language, at both sentiment operating points: the n-gram model alone (e5 margin 0)
and the cascade at the margin shipped with the model (unsure comments also embedded with e5,
a batch at a time, as the outbox worker and `npsloop text reprocess` do). Measured: the
sentiment alone and the full analysis (language, sentiment, keywords, the 14 default
topics), against a baseline measured in the same run: tokenising the same comments (jieba
for zh, the lexicon valence features for en), the step every analysis starts with.

The cascade's rate depends on the share of comments it routes to e5 (printed): the
comments here are the short ones below plus the 80 hand-written comments of
bench/data/textmining_themes.tsv; bench_textmining.py reports the share on held-out data.
The e5 cache is emptied before every batch, so no embedding is reused; e5 runs on one thread
(OMP_NUM_THREADS=1, set by bench_textmining) so that its CPU time is per core.

    .venv/bin/python -m bench.bench_text_throughput
"""

from __future__ import annotations

import time

from bench.bench_textmining import SHORT, THEMES, rate
from bench.common import Result
from npsloop.textmining import language, sentiment, topics
from npsloop.textmining.analyzer import analyse_text, prefetch_sentiment
from npsloop.textmining.features import en_lexicon_features, segmenter

BATCH = 20  # events the outbox worker claims at a time

COMMENTS = {
    "zh": [t for t in SHORT if not t.isascii()] + [
        "客服态度很好，问题当天就解决了", "退款太慢，打了三次电话都没人管",
        "会员价比超市便宜，以后还会再买", "骑手把鸡蛋摔碎了，申请售后很麻烦"],
    "en": [t for t in SHORT if t.isascii()] + [
        "Support solved my problem the same day", "The courier left the box in the rain",
        "Prices are fair and the quality is consistent", "Checkout failed twice on my phone"],
}


def cascade_comments() -> dict[str, list[str]]:
    themed = [line.split("\t", 1)[1] for line in THEMES.read_text(encoding="utf-8").splitlines()
              if line.strip() and not line.startswith("#")]
    return {lang: texts + [t for t in themed if language.detect(t).language == lang]
            for lang, texts in COMMENTS.items()}


def batched_rate(analyse_one, texts: list[str], margin: float, seconds: float) -> float:
    """Comments per CPU-second when each batch is prefetched (one e5 call) then analysed."""
    def one_pass(_: object) -> None:
        for start in range(0, len(texts), BATCH):
            batch = texts[start : start + BATCH]
            sentiment.clear_e5_cache()
            prefetch_sentiment(batch, margin)
            for comment in batch:
                analyse_one(comment)

    one_pass(None)  # warm-up: first-use costs (model pages, caches) are not per comment
    return rate(one_pass, [None], seconds) * len(texts)


def routed_share(texts: list[str], lang: str, margin: float) -> float:
    m = sentiment.model(lang)
    return sum(abs(m.probability(t) - 0.5) < margin for t in texts) / len(texts)


def run(seconds: float = 2.0) -> list[Result]:
    rules = [topics.TopicRule.of(t.key, p, {"zh": t.zh, "en": t.en})
             for t, p in topics.flatten(topics.DEFAULT_TAXONOMY)]
    results = []
    for lang, texts in cascade_comments().items():
        model = sentiment.model(lang)
        if lang == "zh":
            tokenise = segmenter().lcut
            base_name = "jieba segmentation"
        else:
            tokenise = en_lexicon_features
            base_name = "lexicon features"
        base = rate(tokenise, texts, seconds)
        margin = model.shipped_margin
        if margin:
            sentiment.embed(["warm-up"])  # loading the e5 model is once per process
        share = routed_share(texts, lang, margin)
        for point, m in (("n-gram only", 0.0), (f"cascade, margin {margin:g}", margin)):
            started = time.perf_counter()
            sentiment_rate = batched_rate(
                lambda t, m=m, lang=lang: sentiment.analyse(t, lang, 1.0, m), texts, m,
                seconds)
            full_rate = batched_rate(
                lambda t, m=m: analyse_text(t, rules=rules, margin=m), texts, m, seconds)
            note = f"{len(texts)} comments, {share if m else 0:.0%} routed to e5; " \
                   f"{time.perf_counter() - started:.0f}s wall"
            results += [
                Result("text", f"{lang}: sentiment ({point}), comments/s per core",
                       sentiment_rate, "/s", base, base_name, note=note),
                Result("text", f"{lang}: full analysis ({point}), comments/s per core",
                       full_rate, "/s", base, base_name, note=note),
            ]
    return results


def main() -> None:
    for result in run():
        print(result.line() + (f"  ({result.note})" if result.note else ""))


if __name__ == "__main__":
    main()
