"""Analysis pages: drivers, cross-tab and journey map show the numbers of their API, name
the method, handle bad filters and both languages; sign-in required."""

import html
import re
from datetime import UTC, datetime

import numpy as np
import pytest

from npsloop.core.i18n import catalogs
from tests.analytics.helpers import add_contact, add_response, add_scores, counts_scores

AT = datetime(2026, 3, 10, 4, tzinfo=UTC)


def login(client, org):
    response = client.post("/login", data={"email": org.owner_email, "password": org.password,
                                           "next": "/"}, follow_redirects=False)
    assert response.status_code == 303, response.text


def _seed(db, org, survey):
    rng = np.random.default_rng(5)
    for _ in range(80):
        price = int(rng.integers(1, 6))
        delivery = int(rng.integers(1, 6))
        score = int(np.clip(2 * price + 0.3 * delivery - 2 + rng.normal(), 0, 10))
        add_response(db, org.org_id, survey["id"], score, at=AT, channel="email",
                     drivers={"price": price, "delivery": delivery})
    add_scores(db, org.org_id, survey["id"], counts_scores(5, 5, 20), at=AT, channel="sms")


def test_pages_need_sign_in(client):
    for path in ("/insights/drivers", "/insights/crosstab", "/insights/journey",
                 "/insights/profile"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code in (302, 303, 307), path


def test_drivers_page_shows_the_api_numbers_and_the_method(client, db, org, survey):
    _seed(db, org, survey)
    login(client, org)
    api = client.get("/api/v1/stats/drivers", headers=org.headers,
                     params={"survey_id": survey["id"]}).json()
    page = client.get("/insights/drivers", params={"survey_id": survey["id"], "lang": "en"})
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert "Johnson's relative weights" in text
    assert re.search(r'data-testid="r2">\s*' + re.escape(f"{api['r2']:.2f}"), text)
    for driver in api["drivers"]:
        assert f"{driver['weight']:.3f}" in text
        assert f"{driver['ci_low']:.3f} – {driver['ci_high']:.3f}" in text
    assert text.count('<g class="dot') == len(api["drivers"])
    zh = client.get("/insights/drivers", params={"survey_id": survey["id"], "lang": "zh-CN"})
    assert "Johnson 相对权重" in zh.text


def test_crosstab_page_cells_and_export_links(client, db, org, survey):
    _seed(db, org, survey)
    login(client, org)
    api = client.get("/api/v1/stats/crosstab", headers=org.headers,
                     params={"rows": "channel", "cols": "language"}).json()
    page = client.get("/insights/crosstab", params={"rows": "channel", "cols": "language",
                                                    "lang": "en"})
    assert page.status_code == 200
    text = html.unescape(page.text)
    for cell in api["cells"]:
        assert f"n={cell['n']} · ±{cell['margin']:.1f}" in text
    assert f"χ² = {api['row_test']['statistic']:.2f}" in text
    assert "/api/v1/stats/crosstab?rows=channel&cols=language&format=csv" in text
    bad = client.get("/insights/crosstab", params={"rows": "shoe", "lang": "en"})
    assert bad.status_code == 422 and "<code>rows</code>" in bad.text
    typo = client.get("/insights/crosstab", params={"chanel": "sms"})
    assert typo.status_code == 422 and "<code>chanel</code>" in typo.text


def test_journey_page(client, db, org):
    login(client, org)
    body = {"name": "Courier", "status": "live", "nps_type": "touchpoint",
            "journey_stage": "delivery", "touchpoint": "courier"}
    sid = client.post("/api/v1/surveys", json=body, headers=org.headers).json()["id"]
    empty = client.get("/insights/journey", params={"lang": "en"})
    assert "No journey stages yet" in empty.text
    add_scores(db, org.org_id, sid, counts_scores(10, 5, 25), at=AT)
    page = client.get("/insights/journey", params={"lang": "en"})
    text = html.unescape(page.text)
    assert "delivery" in text and "courier" in text
    assert "-37.5" in text and "tone-poor" in text


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_no_raw_keys(client, db, org, survey, lang):
    _seed(db, org, survey)
    login(client, org)
    keys = [k for k in catalogs()[lang] if k.startswith("insights.")]
    for path in ("/insights/drivers", "/insights/crosstab", "/insights/journey",
                 "/insights/profile"):
        text = client.get(path, params={"lang": lang, "attribute": "plan",
                                        "value": "basic"}).text
        assert not [k for k in keys if k in text], path


def test_profile_page_features_and_churn(client, db, org, survey):
    login(client, org)
    for i in range(40):
        contact = add_contact(db, org.org_id, attributes={"plan": "basic" if i < 25 else "pro"})
        add_response(db, org.org_id, survey["id"], 2 if i < 20 else 10, contact=contact, at=AT)
    db.commit()
    api = client.get("/api/v1/stats/profile", headers=org.headers).json()
    churn = client.get("/api/v1/stats/churn", headers=org.headers,
                       params={"attribute": "plan", "value": "basic"}).json()
    page = client.get("/insights/profile", params={"lang": "en", "attribute": "plan",
                                                   "value": "basic"})
    assert page.status_code == 200
    text = html.unescape(page.text)
    top = api["features"][0]
    assert top["significant"] and f"×{top['lift']:.2f}" in text
    assert f"{churn['churned']['nps']:.1f}" in text and f"{churn['retained']['nps']:.1f}" in text
    assert f"{churn['difference']['difference']:+.1f} points" in text
    missing = client.get("/insights/profile", params={"attribute": "plan"})
    assert missing.status_code == 422 and "<code>value</code>" in missing.text
