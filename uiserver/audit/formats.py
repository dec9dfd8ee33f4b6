"""What a webhook sends for one audit entry: the signed JSON of the `json` format, and the
messages of the WeCom (企业微信), Feishu (飞书) and DingTalk (钉钉) group robots.

`json`: the body is `{"delivery", "hook", "entry": {...}}` (the entry as `GET
/v1/admin/audit` shows it); headers (after Stripe's and Standard Webhooks' schemes):

    X-Uiserver-Signature: t=<Unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
    X-Uiserver-Delivery:  <hook id>.<entry id>   (the same on every retry: deduplicate on it)
    X-Uiserver-Event:     <act>

A receiver recomputes v1 over the raw body with its secret, compares in constant time, and
refuses a `t` more than `REPLAY_WINDOW` seconds from its clock (a replayed old delivery). The
signature is made at each attempt (a retry carries a new `t`).

Robots (each answers HTTP 200 with an error code in the body, checked by `robot_error`):
- WeCom: POST to the robot's URL (`https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=...`,
  the key is its secret) `{"msgtype": "markdown", "markdown": {"content"}}`, content at most
  4,096 bytes; success `{"errcode": 0}`.
- Feishu: `{"timestamp": "<s>", "sign", "msg_type": "text", "content": {"text"}}` where `sign` is
  base64(HMAC-SHA256(key = "<timestamp>\\n<secret>", message = empty)) when the robot has
  "signature verification" on (the timestamp within an hour of Feishu's clock); success
  `{"code": 0}`.
- DingTalk: `{"msgtype": "markdown", "markdown": {"title", "text"}}` POSTed to the robot's URL
  with `&timestamp=<ms>&sign=<urlencoded base64(HMAC-SHA256(key = secret, message =
  "<timestamp>\\n<secret>"))>` added when the robot uses "加签" (its secret starts with `SEC`);
  success `{"errcode": 0}`. A robot with keyword security needs the keyword `uiserver`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec

from uiserver.store.base import AuditEntry, Webhook

FORMATS = ("json", "wecom", "feishu", "dingtalk")
REPLAY_WINDOW = 300  # seconds a receiver accepts a signature's `t` (Stripe's default tolerance)
# Robots' message limits: WeCom markdown content 4,096 bytes; DingTalk and Feishu take more,
# but a chat message is read, not archived: one entry's summary stays short.
TEXT_MAX = 1_500
_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True)
class Request:
    """One HTTP POST to make."""

    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def delivery_id(hook: Webhook, entry: AuditEntry) -> str:
    """The same for every attempt of one entry to one hook."""
    return f"{hook.id}.{entry.id}"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-Uiserver-Signature` value: `t=<timestamp>,v1=<hex HMAC-SHA256>` over
    `<timestamp>.<body>`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str, body: bytes, now: float, window: int = REPLAY_WINDOW) -> bool:
    """Whether `header` signs `body` with `secret` within `window` seconds of `now` (the
    receiver's side, as the README's snippet does it)."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs(now - timestamp) > window:
        return False
    expected = sign(secret, timestamp, body).split(",v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def summary(entry: AuditEntry) -> list[str]:
    """The lines a person reads in a chat: what, where, who, from -> to, when."""
    when = datetime.fromtimestamp(entry.time, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    lines = [f"uiserver #{entry.id} {entry.act}" + (f" · {entry.page}" if entry.page else "")]
    lines.append(f"by {entry.actor} at {when}")
    before, after = entry.before or {}, entry.after or {}
    if before.get("version") or after.get("version"):
        lines.append(f"version {before.get('version', '-')} -> {after.get('version', '-')}")
    percents = [(s.get("rollout") or {}).get("percent") for s in (before, after)]
    if any(p is not None for p in percents):
        lines.append("rollout " + " -> ".join(f"{p}%" if p else "-" for p in percents))
    diff = entry.details.get("diff")
    if isinstance(diff, dict):
        counts = ", ".join(f"{diff[k]} {k}" for k in ("added", "removed", "moved", "changed"))
        lines.append(f"changes: {counts}")
    for key in ("message", "reason", "users"):
        if key in entry.details:
            lines.append(f"{key}: {entry.details[key]}")
    return lines


def _text(entry: AuditEntry) -> str:
    return "\n".join(summary(entry))[:TEXT_MAX]


def _hmac_b64(key: bytes, message: bytes) -> str:
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


def entry_json(entry: AuditEntry) -> dict[str, Any]:
    return msgspec.to_builtins(entry)  # type: ignore[no-any-return]


def request_for(hook: Webhook, entry: AuditEntry, now: float) -> Request:
    """The POST delivering `entry` to `hook` at `now` (Unix seconds)."""
    headers = {"Content-Type": "application/json", "User-Agent": "uiserver-webhooks/1"}
    if hook.format == "wecom":
        body = {"msgtype": "markdown", "markdown": {"content": _text(entry)}}
        return Request(hook.url, _encode(body), headers)
    if hook.format == "feishu":
        message: dict[str, Any] = {"msg_type": "text", "content": {"text": _text(entry)}}
        if hook.secret:
            seconds = int(now)
            message["timestamp"] = str(seconds)
            message["sign"] = _hmac_b64(f"{seconds}\n{hook.secret}".encode(), b"")
        return Request(hook.url, _encode(message), headers)
    if hook.format == "dingtalk":
        title = f"uiserver {entry.act}"
        body = {"msgtype": "markdown", "markdown": {"title": title, "text": _text(entry)}}
        url = hook.url
        if hook.secret:
            millis = int(now * 1000)
            signed = _hmac_b64(hook.secret.encode(), f"{millis}\n{hook.secret}".encode())
            query = urllib.parse.urlencode({"timestamp": millis, "sign": signed})
            url += ("&" if urllib.parse.urlsplit(url).query else "?") + query
        return Request(url, _encode(body), headers)
    delivery = delivery_id(hook, entry)
    body_bytes = _encode({"delivery": delivery, "hook": hook.id, "entry": entry_json(entry)})
    headers.update(
        {
            "X-Uiserver-Signature": sign(hook.secret, int(now), body_bytes),
            "X-Uiserver-Delivery": delivery,
            "X-Uiserver-Event": entry.act,
        }
    )
    return Request(hook.url, body_bytes, headers)


def robot_error(hook: Webhook, body: bytes) -> str | None:
    """The robot's refusal in a 2xx answer (`errcode` / `code` not 0), or None: delivered.
    The `json` format's receivers answer 2xx for success and are not read."""
    if hook.format == "json":
        return None
    try:
        answer = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return f"{hook.format} answered something other than JSON"
    if not isinstance(answer, dict):
        return f"{hook.format} answered {type(answer).__name__}"
    code = answer.get("errcode", answer.get("code", answer.get("StatusCode", 0)))
    if code in (0, "0"):
        return None
    message = answer.get("errmsg", answer.get("msg", answer.get("StatusMessage", "")))
    return f"{hook.format} refused it: {code} {message}"[:300]
