"""SMTP email against a local aiosmtpd server: STARTTLS or implicit TLS, AUTH, zh and en."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
from email import message_from_bytes, policy
from email.message import Message
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from npsloop.notify.base import Outcome, Outgoing
from npsloop.notify.channels.email import EmailNotifier
from npsloop.notify.notices import render_notice

USER, PASSWORD = "robot@example.test", "smtp-password"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, used as its own CA by the client."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    import ipaddress

    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], Message]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                              message_from_bytes(envelope.original_content,
                                                 policy=policy.default)))
        return "250 Message accepted for delivery"


def _authenticator(server, session, envelope, mechanism, auth_data):  # noqa: ANN001
    ok = isinstance(auth_data, LoginPassword) and (
        auth_data.login.decode(), auth_data.password.decode()) == (USER, PASSWORD)
    return AuthResult(success=ok, handled=False)


def _context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


@pytest.fixture
def starttls_server(tls_files):
    inbox = Inbox()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=_free_port(), tls_context=_context(*tls_files),
        require_starttls=True, authenticator=_authenticator, auth_require_tls=True,
    )
    controller.start()
    yield controller, inbox
    controller.stop()


def notifier(port: int, ca: Path, **overrides: object) -> EmailNotifier:
    config = {"host": "127.0.0.1", "port": port, "security": "starttls", "username": USER,
              "password": PASSWORD, "from_address": "npsloop@example.test",
              "to": ["owner@example.test"], "ca_file": str(ca), "timeout_seconds": 5,
              **overrides}
    return EmailNotifier(EmailNotifier.parse_config(config))


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_starttls_auth_html_and_text(starttls_server, tls_files, lang: str) -> None:
    controller, inbox = starttls_server
    notice = render_notice("ticket.created", lang, {"priority": "P1", "subject": "<script>x"},
                           quote="送货太慢 <b>!</b>", link="/tickets/9",
                           base_url="http://127.0.0.1:8000")
    result = notifier(controller.port, tls_files[0]).send(
        Outgoing(id="msg1", notice=notice, recipients=("li@example.test",)))
    assert result.outcome == Outcome.delivered, result
    sender, rcpts, mail = inbox.messages[-1]
    assert (sender, rcpts) == ("npsloop@example.test", ["li@example.test"])
    assert mail["Message-ID"] == "<msg1@npsloop>"
    assert mail["Content-Language"] == lang
    assert ("新工单" in mail["Subject"]) == (lang == "zh-CN")
    parts = {part.get_content_type(): part.get_payload(decode=True).decode()
             for part in mail.walk() if not part.is_multipart()}
    assert set(parts) == {"text/plain", "text/html"}
    assert "<script>" not in parts["text/html"] and "&lt;script&gt;" in parts["text/html"]
    assert "&lt;b&gt;!&lt;/b&gt;" in parts["text/html"]
    assert 'href="http://127.0.0.1:8000/tickets/9"' in parts["text/html"]
    assert "送货太慢 <b>!</b>" in parts["text/plain"]


def test_wrong_password_is_permanent(starttls_server, tls_files) -> None:
    controller, inbox = starttls_server
    notice = render_notice("test", "en", {"channel": "mail"})
    result = notifier(controller.port, tls_files[0], password="nope").send(
        Outgoing(id="m2", notice=notice))
    assert (result.outcome, result.vendor_code) == (Outcome.failed, "535")
    assert not inbox.messages


def test_untrusted_certificate_is_refused(starttls_server, tls_files) -> None:
    controller, _ = starttls_server
    notice = render_notice("test", "en", {"channel": "mail"})
    result = notifier(controller.port, tls_files[0], ca_file="").send(
        Outgoing(id="m3", notice=notice))
    assert result.outcome == Outcome.failed and "certificate" in result.error


def test_implicit_tls(tls_files) -> None:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port(),
                            ssl_context=_context(*tls_files), authenticator=_authenticator,
                            auth_require_tls=False)
    controller.start()
    try:
        notice = render_notice("test", "zh-CN", {"channel": "邮件"})
        result = notifier(controller.port, tls_files[0], security="ssl").send(
            Outgoing(id="m4", notice=notice))
        assert result.outcome == Outcome.delivered, result
        assert inbox.messages[-1][2]["Subject"] == "npsloop 测试消息"
    finally:
        controller.stop()


def test_server_down_is_retried_by_the_worker() -> None:
    notice = render_notice("test", "en", {"channel": "mail"})
    with pytest.raises(OSError):
        notifier(_free_port(), Path("/nonexistent"), security="none",
                 username="").send(Outgoing(id="m5", notice=notice))
