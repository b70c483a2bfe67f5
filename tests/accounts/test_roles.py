"""Each role can do exactly what it should, by API key and by signed-in session."""

import pytest

from npsloop.accounts.models import Role

WRITERS = {"owner", "admin", "analyst"}
MANAGERS = {"owner", "admin"}


def _calls(survey_id: str) -> list[tuple[str, str, dict | None, set[str]]]:
    """(method, path, json body, roles allowed)."""
    everyone = {r.value for r in Role}
    return [
        ("GET", "/api/v1/surveys", None, everyone),
        ("GET", f"/api/v1/surveys/{survey_id}", None, everyone),
        ("POST", "/api/v1/surveys", {"name": "New"}, WRITERS),
        ("PATCH", f"/api/v1/surveys/{survey_id}", {"name": "Renamed"}, WRITERS),
        ("POST", f"/api/v1/surveys/{survey_id}/responses", {"score": 7}, WRITERS),
        ("GET", f"/api/v1/surveys/{survey_id}/responses", None, everyone),
        ("GET", f"/api/v1/stats/nps?survey_id={survey_id}", None, everyone),
        ("GET", "/api/v1/me", None, everyone),
        ("GET", "/api/v1/users", None, MANAGERS),
        ("POST", "/api/v1/users",
         {"email": "new-{role}@example.test", "password": "password-123", "role": "viewer"},
         MANAGERS),
        ("GET", "/api/v1/api-keys", None, MANAGERS),
        ("POST", "/api/v1/api-keys", {"name": "k", "role": "viewer"}, MANAGERS),
    ]


@pytest.mark.parametrize("role", [r.value for r in Role])
def test_api_key_role_matrix(client, org, survey, role_key, role):
    headers = role_key(org.org_id, role)
    for method, path, body, allowed in _calls(survey["id"]):
        if body and "email" in body:
            body = {**body, "email": body["email"].format(role=role)}
        response = client.request(method, path, json=body, headers=headers)
        expected_ok = role in allowed
        assert (response.status_code < 400) == expected_ok, (
            role, method, path, response.status_code, response.text)
        if not expected_ok:
            assert response.status_code == 403
            assert "lacks permission" in response.json()["detail"]


def test_no_credentials_is_401(client, survey):
    response = client.get("/api/v1/surveys")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert client.get("/api/v1/surveys", headers={"Authorization": "Bearer nope"}
                      ).status_code == 401


def test_revoked_key_is_refused(client, org, role_key):
    headers = role_key(org.org_id, "admin")
    keys = client.get("/api/v1/api-keys", headers=org.headers).json()
    admin_key = [k for k in keys if k["name"] == "admin-key"][0]
    assert client.delete(f"/api/v1/api-keys/{admin_key['id']}", headers=org.headers
                         ).status_code == 204
    assert client.get("/api/v1/surveys", headers=headers).status_code == 401


def test_admin_cannot_grant_owner(client, org, role_key):
    admin = role_key(org.org_id, "admin")
    response = client.post("/api/v1/users", headers=admin, json={
        "email": "boss@example.test", "password": "password-123", "role": "owner"})
    assert response.status_code == 403
    response = client.post("/api/v1/api-keys", headers=admin, json={"name": "x", "role": "owner"})
    assert response.status_code == 403


def test_new_api_key_is_shown_once_and_stored_hashed(client, org, db):
    from sqlalchemy import select

    from npsloop.accounts.models import ApiKey

    created = client.post("/api/v1/api-keys", headers=org.headers,
                          json={"name": "import", "role": "analyst"}).json()
    plain = created["api_key"]
    assert plain.startswith("npl_")
    stored = db.scalar(select(ApiKey).where(ApiKey.id == created["id"]))
    assert plain not in (stored.key_hash, stored.prefix)
    listed = client.get("/api/v1/api-keys", headers=org.headers).json()
    assert all("api_key" not in k for k in listed)
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {plain}"}
                      ).json()["role"] == "analyst"


def _login(client, email, password="password-123"):
    response = client.post("/login", data={"email": email, "password": password, "next": "/"},
                           follow_redirects=False)
    assert response.status_code == 303, response.text
    return response


@pytest.mark.parametrize("role", ["analyst", "viewer"])
def test_session_roles_and_csrf(client, org, survey, make_user, db, role):
    from sqlalchemy import select

    from npsloop.accounts.models import User, WebSession

    email = make_user(org.org_id, role)
    _login(client, email)
    user = db.scalar(select(User).where(User.email == email))
    csrf = db.scalar(select(WebSession.csrf_token).where(WebSession.user_id == user.id))
    assert client.get("/api/v1/surveys").status_code == 200
    # A cookie-authenticated write without the CSRF token is refused whatever the role.
    assert client.post("/api/v1/surveys", json={"name": "x"}).status_code == 403
    with_token = client.post("/api/v1/surveys", json={"name": "x"},
                             headers={"X-CSRF-Token": csrf})
    assert with_token.status_code == (201 if role == "analyst" else 403)


def test_wrong_password_and_logout(client, org, db):
    from sqlalchemy import select

    from npsloop.accounts.models import WebSession

    bad = client.post("/login", data={"email": org.owner_email, "password": "wrong-pass"},
                      follow_redirects=False)
    assert bad.status_code == 401
    _login(client, org.owner_email)
    assert client.get("/api/v1/me").status_code == 200
    # Signing out needs the session's CSRF token like any other form.
    assert client.post("/logout", follow_redirects=False).status_code == 403
    assert client.get("/api/v1/me").status_code == 200
    csrf = db.scalar(select(WebSession.csrf_token))
    client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert client.get("/api/v1/me").status_code == 401


def test_login_redirect_is_local_only(client, org):
    response = client.post("/login", data={"email": org.owner_email, "password": org.password,
                                           "next": "//evil.example/x"}, follow_redirects=False)
    assert response.headers["location"] == "/"
