"""Operators' webhooks: registration (URL checked, secret made), how they are shown, and the
address check every delivery repeats.

Outgoing requests are a server-side request forgery risk: whoever registers a hook chooses
where this server sends requests. So a URL must be `http` or `https`, name a host, carry no
user name or password, and be at most `URL_MAX` characters; and its host must resolve only
to public (globally routable) addresses: loopback, private (RFC 1918, RFC 4193), link-local
(169.254.0.0/16, where cloud metadata services answer), shared (RFC 6598), multicast and
reserved addresses are refused, at registration and again before every delivery (an address
can change). Redirects are never followed. `UISERVER_WEBHOOK_ALLOW_PRIVATE=1` lifts the
address rule for receivers inside the operator's own network (and tests). Limitation: the
HTTP client resolves the name again when it connects, so a name re-pointed between the check
and the connection (DNS rebinding) is not caught; an egress proxy that enforces the rule is
the complete answer (`HTTPS_PROXY` is honoured).
"""

from __future__ import annotations

import asyncio
import ipaddress
import secrets
import socket
import urllib.parse
from typing import Any

import httpx

from uiserver.audit.formats import FORMATS
from uiserver.store.base import Webhook

URL_MAX = 2_048
SECRET_MAX = 200
FILTER_MAX = 50  # acts or pages a hook may name
SECRET_PREFIX = "whsec_"
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: the IPv4 address is the last 32 bits


class WebhookRefused(ValueError):
    """A hook that cannot be registered or delivered to; `field` names what is wrong."""

    def __init__(self, message: str, field: str = "url") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def check_url(url: str) -> urllib.parse.SplitResult:
    """The parts of a URL a hook may use (see the module docstring); WebhookRefused."""
    if not isinstance(url, str) or not url or len(url) > URL_MAX or not url.isprintable():
        raise WebhookRefused(f"url must be an http(s) URL of at most {URL_MAX} characters")
    try:
        parts = urllib.parse.urlsplit(url)  # ValueError: "http://[::1/", "http://[1.2.3.4]/"
        httpx.URL(url)  # what delivers it must read it too: "http://[v1.x]/", "http://[::1]x/"
    except (ValueError, httpx.InvalidURL) as exc:
        raise WebhookRefused(f"url is not a URL an HTTP client can send to ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise WebhookRefused("url must start with http:// or https://")
    if parts.username is not None or parts.password is not None:
        raise WebhookRefused("url must not carry a user name or password")
    try:
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError:
        raise WebhookRefused("url has a bad port") from None
    if not parts.hostname:
        raise WebhookRefused("url must name a host")
    return parts


def public(address: str) -> bool:
    """Whether an address is globally routable (no loopback, private, link-local, multicast,
    reserved...). An IPv6 address carrying an IPv4 one is judged by the IPv4 address it
    reaches: IPv4-mapped (RFC 4291 2.5.5.2), 6to4 (RFC 3056) and NAT64's well-known prefix
    64:ff9b::/96 (RFC 6052); the deprecated IPv4-compatible ::a.b.c.d is reserved."""
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in NAT64:
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFF_FFFF)
        else:
            ip = ip.ipv4_mapped or ip.sixtofour or ip
    return ip.is_global and not ip.is_multicast and not ip.is_reserved


async def check_address(url: str, allow_private: bool) -> None:
    """Resolve the URL's host and refuse it unless every address is public (or
    `allow_private`); WebhookRefused also when the name does not resolve."""
    parts = check_url(url)
    if allow_private:
        return
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise WebhookRefused(f"url's host {host!r} does not resolve ({exc})") from None
    refused = sorted({str(info[4][0]) for info in infos if not public(str(info[4][0]))})
    if refused or not infos:
        raise WebhookRefused(
            f"url's host {host!r} resolves to a non-public address ({', '.join(refused)}); "
            "set UISERVER_WEBHOOK_ALLOW_PRIVATE=1 to allow receivers on private networks"
        )


def _names(value: Any, field: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if (
        not isinstance(value, list)
        or len(value) > FILTER_MAX
        or not all(isinstance(v, str) and 0 < len(v) <= 64 and v.isprintable() for v in value)
    ):
        raise WebhookRefused(f"{field} must be a list of at most {FILTER_MAX} names", field)
    return tuple(dict.fromkeys(value))  # a name listed twice once, in the order first listed


def new_hook(
    url: Any,
    fmt: Any,
    secret: Any,
    acts: Any,
    pages: Any,
    author: str,
    now: float,
    cursor: int,
) -> Webhook:
    """A hook to store, delivering the entries after `cursor` (the newest now: a hook gets
    what happens from its registration on). `json` hooks get a new secret (`whsec_...`, 256
    random bits) unless one is given; Feishu and DingTalk take their robot's signing secret
    (optional: robots without signing); WeCom's key is in its URL. WebhookRefused."""
    fmt = "json" if fmt is None else fmt
    if fmt not in FORMATS:
        raise WebhookRefused(f"format must be one of {', '.join(FORMATS)}", "format")
    check_url(url)
    if secret is not None and (
        not isinstance(secret, str) or not 16 <= len(secret) <= SECRET_MAX or fmt == "wecom"
    ):
        raise WebhookRefused(
            f"secret must be 16 to {SECRET_MAX} characters (none for wecom: its key is in the URL)",
            "secret",
        )
    if secret is None and fmt == "json":
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    return Webhook(
        id="wh_" + secrets.token_hex(8),
        url=url,
        format=fmt,
        secret=secret or "",
        created=now,
        author=author,
        acts=_names(acts, "acts"),
        pages=_names(pages, "pages"),
        cursor=cursor,
    )


def same_hook(one: Webhook, other: Webhook) -> bool:
    """Whether two hooks deliver the same entries to the same URL in the same format (their
    filters compared as sets: the order of `acts` or `pages` means nothing)."""
    return (
        one.url == other.url
        and one.format == other.format
        and set(one.acts) == set(other.acts)
        and set(one.pages) == set(other.pages)
    )


def shown_url(url: str) -> str:
    """The URL with its query's values hidden (a WeCom key, a DingTalk access token)."""
    parts = urllib.parse.urlsplit(url)
    if not parts.query:
        return url
    names = [name for name, _ in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)]
    hidden = "&".join(f"{name}=***" for name in names)
    return urllib.parse.urlunsplit(parts._replace(query=hidden))


def hook_json(hook: Webhook, newest: int, secret: bool = False) -> dict[str, Any]:
    """A hook as the API shows it: never its secret (but once, when it is made) nor its URL's
    query values; `pending`: entries after its cursor (some may not match its filters)."""
    shown: dict[str, Any] = {
        "id": hook.id,
        "url": shown_url(hook.url),
        "format": hook.format,
        "acts": list(hook.acts),
        "pages": list(hook.pages),
        "created": hook.created,
        "author": hook.author,
        "cursor": hook.cursor,
        "pending": max(0, newest - hook.cursor),
        "delivered": hook.delivered,
        "attempts": hook.attempts,
        "next_attempt": hook.next_at or None,
        "last_error": hook.last_error or None,
    }
    if secret:
        shown["secret"] = hook.secret
    return shown


def matches(hook: Webhook, act: str, page: str) -> bool:
    """Whether the hook wants an entry (its filters: empty matches all)."""
    return (not hook.acts or act in hook.acts) and (not hook.pages or page in hook.pages)
