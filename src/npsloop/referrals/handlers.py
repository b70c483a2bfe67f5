"""Wires the referral domain into the rest of the app at start-up (the registry imports every
domain's handlers.py): the thank-you page hook and the lifecycle-move recorder."""

from __future__ import annotations

from npsloop.referrals import invite, lifecycle
from npsloop.responses import public

lifecycle.install_listener()
if invite.thanks_context not in public.THANKS_CONTEXT_HOOKS:
    public.THANKS_CONTEXT_HOOKS.append(invite.thanks_context)
