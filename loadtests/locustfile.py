"""Launch traffic of the mini-program, for locust (`FastHttpUser`).

A `LaunchUser` is a stream of app launches by members of the seeded population: each launch
GETs `home` with the ETag the client stored last time (so a share of launches are 304s), visits
1-3 more pages, posts one batch of behaviour events, and now and then changes a setting and
checks that its very next layout reflects it. One `DesignerUser` publishes template changes
under load and checks that the very next layout carries the new version.

Run by `loadtests/run.py`, or by hand against a server whose population was seeded:

    LOADTEST_POPULATION=out/population.csv locust -f loadtests/locustfile.py \
        --headless -u 200 -r 50 -t 30s --host http://127.0.0.1:8000

Environment: `LOADTEST_POPULATION` (required; written by run.py), `LOADTEST_COUNTS_FILE` (where
the checks' counts are written at the end), `LOADTEST_SEED`, `LOADTEST_WAIT` ("min,max" seconds
between launches), `LOADTEST_SETTINGS_SHARE` (share of launches that change a setting),
`LOADTEST_PUBLISH_EVERY` (seconds between publishes), `LOADTEST_HOT` ("users,launches": the
share of the population that is "daily active" and the share of launches they make).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import gevent
from locust import FastHttpUser, between, constant, events, task
from locust.env import Environment

# locust imports this file by path: the checkout holding `loadtests/` must be importable.
_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from loadtests.population import Member, read_population  # noqa: E402

LAYOUT = "/v1/layouts/[page]"


def _env_pair(name: str, default: str) -> tuple[float, float]:
    low, high = os.environ.get(name, default).split(",")
    return float(low), float(high)


SEED = int(os.environ.get("LOADTEST_SEED", "1"))
WAIT = _env_pair("LOADTEST_WAIT", "0.2,1.0")
SETTINGS_SHARE = float(os.environ.get("LOADTEST_SETTINGS_SHARE", "0.02"))
PUBLISH_EVERY = float(os.environ.get("LOADTEST_PUBLISH_EVERY", "10"))
HOT_USERS, HOT_LAUNCHES = _env_pair("LOADTEST_HOT", "0.02,0.7")

# What the checks saw; written to LOADTEST_COUNTS_FILE when the test stops.
COUNTS: Counter[str] = Counter()
_user_ids = itertools.count()


class Population:
    """The members, their clients' stored ETags, and who is launching right now.

    A member is never driven by two simulated users at once (one phone per person), so a
    settings check cannot be disturbed by another launch of the same member.
    """

    def __init__(self, members: list[Member], seed: int) -> None:
        self.members = members
        self.hot = max(1, int(len(members) * HOT_USERS))
        self.etags: dict[tuple[int, str], str] = {
            (i, "home"): m.etag for i, m in enumerate(members) if m.etag
        }
        self.busy: set[int] = set()
        self.rng = random.Random(seed)

    def draw(self) -> int:
        """A member not launching right now; daily-active members make most launches."""
        for attempt in itertools.count():
            if attempt and attempt % 100 == 0:
                gevent.sleep(0.01)  # everyone we drew is busy: let their launches finish
            if self.rng.random() < HOT_LAUNCHES:
                index = self.rng.randrange(self.hot)
            else:
                index = self.rng.randrange(len(self.members))
            if index not in self.busy:
                self.busy.add(index)
                return index
        raise AssertionError("unreachable")

    @contextmanager
    def launch(self) -> Iterator[int]:
        index = self.draw()
        try:
            yield index
        finally:
            self.busy.discard(index)


_state: dict[str, Any] = {}
_lock = threading.Lock()


def population() -> Population:
    """Loaded once per process, on first use."""
    with _lock:
        if "population" not in _state:
            path = os.environ.get("LOADTEST_POPULATION")
            if not path:
                raise RuntimeError("set LOADTEST_POPULATION to a file written by loadtests/run.py")
            members, designer = read_population(Path(path))
            _state["population"] = Population(members, SEED)
            _state["designer"] = designer
        found: Population = _state["population"]
        return found


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def component_ids(host: str) -> dict[str, list[str]]:
    """The live pages (from /readyz) and the component ids of each (from the anonymous
    layouts), so events name real components. `home` comes first."""
    with _lock:
        if "components" not in _state:
            pages = sorted(_get_json(f"{host}/readyz")["templates"], key=lambda p: p != "home")
            _state["components"] = {
                page: [c["id"] for c in _get_json(f"{host}/v1/layouts/{page}")["components"]]
                for page in pages
            }
        components: dict[str, list[str]] = _state["components"]
        return components


class LaunchUser(FastHttpUser):
    """A phone in someone's hand: launch, browse a little, report what was seen and tapped."""

    weight = 100
    wait_time = between(*WAIT)

    def on_start(self) -> None:
        self.rng = random.Random(SEED * 1_000_003 + next(_user_ids))
        self.pages = component_ids(self.host or "")
        self.others = [page for page in self.pages if page != "home"]

    @task
    def launch(self) -> None:
        pop = population()
        with pop.launch() as index:
            member = pop.members[index]
            auth = {"Authorization": f"Bearer {member.token}"}
            COUNTS["launches"] += 1
            self.get_layout(pop, index, "home", auth)
            more = self.rng.randint(1, min(3, len(self.others)))
            visited = ["home", *self.rng.sample(self.others, more)]
            for page in visited[1:]:
                gevent.sleep(self.rng.uniform(0.02, 0.1))  # the user reads, then taps on
                self.get_layout(pop, index, page, auth)
            self.post_events(visited, auth)
            if self.rng.random() < SETTINGS_SHARE:
                self.change_setting(pop, index, auth)

    def get_layout(self, pop: Population, index: int, page: str, auth: dict[str, str]) -> None:
        """GET with the stored ETag; a 304 is a success (the client keeps its stored layout)."""
        member = pop.members[index]
        headers = dict(auth)
        stored = pop.etags.get((index, page))
        if stored:
            headers["If-None-Match"] = stored
        with self.client.get(
            f"/v1/layouts/{page}?{member.query}", headers=headers, name=LAYOUT, catch_response=True
        ) as response:
            if response.status_code == 304:
                COUNTS["not_modified"] += 1
                response.success()
            elif response.status_code == 200:
                pop.etags[(index, page)] = response.headers.get("ETag", "")
                response.success()
            else:
                response.failure(f"status {response.status_code}")

    def post_events(self, visited: list[str], auth: dict[str, str]) -> None:
        """One batch per launch: views of what was on screen, a few taps, a rare purchase."""
        now = time.time()
        batch: list[dict[str, Any]] = []
        for page in visited:
            ids = self.pages.get(page) or ["unknown"]
            batch += [{"page": page, "component": c, "kind": "view", "ts": now} for c in ids[:6]]
            batch += [
                {"page": page, "component": self.rng.choice(ids), "kind": "click", "ts": now}
                for _ in range(self.rng.randint(0, 2))
            ]
        if self.rng.random() < 0.05:  # a purchase, credited to the last page seen
            page = visited[-1]
            batch.append(
                {
                    "page": page,
                    "component": self.rng.choice(self.pages[page]),
                    "kind": "convert",
                    "ts": now,
                }
            )
        for event in batch:  # an id per event, as the SDK makes them at track time
            event["id"] = f"{self.rng.getrandbits(96):024x}"
        with self.client.post(
            "/v1/me/events",
            json={"events": batch},
            headers=auth,
            name="/v1/me/events",
            catch_response=True,
        ) as response:
            if response.status_code == 202:
                COUNTS["events"] += len(batch)
                response.success()
            else:
                response.failure(f"status {response.status_code}")

    def change_setting(self, pop: Population, index: int, auth: dict[str, str]) -> None:
        """Toggle elderly mode from the settings screen; the next layout must show it."""
        member = pop.members[index]
        with self.client.get(
            "/v1/me/settings", headers=auth, name="/v1/me/settings", catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}")
                return
            settings = response.json()
        turn_on = settings["elderly_mode"] != "on"
        settings["elderly_mode"] = "on" if turn_on else "off"
        with self.client.put(
            "/v1/me/settings",
            json=settings,
            headers=auth,
            name="/v1/me/settings",
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}")
                return
        COUNTS["settings_changes"] += 1
        # "off" wins over every trigger (age band, care-mode font): the user said no.
        expected = "elderly" if turn_on else "standard"
        with self.client.get(
            f"/v1/layouts/home?{member.query}",
            headers=auth,
            name=f"{LAYOUT} after settings",
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}")
                return
            mode = response.json()["mode"]
            if mode != expected:
                COUNTS["settings_mismatches"] += 1
                response.failure(f"elderly_mode={settings['elderly_mode']} served mode {mode}")
                return
            pop.etags[(index, "home")] = response.headers.get("ETag", "")
            COUNTS["settings_verified"] += 1
            response.success()


class DesignerUser(FastHttpUser):
    """One designer editing page titles under load; each publish is checked at once."""

    fixed_count = 1
    wait_time = constant(PUBLISH_EVERY)

    def on_start(self) -> None:
        population()
        self.auth = {"Authorization": f"Bearer {_state['designer']}"}
        self.pages = list(component_ids(self.host or ""))
        self.rng = random.Random(SEED + 7)
        self.published = 0
        gevent.sleep(min(1.0, PUBLISH_EVERY))  # publish once the clients are launching

    @task
    def publish(self) -> None:
        page = self.pages[self.published % len(self.pages)]
        with self.client.get(
            f"/v1/admin/templates/{page}",
            headers=self.auth,
            name="/v1/admin/templates/[page]",
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}")
                return
            template = response.json()["template"]
        self.published += 1
        base = template["title"].split(" · bench ")[0]
        template["title"] = f"{base} · bench {self.published}.{self.rng.randrange(10**6)}"
        body = {"template": template, "message": f"loadtest publish {self.published}"}
        with self.client.post(
            f"/v1/admin/templates/{page}/publish",
            json=body,
            headers=self.auth,
            name="/v1/admin/templates/[page]/publish",
            catch_response=True,
        ) as response:
            if response.status_code != 201:
                response.failure(f"status {response.status_code}: {response.text[:200]}")
                return
            version = response.json()["version"]
        COUNTS["publishes"] += 1
        self.check_served(page, version)

    def check_served(self, page: str, version: str) -> None:
        """Right after the publish returned, a client must get the new version (never the
        cached old one), whichever worker answers."""
        pop = population()
        with pop.launch() as index:
            member = pop.members[index]
            headers = {"Authorization": f"Bearer {member.token}"}
            with self.client.get(
                f"/v1/layouts/{page}?{member.query}",
                headers=headers,
                name=f"{LAYOUT} after publish",
                catch_response=True,
            ) as response:
                if response.status_code != 200:
                    response.failure(f"status {response.status_code}")
                    return
                served = response.json()["template_version"]
                if served != version:
                    COUNTS["publish_mismatches"] += 1
                    response.failure(f"published {version}, served {served}")
                    return
                COUNTS["publishes_verified"] += 1
                response.success()


@events.test_stop.add_listener  # type: ignore[untyped-decorator]
def write_counts(environment: Environment, **_: Any) -> None:
    """Hand the checks' counts to run.py (it folds them into stats.json)."""
    path = os.environ.get("LOADTEST_COUNTS_FILE")
    if path:
        Path(path).write_text(json.dumps(dict(sorted(COUNTS.items())), indent=2) + "\n")
