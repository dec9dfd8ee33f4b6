"""The bulk seeder writes through a real 3-primary Redis Cluster under the store's own
hash-tagged key names, and `uiserver serve --store redis-cluster://...` serves seeded users'
layouts from what was seeded (loadtests/bulkseed.py, issue 25)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from loadtests import bulkseed
from loadtests.ladder import redis_size
from loadtests.servers import start_redis_cluster
from tests.helpers.app import bearer
from tests.helpers.processes import ServeProcess
from tests.helpers.redis import RedisClusterSet
from uiserver.store._common import decode_settings

pytestmark = [pytest.mark.redis, pytest.mark.slow]

USERS = 2_000
WARM = 100


def seeded(predicate: Any) -> bulkseed.SeedUser:
    """The first seeded (non-warm) user `predicate` holds for."""
    users = bulkseed.generate(USERS, 1, WARM, bulkseed.affinity_keys())
    return next(u for u in list(users)[WARM:] if predicate(u))


def test_bulk_seeded_users_are_served_from_the_cluster(
    shared_cluster: RedisClusterSet, tmp_path: Path
) -> None:
    cluster = shared_cluster
    result = bulkseed.seed(cluster.url, tmp_path, USERS, 1, WARM)
    assert result["users"] == USERS and result["checked_through_store"] > 0
    # the keys are spread over every primary (pipelines sent to each node)
    import redis

    sizes = []
    for node in cluster.primaries():
        with redis.Redis(port=node.port) as client:
            sizes.append(int(client.dbsize()))
    assert len(sizes) == 3 and min(sizes) > 0 and sum(sizes) > USERS

    contrast = seeded(lambda u: u.settings and b"high_contrast" in u.settings)
    churn = seeded(lambda u: u.segments == ["churn_risk"])
    plain = seeded(lambda u: u.settings is None and not u.segments and not u.scores)
    server = ServeProcess(tmp_path / "serve", cluster.url).start()
    try:
        server.wait_ready()
        with server.client() as http:
            stored = http.get("/v1/me/settings", headers=bearer(contrast.user_id)).json()
            assert contrast.settings is not None
            expected = decode_settings(contrast.settings)
            assert stored["high_contrast"] is True
            assert stored["font_scale"] == expected.font_scale
            layout = http.get("/v1/layouts/home", headers=bearer(contrast.user_id)).json()
            assert layout["theme"]["high_contrast"] is True

            def ids(user: str) -> set[str]:
                body = http.get("/v1/layouts/home", headers=bearer(user)).json()
                return {c["id"] for c in body["components"] if c.get("visible", True)}

            # the seeded segment shows its component; a user without one does not see it
            assert "welcome_back" in ids(churn.user_id)
            assert "welcome_back" not in ids(plain.user_id)
    finally:
        server.stop()


def test_the_ladder_starts_a_cluster_seeds_it_and_sizes_it(tmp_path: Path) -> None:
    procs, url = start_redis_cluster(tmp_path / "cluster")
    try:
        assert url.startswith("redis-cluster://") and url.count(",") == 2
        assert bulkseed.main(["--users", "500", "--warm", "50", "--redis", url]) == 0
        size = redis_size(url)
        assert size["redis_nodes"] == 3 and size["redis_keys"] > 500
        assert size["redis_used_memory_mb"] > 0
    finally:
        for proc in procs:
            proc.stop()
