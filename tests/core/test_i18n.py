"""zh-CN and en catalogs are complete and language negotiation behaves."""

from npsloop.core.i18n import LANGUAGES, catalogs, negotiate, normalize_language, translate


def test_catalogs_have_the_same_keys():
    tables = catalogs()
    zh, en = set(tables["zh-CN"]), set(tables["en"])
    assert zh == en, f"only zh: {sorted(zh - en)}; only en: {sorted(en - zh)}"
    assert all(tables[lang][k].strip() for lang in LANGUAGES for k in tables[lang])


def test_negotiation():
    assert negotiate("en-US,en;q=0.9,zh-CN;q=0.8") == "en"
    assert negotiate("zh-TW;q=0.9, en;q=0.5") == "zh-CN"
    assert negotiate("fr-FR", default="en") == "en"
    assert negotiate(None) == "zh-CN"
    assert normalize_language("zh_cn") == "zh-CN"
    assert normalize_language("de") is None


def test_translate_falls_back_to_key():
    assert translate("no.such.key", "en") == "no.such.key"
    assert translate("login.title", "zh-CN") == "登录"
