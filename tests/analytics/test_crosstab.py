"""Cross-tabs and category distributions: every cell equals the statistics module on the
same counts, the chi-square equals scipy's on the same table, exports open in Excel."""

import csv
import io
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook
from scipy.stats import chi2_contingency

from npsloop.analytics.stats import summarize, wilson_interval
from tests.analytics.helpers import add_scores, counts_scores

JAN = datetime(2026, 1, 10, 4, tzinfo=UTC)
FEB = datetime(2026, 2, 10, 4, tzinfo=UTC)


@pytest.fixture
def sample(db, org, survey):
    sid = survey["id"]
    add_scores(db, org.org_id, sid, counts_scores(20, 10, 10), channel="email", language="en",
               at=JAN, attributes={"city": "上海"})
    add_scores(db, org.org_id, sid, counts_scores(5, 5, 20), channel="sms", language="en",
               at=FEB, attributes={"city": "北京"})
    add_scores(db, org.org_id, sid, counts_scores(12, 3, 5), channel="email",
               language="zh-CN", at=FEB, attributes={"city": "上海"})
    return sid


def _get(client, org, path, **params):
    response = client.get(f"/api/v1/stats/{path}", headers=org.headers, params=params)
    assert response.status_code == 200, response.text
    return response


def test_cells_totals_and_row_test(client, org, sample):
    data = _get(client, org, "crosstab", rows="channel", cols="language").json()
    assert data["row_keys"] == ["email", "sms"]  # most responses first
    assert data["col_keys"] == ["en", "zh-CN"]
    cells = {(c["row"], c["col"]): c for c in data["cells"]}
    assert set(cells) == {("email", "en"), ("sms", "en"), ("email", "zh-CN")}
    expected = summarize(20, 10, 10)
    assert (cells[("email", "en")]["n"], cells[("email", "en")]["nps"],
            cells[("email", "en")]["margin"]) == (40, expected.nps, expected.margin_of_error)
    rows = {c["row"]: c for c in data["row_totals"]}
    assert rows["email"]["nps"] == summarize(32, 13, 15).nps
    cols = {c["col"]: c for c in data["col_totals"]}
    assert cols["en"]["n"] == 70 and cols["zh-CN"]["nps"] == summarize(12, 3, 5).nps
    assert data["total"]["nps"] == summarize(37, 18, 35).nps
    reference = chi2_contingency([[32, 13, 15], [5, 5, 20]], correction=False)
    assert data["row_test"]["statistic"] == pytest.approx(reference.statistic, abs=1e-3)
    assert data["row_test"]["p_value"] == pytest.approx(reference.pvalue, rel=1e-6)
    assert data["row_test"]["dof"] == 2 and data["row_test"]["significant"] is True


def test_attribute_by_month_and_pooling(client, org, sample):
    data = _get(client, org, "crosstab", rows="attribute:city", cols="month").json()
    assert data["col_keys"] == ["2026-01-01", "2026-02-01"]
    cells = {(c["row"], c["col"]): c["n"] for c in data["cells"]}
    assert cells == {("上海", "2026-01-01"): 40, ("上海", "2026-02-01"): 20,
                     ("北京", "2026-02-01"): 30}
    pooled = _get(client, org, "crosstab", rows="attribute:city", cols="language",
                  limit=1).json()
    assert pooled["row_keys"] == ["上海", "(other)"] and pooled["truncated"] is True
    assert {c["row"]: c["n"] for c in pooled["row_totals"]} == {"上海": 60, "(other)": 30}


def test_csv_and_xlsx_exports(client, org, sample):
    response = _get(client, org, "crosstab", rows="channel", cols="language", format="csv")
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    assert response.content.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert table[0][:4] == ["channel", "en NPS", "en n", "en ±"]
    assert table[1][:3] == ["email", str(summarize(20, 10, 10).nps), "40"]
    assert table[-1][0] == "Total" and table[-1][-2] == "90"
    book = _get(client, org, "crosstab", rows="channel", cols="language", format="xlsx")
    sheet = load_workbook(io.BytesIO(book.content), read_only=True)["crosstab"]
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert values[0][0] == "channel" and values[1][0] == "email"
    assert values[1][1] == summarize(20, 10, 10).nps and values[1][2] == 40
    assert values[2][4:6] == [None, 0]  # sms has no zh-CN answers


def test_distribution_shares_intervals_and_chi_square(client, org, sample):
    data = _get(client, org, "distribution", by="channel").json()
    groups = {g["key"]: g for g in data["groups"]}
    sms = groups["sms"]
    assert (sms["promoters"], sms["passives"], sms["detractors"]) == (5, 5, 20)
    low, high = wilson_interval(20, 30)
    assert sms["detractor"]["share"] == round(20 / 30, 4)
    assert (sms["detractor"]["ci_low"], sms["detractor"]["ci_high"]) == pytest.approx((low, high))
    reference = chi2_contingency([[32, 13, 15], [5, 5, 20]], correction=False)
    assert data["test"]["p_value"] == pytest.approx(reference.pvalue, rel=1e-6)
    assert data["test"]["reliable"] is True


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [("crosstab", {"rows": "shoe", "cols": "month"}, "rows"),
     ("crosstab", {"rows": "channel", "cols": "shoe"}, "cols"),
     ("crosstab", {"rows": "channel", "cols": "channel"}, "cols"),
     ("crosstab", {"rows": "channel", "cols": "month", "format": "pdf"}, "format"),
     ("crosstab", {"rows": "channel", "cols": "month", "limit": "0"}, "limit"),
     ("crosstab", {"cols": "month"}, "rows"),
     ("distribution", {"by": "shoe"}, "by"),
     ("distribution", {"by": "channel", "limit": "x"}, "limit")],
)
def test_bad_parameters_name_the_parameter(client, org, path, params, field):
    response = client.get(f"/api/v1/stats/{path}", headers=org.headers, params=params)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["query", field]
