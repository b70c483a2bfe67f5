"""The shipped sentiment models on real comments, and the split discipline of their data."""

import numpy as np
import pytest

from npsloop.textmining import language, sentiment, trainset
from npsloop.textmining.features import DATA_DIR


def score(lang: str, comment: str) -> float:
    return sentiment.model(lang).predict(comment).score


@pytest.mark.parametrize(
    ("comment", "label"),
    [
        ("东西收到了，很满意，五星好评", "positive"),
        ("酒店位置方便，房间干净，服务周到", "positive"),
        ("这本书写得很好，值得一读", "positive"),
        ("屏幕有坏点，联系客服也没人管，太失望了", "negative"),
        ("房间又小又脏，隔音很差，再也不会住了", "negative"),
        ("用了两天就坏了，简直是垃圾", "negative"),
    ],
)
def test_chinese_comments(comment, label):
    assert sentiment.model("zh").predict(comment).label == label


@pytest.mark.parametrize(
    ("comment", "positive"),
    [
        ("很喜欢这本书", True),
        ("物流很快", True),
        ("水果很新鲜", True),
        ("故事很感人，推荐大家看", True),
        ("有点贵", False),
        ("包装破损", False),
        ("快递太慢了", False),
    ],
)
def test_short_chinese_comments_lean_the_right_way(comment, positive):
    # Trained on long reviews alone the model called "很喜欢这本书" negative (-0.38); the
    # clause examples in training (scripts/train_sentiment.py) fixed its lean on short text.
    assert (score("zh", comment) > 0) == positive


@pytest.mark.parametrize(
    ("comment", "label"),
    [
        ("Works perfectly and the battery lasts all day. Highly recommend!", "positive"),
        ("A charming, funny and moving film.", "positive"),
        ("Stopped working after a week and the refund never came.", "negative"),
        ("Boring, predictable and far too long.", "negative"),
    ],
)
def test_english_comments(comment, label):
    assert sentiment.model("en").predict(comment).label == label


@pytest.mark.parametrize(
    ("plain", "negated"),
    [
        ("质量好", "质量不好"),
        ("推荐购买", "不推荐购买"),
        ("服务很满意", "服务很不满意"),
    ],
)
def test_chinese_negation_lowers_the_score(plain, negated):
    assert score("zh", plain) > score("zh", negated)
    assert sentiment.model("zh").predict(negated).label == "negative"


@pytest.mark.parametrize(
    ("plain", "negated"),
    [
        ("I would recommend it", "I would not recommend it"),
        ("The support was helpful", "The support wasn't helpful"),
    ],
)
def test_english_negation_lowers_the_score(plain, negated):
    assert score("en", plain) > score("en", negated)
    assert sentiment.model("en").predict(negated).label != "positive"


def test_mixed_comments_blend_both_models():
    for comment, label in (("The delivery was late, 客服态度也不好", "negative"),
                           ("Great quality, 物流也很快，非常满意", "positive")):
        guess = language.detect(comment)
        assert guess.language == "mixed"
        result = sentiment.analyse(comment, guess.language, guess.zh_share)
        assert result is not None and result.label == label


def test_scores_stay_in_range_and_labels_follow_the_band():
    comments = ["", "!!!", "好" * 2000, "bad " * 500, "😀👍", "一般般吧", "It's ok I guess",
                "ＧＲＥＡＴ　ＡＰＰ！", "不不不不不", "not not not good"]
    for lang in sentiment.LANGS:
        model = sentiment.model(lang)
        for comment in comments:
            result = model.predict(comment)
            assert -1.0 <= result.score <= 1.0
            assert result.label == sentiment.label_of(result.score, model.neutral_band)


def test_full_width_and_half_width_text_score_alike():
    assert score("zh", "质量很好！") == score("zh", "质量很好!")
    assert score("en", "ＧＲＥＡＴ app") == score("en", "great app")


def test_shipped_models_are_plain_arrays_with_their_training_record():
    for lang in sentiment.LANGS:
        path = DATA_DIR / f"sentiment_{lang}.npz"
        assert path.stat().st_size < 5_000_000
        with np.load(path, allow_pickle=False) as archive:  # no code runs on load
            assert {"features", "weights", "dense", "meta"} <= set(archive.files)
        meta = sentiment.model(lang).meta
        assert meta["lang"] == lang
        assert meta["validation_size"] > 1000 and meta["train_size"] > 10000
        assert meta["validation_accuracy"] > 0.8


def test_dedupe_drops_texts_that_carry_both_labels():
    examples = [trainset.Example("很好", 1, "t"), trainset.Example("很 好", 1, "t"),
                trainset.Example("一般", 1, "t"), trainset.Example("一般", 0, "t"),
                trainset.Example("很差", 0, "t")]
    kept, stats = trainset.dedupe(examples)
    assert [e.text for e in kept] == ["很好", "很差"]
    assert stats == {"raw": 5, "unique": 3, "contradictory": 1, "kept": 2}


def test_near_duplicates_never_straddle_the_split():
    base = "the battery died after two days and the seller ignored every message"
    # Near-copies whose own hashes fall in different buckets: alone they would be split up.
    variants = [base, base + " again", base.replace("two", "three"), base + "!!! avoid"]
    assert len({trainset.bucket(trainset.dedupe_key(v)) for v in variants}) > 1
    unrelated = ["lovely staff and a clean room", "刚收到，包装完好，很满意"]
    parts = trainset.split([trainset.Example(t, 0, "t") for t in variants + unrelated])
    where = {e.text: name for name, part in parts.items() for e in part}
    assert len({where[v] for v in variants}) == 1
    assert sum(len(p) for p in parts.values()) == len(variants) + len(unrelated)
    groups = trainset.near_duplicate_groups(variants + unrelated)
    assert len(set(groups[:4])) == 1 and len(set(groups)) == 3
