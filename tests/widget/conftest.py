"""Widget fixtures: a site key for an allowed origin, a live survey and a widget trigger."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session
from tests.conftest import OrgCtx

from npsloop.accounts.models import Organization
from npsloop.accounts.service import create_api_key
from npsloop.surveys.models import Survey
from npsloop.targeting.models import Trigger
from npsloop.widget import public

SHOP = "https://shop.example.test"


@dataclass
class Site:
    org_id: str
    key: str
    key_id: str
    survey_id: str
    survey_token: str

    def url(self, action: str) -> str:
        return f"/widget/v1/{self.key}/{action}"


@pytest.fixture(autouse=True)
def fresh_limits() -> None:
    public.PER_CLIENT.reset()
    public.PER_KEY.reset()


@pytest.fixture
def bare_org(db: Session) -> Callable[[], OrgCtx]:
    """An organisation with an admin API key and no users: no password to hash, so the
    many small tests here stay quick (tests that sign in use make_org)."""

    def factory() -> OrgCtx:
        org = Organization(name=f"Shop {uuid.uuid4().hex[:6]}")
        db.add(org)
        db.flush()
        _, plain = create_api_key(db, org_id=org.id, name="default", role="admin")
        db.commit()
        return OrgCtx(org.id, plain, "", "")

    return factory


@pytest.fixture
def make_site(client, db: Session, bare_org) -> Callable[..., Site]:
    def factory(org=None, event: str = "order_paid", delay_seconds: int = 0,
                origins: tuple[str, ...] = (SHOP,)) -> Site:
        org = org or bare_org()
        body = {"name": "Shop", "status": "live", "drivers": ["price"]}
        survey = client.post("/api/v1/surveys", json=body, headers=org.headers)
        assert survey.status_code == 201, survey.text
        created = client.post("/api/v1/widget/site-keys", headers=org.headers,
                              json={"name": "Shop site", "allowed_origins": list(origins)})
        assert created.status_code == 201, created.text
        db.add(Trigger(org_id=org.org_id, name="After payment", event_name=event,
                       survey_id=survey.json()["id"], channel="widget",
                       delay_seconds=delay_seconds, conditions=[], active=True))
        db.commit()
        token = db.get(Survey, survey.json()["id"]).public_token
        return Site(org.org_id, created.json()["key"], created.json()["id"],
                    survey.json()["id"], token)

    return factory


@pytest.fixture
def site(make_site) -> Site:
    return make_site()


@pytest.fixture
def call(client) -> Callable[..., object]:
    """POSTs a widget call from the shop's origin as the script does (text/plain JSON)."""

    def post(site: Site, action: str, body: object, origin: str | None = SHOP,
             raw: bytes | None = None):  # noqa: ANN202
        import json

        headers = {"Content-Type": "text/plain;charset=UTF-8"}
        if origin:
            headers["Origin"] = origin
        content = raw if raw is not None else json.dumps(body).encode()
        return client.post(site.url(action), content=content, headers=headers)

    return post
