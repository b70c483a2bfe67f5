"""Secrets at rest: API keys only as hashes, channel secrets only encrypted, and the documented
key rotation (`npsloop notify rotate-secrets`) end to end through the CLI."""

from __future__ import annotations

from sqlalchemy import select, text
from typer.testing import CliRunner

from npsloop.accounts.models import ApiKey
from npsloop.core.config import get_settings
from npsloop.core.db import make_engine, make_session_factory
from npsloop.core.migrate import upgrade
from npsloop.notify import service
from npsloop.notify.crypto import SecretBox, SecretDecryptError
from npsloop.notify.models import NotifyChannel

OLD_KEY = "old-key-" + "a" * 40
NEW_KEY = "new-key-" + "b" * 40


def test_api_keys_are_stored_only_as_hashes(client, org, db):
    rows = db.scalars(select(ApiKey).where(ApiKey.org_id == org.org_id)).all()
    assert rows and all(org.api_key not in (r.key_hash, r.prefix) for r in rows)
    dump = " ".join(str(v) for row in db.execute(text("SELECT * FROM api_keys")) for v in row)
    assert org.api_key not in dump


def test_rotation_through_the_cli(tmp_path, monkeypatch):
    from npsloop.accounts.service import create_organization
    from npsloop.cli import app

    url = f"sqlite:///{tmp_path / 'rotate.db'}"
    upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    old_box = SecretBox(OLD_KEY)
    with factory() as session:
        org, _, _ = create_organization(session, name="R", admin_email="r@example.test",
                                        admin_password="password-123")
        channel = service.create_channel(
            session, org_id=org.id, kind="dingtalk", name="ops", language="zh-CN",
            box=old_box, config={"webhook_url": "http://127.0.0.1:9/robot/send?access_token=t",
                                 "secret": "SEC-very-secret"})
        session.commit()
        channel_id = channel.id
    with engine.connect() as conn:
        stored = " ".join(str(v) for row in conn.execute(text("SELECT * FROM notify_channels"))
                          for v in row)
    assert "SEC-very-secret" not in stored  # encrypted at rest

    monkeypatch.setenv("NPSLOOP_DATABASE_URL", url)
    monkeypatch.setenv("NPSLOOP_SECRET_KEY", NEW_KEY)
    monkeypatch.setenv("NPSLOOP_OLD_SECRET_KEYS", OLD_KEY)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["notify", "rotate-secrets"])
        assert result.exit_code == 0, result.output
        assert "re-encrypted 1" in result.output
    finally:
        get_settings.cache_clear()
    with factory() as session:
        token = session.get(NotifyChannel, channel_id).secrets_encrypted
    # The new key alone now opens it; the old key no longer does.
    assert SecretBox(NEW_KEY).decrypt(token)["secret"] == "SEC-very-secret"
    try:
        old_box.decrypt(token)
        raise AssertionError("the old key still decrypts the rotated secret")
    except SecretDecryptError:
        pass
    engine.dispose()
