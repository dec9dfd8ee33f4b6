"""Payloads and signatures: the `json` signature (and its replay window), the Feishu and
DingTalk robots' signing schemes recomputed from their published algorithms, WeCom's message,
robots' error codes; and the address rules of webhooks (SSRF)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.parse

import pytest

from uiserver.audit import formats
from uiserver.audit.webhooks import WebhookRefused, check_address, public, shown_url
from uiserver.store.base import AuditEntry, Webhook

NOW = 1_764_000_000.0
ENTRY = AuditEntry(
    7,
    NOW - 5,
    "dora",
    "rollout.set",
    "home",
    {"version": "a1", "seq": 3, "rollout": {"version": "b2", "previous": "a1", "percent": 10}},
    {"version": "a1", "seq": 3, "rollout": {"version": "b2", "previous": "a1", "percent": 50}},
    {"diff": {"added": 1, "removed": 0, "moved": 2, "changed": 3}},
)


def hook(
    fmt: str, secret: str = "SECabcdef0123456789", url: str = "https://x.example/h"
) -> Webhook:
    return Webhook("wh_1", url, fmt, secret, NOW, "ada")


def test_json_signature_verifies_and_refuses_replays_and_tampering() -> None:
    request = formats.request_for(hook("json", "whsec_k"), ENTRY, NOW)
    header = request.headers["X-Uiserver-Signature"]
    assert header.startswith(f"t={int(NOW)},v1=")
    mac = hmac.new(b"whsec_k", f"{int(NOW)}.".encode() + request.body, hashlib.sha256)
    assert header.endswith(mac.hexdigest())
    assert formats.verify("whsec_k", header, request.body, NOW + 299)
    assert not formats.verify("whsec_k", header, request.body, NOW + 301)
    assert not formats.verify("whsec_k", header, request.body + b"x", NOW)
    assert not formats.verify("whsec_k", "t=abc,v1=00", request.body, NOW)
    body = json.loads(request.body)
    assert body == {
        "delivery": "wh_1.7",
        "hook": "wh_1",
        "entry": json.loads(json.dumps(body["entry"])),
    }
    assert body["entry"]["after"]["rollout"]["percent"] == 50


def test_feishu_sign_is_the_published_scheme() -> None:
    request = formats.request_for(hook("feishu"), ENTRY, NOW)
    body = json.loads(request.body)
    assert body["timestamp"] == str(int(NOW))
    key = f"{int(NOW)}\nSECabcdef0123456789".encode()
    expected = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
    assert body["sign"] == expected
    assert body["msg_type"] == "text" and "rollout 10% -> 50%" in body["content"]["text"]
    unsigned = json.loads(formats.request_for(hook("feishu", ""), ENTRY, NOW).body)
    assert "sign" not in unsigned and "timestamp" not in unsigned


def test_dingtalk_sign_is_the_published_scheme() -> None:
    url = "https://oapi.dingtalk.com/robot/send?access_token=T"
    request = formats.request_for(hook("dingtalk", url=url), ENTRY, NOW)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(request.url).query)
    millis = int(NOW * 1000)
    assert query["access_token"] == ["T"] and query["timestamp"] == [str(millis)]
    digest = hmac.new(
        b"SECabcdef0123456789", f"{millis}\nSECabcdef0123456789".encode(), hashlib.sha256
    ).digest()
    assert query["sign"] == [base64.b64encode(digest).decode()]
    body = json.loads(request.body)
    assert body["msgtype"] == "markdown" and body["markdown"]["title"] == "uiserver rollout.set"
    plain = formats.request_for(hook("dingtalk", "", url="https://d.example/r"), ENTRY, NOW)
    assert plain.url == "https://d.example/r"
    signed = formats.request_for(hook("dingtalk", url="https://d.example/r"), ENTRY, NOW)
    assert signed.url.startswith("https://d.example/r?timestamp=")


def test_wecom_message_and_robot_error_codes() -> None:
    request = formats.request_for(hook("wecom", ""), ENTRY, NOW)
    content = json.loads(request.body)["markdown"]["content"]
    assert content.splitlines()[:2] == [
        "uiserver #7 rollout.set · home",
        "by dora at 2025-11-24 15:59:55 UTC",
    ]
    assert "changes: 1 added, 0 removed, 2 moved, 3 changed" in content
    assert len(content.encode()) <= 4096
    wecom = hook("wecom", "")
    assert formats.robot_error(wecom, b'{"errcode": 0, "errmsg": "ok"}') is None
    assert "93000" in (formats.robot_error(wecom, b'{"errcode": 93000, "errmsg": "bad"}') or "")
    assert formats.robot_error(hook("feishu"), b'{"code": 19021, "msg": "sign"}') is not None
    assert formats.robot_error(hook("feishu"), b'{"StatusCode": 0}') is None
    assert formats.robot_error(wecom, b"<html>") is not None
    assert formats.robot_error(wecom, b"[1]") is not None
    assert formats.robot_error(hook("json"), b"<html>") is None


@pytest.mark.parametrize(
    ("address", "ok"),
    [
        ("8.8.8.8", True),
        ("2001:4860:4860::8888", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("::1", False),
        ("fc00::1", False),
        ("fe80::1%eth0", False),
        ("::ffff:127.0.0.1", False),
        # IPv4 inside IPv6: 6to4 (RFC 3056), NAT64's well-known prefix (RFC 6052) and the
        # deprecated IPv4-compatible form reach the IPv4 address they carry.
        ("2002:7f00:1::", False),
        ("2002:a9fe:a9fe::1", False),
        ("64:ff9b::7f00:1", False),
        ("64:ff9b::a9fe:a9fe", False),
        ("::127.0.0.1", False),
        ("2002:808:808::1", True),
        ("64:ff9b::808:808", True),
    ],
)
def test_public_addresses(address: str, ok: bool) -> None:
    assert public(address) is ok


@pytest.mark.anyio
async def test_check_address() -> None:
    for url in ("http://127.0.0.1:9/x", "http://localhost/x", "https://[::1]/x"):
        with pytest.raises(WebhookRefused, match="non-public"):
            await check_address(url, allow_private=False)
        await check_address(url, allow_private=True)
    with pytest.raises(WebhookRefused, match="does not resolve"):
        await check_address("http://no-such-host.invalid/x", allow_private=False)
    with pytest.raises(WebhookRefused):
        await check_address("gopher://example.com/", allow_private=True)


def test_shown_url_hides_query_values() -> None:
    assert shown_url("https://a.example/h?key=s3cret&x=1") == "https://a.example/h?key=***&x=***"
    assert shown_url("https://a.example/h") == "https://a.example/h"
