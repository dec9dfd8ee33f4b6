"""Where the Redis store keeps each user's data, and each experiment's counts (keys under the
store's prefix; the user id or page is always the last part, so keys of different users never
collide).

Every per-user key is `{prefix}{kind}:{user id}` with its kind in `USER_KEY_KINDS`: erasure
deletes every kind listed there, so a new per-user key (counters...) is added to that tuple and
nowhere else.
"""

from __future__ import annotations

from uiserver.engine.hashing import erasure_bucket

DEFAULT_PREFIX = "uiserver:"

# The kinds of per-user keys, `{prefix}{kind}:{user id}`: erase_user deletes every one of them.
USER_KEY_KINDS = ("user", "aff", "seg", "order", "evid")


class Keys:
    """The key names of one store (its prefix)."""

    __slots__ = ("prefix",)

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def _user_kind(self, kind: str, user_id: str) -> str:
        """A per-user key: `kind` must be in USER_KEY_KINDS, or erasure would miss it."""
        return f"{self.prefix}{kind}:{user_id}"

    def user(self, user_id: str) -> str:
        return self._user_kind("user", user_id)

    def aff(self, user_id: str) -> str:
        return self._user_kind("aff", user_id)

    def seg(self, user_id: str) -> str:
        return self._user_kind("seg", user_id)

    def order(self, user_id: str) -> str:
        return self._user_kind("order", user_id)

    def event_ids(self, user_id: str) -> str:
        """The user's seen event ids, packed (`store.event_ids.SeenIds`)."""
        return self._user_kind("evid", user_id)

    def of_user(self, user_id: str) -> list[str]:
        """Every per-user key of the user (what erasure deletes)."""
        return [self._user_kind(kind, user_id) for kind in USER_KEY_KINDS]

    def epoch(self, user_id: str) -> str:
        """The erasure epoch of the user's bucket (`engine.hashing.erasure_bucket`)."""
        return f"{self.prefix}erased:{erasure_bucket(user_id)}"

    def exposures(self, experiment: str, variant: str, day: int) -> str:
        """The hash of a variant's conversion counts on a day (`:x`: its HyperLogLog)."""
        return f"{self.prefix}exp:{experiment}:{variant}:{day}"

    def days(self, experiment: str) -> str:
        """The set of the days with any count of the experiment."""
        return f"{self.prefix}expdays:{experiment}"

    def exact(self, experiment: str, variant: str) -> str:
        """The hash of a variant's exact counts over the experiment's life, one field per
        (count, cohort): `exposed:elderly/new`... (`engine.activity.Tally`)."""
        return f"{self.prefix}expc:{experiment}:{variant}"

    def off(self, experiment: str, variant: str) -> str:
        """The HyperLogLog of a variant's users with personalization off (no marker)."""
        return f"{self.prefix}expoff:{experiment}:{variant}"

    def meta(self, experiment: str) -> str:
        """The experiment's hash: `version` (moves with every count), `legacy` (1: counts from
        before exact counting exist)."""
        return f"{self.prefix}expmeta:{experiment}"
