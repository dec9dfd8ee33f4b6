"""Where the Redis store keeps each user's data, and each experiment's counts (keys under the
store's prefix; the user id or page is always the last part, so keys of different users never
collide).

Every per-user key is `{prefix}{kind}:{user id}` with its kind in `USER_KEY_KINDS`: erasure
deletes every kind listed there, so a new per-user key (counters...) is added to that tuple and
nowhere else.

In a Redis Cluster (`cluster=True`) a transaction's keys must share one hash slot, so names gain
a hash tag (https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/, "Hash
tags"); a single server keeps the names above, so its data stays readable:

  per-user keys and the epoch   `{prefix}user:{u<bucket>}:<id>`, `{prefix}erased:{u<bucket>}`:
                                the tag is the user's erasure bucket, so the read script (the
                                user's keys and the epoch) and every write that WATCHes the
                                epoch stay in one slot; 4,096 buckets spread over the slots
  an experiment's counts        `{prefix}expc:{x:<experiment>}:<variant>`... (one slot each)
  shared families (`group`)     `{prefix}{tpl}:live`, `{prefix}{sess}:session:<hash>`...: the
                                templates and rollout state, sessions, the audit log, telemetry
  invalidation channels         one sharded channel per slot tag (`channel`), SPUBLISHed in the
                                write's own transaction
"""

from __future__ import annotations

from collections.abc import Iterable

from uiserver.engine.hashing import ERASURE_BUCKETS, erasure_bucket

DEFAULT_PREFIX = "uiserver:"

# The kinds of per-user keys, `{prefix}{kind}:{user id}`: erase_user deletes every one of them.
USER_KEY_KINDS = ("user", "aff", "seg", "order", "evid")


class Keys:
    """The key names of one store (its prefix; hash-tagged in a cluster)."""

    __slots__ = ("cluster", "prefix")

    def __init__(self, prefix: str, *, cluster: bool = False) -> None:
        self.prefix = prefix
        self.cluster = cluster

    def user_tag(self, user_id: str) -> str:
        """The hash tag of the user's keys in a cluster (`{u<erasure bucket>}`), "" otherwise."""
        return f"{{u{erasure_bucket(user_id)}}}" if self.cluster else ""

    def _user_kind(self, kind: str, user_id: str) -> str:
        """A per-user key: `kind` must be in USER_KEY_KINDS, or erasure would miss it."""
        if self.cluster:
            return f"{self.prefix}{kind}:{self.user_tag(user_id)}:{user_id}"
        return f"{self.prefix}{kind}:{user_id}"

    def group(self, family: str, name: str) -> str:
        """A key of a shared family (`tpl`, `sess`, `audit`, `tel`): `{prefix}{name}`, in a
        cluster `{prefix}{{family}}:{name}` so a family's transactions stay in one slot."""
        return f"{self.prefix}{{{family}}}:{name}" if self.cluster else f"{self.prefix}{name}"

    def channel(self, tag: str = "") -> str:
        """The invalidation channel of a slot tag (a cluster: sharded, one per tag); a single
        server has the one `{prefix}invalidate`."""
        return f"{self.prefix}invalidate:{tag}" if self.cluster else f"{self.prefix}invalidate"

    def user_channel(self, user_id: str) -> str:
        return self.channel(self.user_tag(user_id))

    def group_channel(self, family: str) -> str:
        return self.channel(f"{{{family}}}")

    def channels(self, families: Iterable[str]) -> list[str]:
        """Every channel a subscriber listens on: one per user bucket and one per family in a
        cluster; the one channel otherwise."""
        if not self.cluster:
            return [self.channel()]
        buckets = [self.channel(f"{{u{b}}}") for b in range(ERASURE_BUCKETS)]
        return [*buckets, *(self.group_channel(f) for f in families)]

    def by_tag(self, user_ids: Iterable[str]) -> dict[str, list[str]]:
        """The users grouped by slot tag (one group, tag "", on a single server): a cluster
        transaction holds one group."""
        out: dict[str, list[str]] = {}
        for user_id in user_ids:
            out.setdefault(self.user_tag(user_id), []).append(user_id)
        return out

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
        if self.cluster:
            return f"{self.prefix}erased:{self.user_tag(user_id)}"
        return f"{self.prefix}erased:{erasure_bucket(user_id)}"

    def _experiment(self, experiment: str) -> str:
        """The experiment as it appears in its keys: hash-tagged in a cluster, so a readout's
        multi-key PFCOUNT stays in one slot."""
        return f"{{x:{experiment}}}" if self.cluster else experiment

    def exposures(self, experiment: str, variant: str, day: int) -> str:
        """The hash of a variant's conversion counts on a day (`:x`: its HyperLogLog)."""
        return f"{self.prefix}exp:{self._experiment(experiment)}:{variant}:{day}"

    def days(self, experiment: str) -> str:
        """The set of the days with any count of the experiment."""
        return f"{self.prefix}expdays:{self._experiment(experiment)}"

    def exact(self, experiment: str, variant: str) -> str:
        """The hash of a variant's exact counts over the experiment's life, one field per
        (count, cohort): `exposed:elderly/new`... (`engine.activity.Tally`)."""
        return f"{self.prefix}expc:{self._experiment(experiment)}:{variant}"

    def off(self, experiment: str, variant: str) -> str:
        """The HyperLogLog of a variant's users with personalization off (no marker)."""
        return f"{self.prefix}expoff:{self._experiment(experiment)}:{variant}"

    def meta(self, experiment: str) -> str:
        """The experiment's hash: `version` (moves with every count), `legacy` (1: counts from
        before exact counting exist)."""
        return f"{self.prefix}expmeta:{self._experiment(experiment)}"
