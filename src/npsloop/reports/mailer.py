"""Sends a digest through the notify domain's email notifier: the channel's SMTP settings,
TLS, authentication and error handling are the EmailNotifier's; only the MIME message is
richer than a notice (an HTML report with a PDF attached), so `build` is overridden."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, formatdate

from sqlalchemy.orm import Session

from npsloop.core.errors import InputError
from npsloop.notify import service as notify
from npsloop.notify.base import Notice, Outgoing, SendResult
from npsloop.notify.channels.email import EmailNotifier
from npsloop.notify.crypto import SecretBox


class DigestMailError(InputError):
    """Bad input naming its field (see npsloop.core.errors.InputError)."""


@dataclass(frozen=True)
class DigestMail:
    subject: str
    text: str
    html: str
    pdf: bytes
    pdf_name: str
    language: str


class DigestMailer(EmailNotifier):
    """EmailNotifier whose message is the digest (set before `send`)."""

    mail: DigestMail | None = None

    def build(self, message: Outgoing) -> EmailMessage:
        if self.mail is None:
            return super().build(message)
        recipients = list(message.recipients) or self.config.to
        mail = EmailMessage()
        mail["Subject"] = self.mail.subject.replace("\r", " ").replace("\n", " ")
        mail["From"] = formataddr((self.config.from_name, self.config.from_address))
        mail["To"] = ", ".join(recipients)
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = f"<{message.id}@npsloop>"
        mail.set_content(self.mail.text)
        mail.add_alternative(self.mail.html, subtype="html")
        mail.add_attachment(self.mail.pdf, maintype="application", subtype="pdf",
                            filename=self.mail.pdf_name)
        mail["Content-Language"] = self.mail.language
        return mail


def channel_mailer(session: Session, org_id: str, channel_id: str | None,
                   box: SecretBox) -> DigestMailer:
    channel = notify.get_channel(session, org_id, channel_id) if channel_id else None
    if channel is None:
        raise DigestMailError("channel_id", "the digest has no email channel")
    if channel.kind != "email":
        raise DigestMailError("channel_id", "must be an email channel")
    if not channel.enabled:
        raise DigestMailError("channel_id", "the email channel is disabled")
    config = EmailNotifier.parse_config(notify.full_config(channel, box))
    return DigestMailer(config)


def send(mailer: DigestMailer, mail: DigestMail, *, message_id: str,
         recipients: list[str]) -> SendResult:
    mailer.mail = mail
    # The notice only satisfies Outgoing; the body comes from `mail`.
    outgoing = Outgoing(id=message_id, notice=Notice(title=mail.subject,
                                                     language=mail.language),
                        recipients=tuple(recipients))
    return mailer.send(outgoing)
