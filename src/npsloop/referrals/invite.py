"""The referral invitation on the survey thank-you page.

responses/public.py calls the hooks in its THANKS_CONTEXT_HOOKS list; handlers.py installs
`thanks_context` there. For a promoter (9-10) of an organisation whose referral programme is
on, it makes (or finds) the promoter's code, records that they were asked, and returns
`referral_invite` for the partial template referrals/_invite.html. Anyone else gets {}.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session

from npsloop.accounts.models import Organization
from npsloop.core.i18n import translate
from npsloop.referrals import codes, service
from npsloop.referrals.models import AskChannel, ReferralCode, ReferralSettings

log = logging.getLogger(__name__)


def share_text(settings: ReferralSettings, lang: str, org_name: str) -> str:
    custom = settings.share_text_zh if lang == "zh-CN" else settings.share_text_en
    return custom.strip() or translate("referrals.share.default_text", lang, org=org_name)


def incentive_text(settings: ReferralSettings, lang: str) -> str:
    return (settings.incentive_zh if lang == "zh-CN" else settings.incentive_en).strip()


def invite_view(code: ReferralCode, settings: ReferralSettings, *, base_url: str, lang: str,
                org_name: str) -> dict[str, Any]:
    url = f"{base_url.rstrip('/')}/r/{code.code}"
    text = share_text(settings, lang, org_name)
    return {
        "code": code.code,
        "code_display": codes.display(code.code),
        "url": url,
        "qr_url": f"/r/{code.code}/qr.png",
        "share_endpoint": f"/r/{code.code}/shared",
        "share_text": text,
        "share_message": f"{text} {url}",
        "incentive": incentive_text(settings, lang),
        "org_name": org_name,
    }


def thanks_context(request: Request, db: Session, survey: Any, response: Any,
                   lang: str) -> dict[str, Any]:
    if response is None or response.score is None or response.score < 9:
        return {}
    settings = service.get_settings(db, response.org_id)
    if not settings.enabled:
        return {}
    try:
        code = service.code_for_response(db, response)
        service.record_ask(db, code, AskChannel.thank_you, response_id=response.id)
        db.commit()
    except Exception:  # noqa: BLE001 - the thank-you page must render even if this fails
        db.rollback()
        log.exception("referral invitation failed for response %s", response.id)
        return {}
    org = db.get(Organization, response.org_id)
    base_url = request.app.state.settings.base_url
    return {"referral_invite": invite_view(code, settings, base_url=base_url, lang=lang,
                                           org_name=org.name if org else "")}
