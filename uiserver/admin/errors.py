"""The errors of administrative operations, each with the contract's code (`http.errors` maps
them to statuses; the console to its error pages)."""

from __future__ import annotations

from typing import Any


class AdminError(Exception):
    """A designer's request that cannot be done; `code` is the contract's error code."""

    code = "invalid"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(AdminError):
    code = "not_found"


def no_live_page(shown_page: str, archived: bool) -> NotFound:
    """The NotFound of a page without a live version, `shown_page` as `users.ids.shown` quotes
    it: an archived page says so (its history is kept, and the console's tabs lead to it),
    any other is "no page"."""
    if archived:
        return NotFound(
            f"page {shown_page} is archived (clients get 404); restore it by rolling back to a "
            "version in its history",
            "page",
        )
    return NotFound(f"no page {shown_page}", "page")


class BadRequest(AdminError):
    code = "bad_request"


class Invalid(AdminError):
    code = "invalid"


class Conflict(AdminError):
    """The page changed under the caller, or its rollout state forbids the request (409);
    `extra` goes into the answer beside the error (e.g. `live_version`, `changes`)."""

    code = "conflict"

    def __init__(
        self, code: str, message: str, field: str | None, extra: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message, field)
        self.code = code
        self.extra = extra or {}


class LayoutRuleFailed(AdminError):
    """Lint passed but the engine cannot build a layout that keeps every rule for a persona."""

    code = "layout_rule"
