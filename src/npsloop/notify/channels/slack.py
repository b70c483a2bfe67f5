"""Slack incoming webhook: `text` (the notification fallback) plus Block Kit `blocks`.

Slack answers 200 "ok" on success and plain-text errors otherwise (400 invalid_payload,
403 action_prohibited, 404 channel_not_found, 410 channel_is_archived, 429 with
Retry-After). Only 429 and 5xx are worth retrying.
"""

from __future__ import annotations

from typing import Any

from npsloop.notify.base import Notifier, Outgoing, SendResult, http_status_result
from npsloop.notify.channels._robot import RobotConfig, robot_key
from npsloop.notify.text import escape_slack, safe_url, truncate_chars


class SlackConfig(RobotConfig):
    pass


class SlackNotifier(Notifier):
    kind = "slack"
    label = "Slack incoming webhook"
    Config = SlackConfig

    config: SlackConfig

    def rate_key(self) -> str:
        return robot_key(self.kind, self.config.webhook_url)

    def body(self, message: Outgoing) -> dict[str, Any]:
        notice = message.notice
        if notice is None:
            raise ValueError("a Slack webhook sends notices, not raw events")
        blocks: list[dict[str, Any]] = [{"type": "header", "text": {
            "type": "plain_text", "text": truncate_chars(notice.title, 150)}}]
        if notice.text:
            blocks.append({"type": "section", "text": {"type": "mrkdwn",
                                                       "text": escape_slack(notice.text)}})
        if notice.facts:
            blocks.append({"type": "section", "fields": [
                {"type": "mrkdwn", "text": f"*{escape_slack(f.label)}*\n{escape_slack(f.value)}"}
                for f in notice.facts[:10]]})
        if notice.quote:
            quoted = "\n".join("> " + escape_slack(line) for line in notice.quote.splitlines())
            blocks.append({"type": "section", "text": {"type": "mrkdwn",
                                                       "text": truncate_chars(quoted, 2900)}})
        link = safe_url(notice.link_url)
        if link:
            blocks.append({"type": "actions", "elements": [{
                "type": "button", "url": link, "action_id": "open",
                "text": {"type": "plain_text", "text": truncate_chars(
                    notice.link_label or link, 75)}}]})
        return {"text": escape_slack(notice.title), "blocks": blocks}

    def send(self, message: Outgoing) -> SendResult:
        response = self.post(self.config.webhook_url, json=self.body(message))
        if response.status_code == 200:
            return SendResult.ok(200, response.text[:100] or None)
        return http_status_result(response, vendor_code=response.text[:100] or None)
