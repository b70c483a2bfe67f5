"""GET /api/v1/stats/nps: counts, margin of error and groups computed in SQL."""

import pytest

from npsloop.analytics.stats import summarize


def _post(client, org, sid, score, **extra):
    response = client.post(f"/api/v1/surveys/{sid}/responses", headers=org.headers,
                           json={"score": score, **extra})
    assert response.status_code == 201, response.text


def test_overall_matches_statistics_module(client, org, survey):
    scores = [0, 3, 6, 7, 8, 9, 10, 10, 9, 2]
    for score in scores:
        _post(client, org, survey["id"], score)
    data = client.get("/api/v1/stats/nps", params={"survey_id": survey["id"]},
                      headers=org.headers).json()
    expected = summarize(4, 2, 4)
    assert data["n"] == 10
    assert (data["promoters"], data["passives"], data["detractors"]) == (4, 2, 4)
    assert data["nps"] == expected.nps == 0.0
    assert data["margin_of_error"] == expected.margin_of_error
    assert data["too_few"] is True


def test_empty_is_not_an_error(client, org, survey):
    data = client.get("/api/v1/stats/nps", params={"survey_id": survey["id"]},
                      headers=org.headers).json()
    assert data["n"] == 0 and data["nps"] is None and data["margin_of_error"] is None


def test_group_by_channel_language_attribute_and_time(client, org, survey):
    _post(client, org, survey["id"], 10, channel="email", language="en",
          contact={"external_id": "a", "attributes": {"city": "上海"}},
          submitted_at="2026-01-05T09:00:00+08:00")
    _post(client, org, survey["id"], 2, channel="sms",
          contact={"external_id": "b", "attributes": {"city": "北京"}},
          submitted_at="2026-02-10T09:00:00+08:00")
    _post(client, org, survey["id"], 9, channel="email",
          contact={"external_id": "c", "attributes": {"city": "上海"}},
          submitted_at="2026-02-11T23:30:00+08:00")

    def groups(group_by):
        data = client.get("/api/v1/stats/nps", headers=org.headers,
                          params={"survey_id": survey["id"], "group_by": group_by}).json()
        return {g["key"]: (g["n"], g["nps"]) for g in data["groups"]}

    assert groups("channel") == {"email": (2, 100.0), "sms": (1, -100.0)}
    assert groups("language") == {"en": (1, 100.0), "zh-CN": (2, 0.0)}
    assert groups("attribute:city") == {"上海": (2, 100.0), "北京": (1, -100.0)}
    # Months are local (Asia/Shanghai): 23:30 on Feb 11 local is Feb 11 UTC 15:30.
    assert groups("month") == {"2026-01-01": (1, 100.0), "2026-02-01": (2, 0.0)}
    assert groups("week") == {"2026-01-05": (1, 100.0), "2026-02-09": (2, 0.0)}
    assert groups("quarter") == {"2026-01-01": (3, 33.33)}
    assert groups("survey") == {survey["name"]: (3, 33.33)}


def test_date_range_in_org_time_zone(client, org, survey):
    # 2026-03-01 00:30 in Shanghai is still Feb 28 in UTC: the local day decides.
    _post(client, org, survey["id"], 10, submitted_at="2026-03-01T00:30:00+08:00")
    _post(client, org, survey["id"], 0, submitted_at="2026-02-28T23:30:00+08:00")
    march = client.get("/api/v1/stats/nps", headers=org.headers,
                       params={"survey_id": survey["id"], "from": "2026-03-01",
                               "to": "2026-03-31"}).json()
    assert (march["n"], march["nps"]) == (1, 100.0)
    feb = client.get("/api/v1/stats/nps", headers=org.headers,
                     params={"to": "2026-02-28"}).json()
    assert (feb["n"], feb["nps"]) == (1, -100.0)


@pytest.mark.parametrize(
    ("params", "field"),
    [({"group_by": "shoe_size"}, "group_by"), ({"from": "31/12/2026"}, "from"),
     ({"to": "never"}, "to"), ({"from": "2026-05-01", "to": "2026-04-01"}, "to")],
)
def test_bad_query_is_422_naming_the_field(client, org, params, field):
    response = client.get("/api/v1/stats/nps", headers=org.headers, params=params)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["query", field]


def test_unknown_survey_is_404(client, org):
    assert client.get("/api/v1/stats/nps", headers=org.headers,
                      params={"survey_id": "missing"}).status_code == 404
