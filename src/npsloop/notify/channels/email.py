"""SMTP email: a text part and an HTML part, in the notice's language.

Security: "starttls" (port 587), "ssl" (implicit TLS, port 465) or "none" (an intranet relay
on port 25). Certificates are verified against the system store or `ca_file`. The message's
stable id is the Message-ID, so a mailbox that sees a retry can tell it is the same mail.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from typing import Literal

from pydantic import Field, field_validator

from npsloop.notify.base import (
    ChannelConfig,
    Notice,
    Notifier,
    Outcome,
    Outgoing,
    SendResult,
    secret_field,
)
from npsloop.notify.text import escape_html, safe_url

# A fact with this key is an unsubscribe URL (survey invitations): it becomes a footer link
# and the List-Unsubscribe headers (RFC 2369 / RFC 8058 one-click) instead of a table row.
UNSUBSCRIBE = "unsubscribe"
LEVEL_COLOURS = {"info": "#2563eb", "warning": "#d97706", "critical": "#dc2626"}


def _address(value: str) -> str:
    value = value.strip()
    local, _, domain = value.rpartition("@")
    if not local or "." not in domain or any(c in value for c in " <>,;\r\n"):
        raise ValueError(f"'{value}' is not an email address")
    return value


class EmailConfig(ChannelConfig):
    host: str = Field(min_length=1, max_length=255)
    port: int = Field(587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str = Field("", max_length=255)
    password: str = secret_field("", max_length=500)
    from_address: str
    from_name: str = Field("npsloop", max_length=100)
    to: list[str] = Field(default_factory=list, max_length=100)
    ca_file: str = Field("", max_length=500, description="PEM bundle of a private CA")

    @field_validator("from_address")
    @classmethod
    def _from(cls, value: str) -> str:
        return _address(value)

    @field_validator("to")
    @classmethod
    def _to(cls, value: list[str]) -> list[str]:
        return [_address(v) for v in value]


def html_body(notice: Notice) -> str:
    colour = LEVEL_COLOURS.get(notice.level, LEVEL_COLOURS["info"])
    rows = "".join(
        f'<tr><th align="left" style="padding:4px 12px 4px 0;color:#555">{escape_html(f.label)}'
        f'</th><td style="padding:4px 0">{escape_html(f.value)}</td></tr>'
        for f in notice.facts if f.key != UNSUBSCRIBE
    )
    parts = [
        f'<h2 style="margin:0 0 12px;border-left:4px solid {colour};padding-left:8px">'
        f"{escape_html(notice.title)}</h2>"
    ]
    if notice.text:
        parts.append(f"<p>{escape_html(notice.text)}</p>")
    if rows:
        parts.append(f'<table style="border-collapse:collapse">{rows}</table>')
    if notice.quote:
        quote = escape_html(notice.quote).replace("\n", "<br>")
        parts.append('<blockquote style="margin:12px 0;padding:8px 12px;background:#f3f4f6;'
                     f'border-left:3px solid #9ca3af">{quote}</blockquote>')
    link = safe_url(notice.link_url)
    if link:
        parts.append(f'<p><a href="{escape_html(link)}" style="color:{colour}">'
                     f"{escape_html(notice.link_label or link)}</a></p>")
    unsubscribe = next((f for f in notice.facts if f.key == UNSUBSCRIBE), None)
    if unsubscribe is not None and safe_url(unsubscribe.value):
        parts.append(f'<p style="margin-top:24px;font-size:12px;color:#6b7280">'
                     f'<a href="{escape_html(safe_url(unsubscribe.value))}" style="color:#6b7280">'
                     f"{escape_html(unsubscribe.label)}</a></p>")
    lang = "zh-CN" if notice.language.startswith("zh") else "en"
    return (f'<!doctype html><html lang="{lang}"><body style="font-family:sans-serif;'
            f'font-size:14px;color:#111">{"".join(parts)}</body></html>')


class EmailNotifier(Notifier):
    kind = "email"
    label = "Email (SMTP)"
    Config = EmailConfig
    needs_recipients = True

    config: EmailConfig

    def build(self, message: Outgoing) -> EmailMessage:
        notice = message.notice
        if notice is None:
            raise ValueError("email sends notices, not raw events")
        recipients = list(message.recipients) or self.config.to
        mail = EmailMessage()
        mail["Subject"] = notice.title.replace("\r", " ").replace("\n", " ")
        mail["From"] = formataddr((self.config.from_name, self.config.from_address))
        mail["To"] = ", ".join(recipients)
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = f"<{message.id}@npsloop>"
        mail.set_content(notice.plain_text())
        mail.add_alternative(html_body(notice), subtype="html")
        # After the body: set_content() clears every Content-* header.
        mail["Content-Language"] = notice.language
        unsubscribe = safe_url(notice.fact(UNSUBSCRIBE))
        if unsubscribe:
            mail["List-Unsubscribe"] = f"<{unsubscribe}>"
            mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        return mail

    def _tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.config.ca_file or None)

    def send(self, message: Outgoing) -> SendResult:
        cfg = self.config
        mail = self.build(message)
        if not mail["To"]:
            return SendResult(Outcome.failed, error="no recipients: set 'to' or pass recipients")
        try:
            if cfg.security == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    cfg.host, cfg.port, timeout=cfg.timeout_seconds, context=self._tls())
            else:
                smtp = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout_seconds)
            with smtp:
                if cfg.security == "starttls":
                    smtp.starttls(context=self._tls())
                if cfg.username:
                    smtp.login(cfg.username, cfg.password)
                refused = smtp.send_message(mail)
        except smtplib.SMTPAuthenticationError as exc:
            return SendResult(Outcome.failed, vendor_code=str(exc.smtp_code),
                              error=f"authentication failed: {exc.smtp_error!r}")
        except smtplib.SMTPRecipientsRefused as exc:
            return SendResult(Outcome.failed, error=f"all recipients refused: {exc.recipients}")
        except smtplib.SMTPResponseException as exc:
            # 4xx is "try again later" in SMTP; 5xx will fail again.
            outcome = Outcome.retry if 400 <= exc.smtp_code < 500 else Outcome.failed
            return SendResult(outcome, vendor_code=str(exc.smtp_code),
                              error=f"SMTP {exc.smtp_code}: {exc.smtp_error!r}")
        except ssl.SSLCertVerificationError as exc:
            return SendResult(Outcome.failed, error=f"TLS certificate rejected: {exc}")
        except smtplib.SMTPNotSupportedError as exc:
            return SendResult(Outcome.failed, error=f"server does not support it: {exc}")
        if refused:
            return SendResult(Outcome.failed, vendor_code="partial",
                              error=f"some recipients refused: {sorted(refused)}")
        return SendResult.ok(vendor_code="250")
