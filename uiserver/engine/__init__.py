"""The pure layout pipeline: no I/O, no starlette, no cachetools, no store.

    engine = Engine(catalog, policy)
    compiled = engine.compile(template, version)        # once per template version
    plan = engine.plan(compiled, profile, context)      # cheap: what the layout depends on
    key = plan_fingerprint(version, plan)               # cache one body per key
    body = encode_layout(engine.render(compiled, plan)) # on a miss

Pipeline: variant -> mode -> proposals (handedness, segments, explore, affinity) -> cap ->
stability -> elderly and accessibility rules -> final check -> explained layout.
"""

from __future__ import annotations

from collections.abc import Mapping
from hashlib import blake2b

import msgspec

from uiserver.catalog import Catalog
from uiserver.engine.allocation import Allocation
from uiserver.engine.assess import Assessment, ManualItem, assess
from uiserver.engine.cap import change_count, lis_length
from uiserver.engine.check import LayoutRuleError, check_layout
from uiserver.engine.compiled import CompiledTemplate, CompileError, compile_template
from uiserver.engine.components import ResolvedComponent
from uiserver.engine.explain import Reason
from uiserver.engine.personas import PERSONAS
from uiserver.engine.plan import Plan, base_plan, make_plan
from uiserver.engine.render import render_plan
from uiserver.policy import Policy
from uiserver.schema import Context, Layout, Profile, Template

_LAYOUT_ENCODER = msgspec.json.Encoder()
_PLAN_ENCODER = msgspec.msgpack.Encoder()


class Engine:
    """The facade the HTTP layer calls; holds the catalogue and policy, nothing per user.

    engine = Engine(load_catalog(Path("components")), load_policy())
    compiled = engine.compile(template, template_version(template))
    layout = engine.layout(compiled, Profile(user_id="u1"), Context(device="tablet"))
    body = encode_layout(layout)
    """

    __slots__ = ("catalog", "policy")

    def __init__(self, catalog: Catalog, policy: Policy) -> None:
        self.catalog = catalog
        self.policy = policy

    def compile(
        self, template: Template, version: str, allocation: Allocation | None = None
    ) -> CompiledTemplate:
        """Precompute everything user-independent, serving `allocation` (the version's stored
        one; None: the experiment's initial allocation); raises CompileError on unknown types."""
        return compile_template(template, version, self.catalog, self.policy, allocation)

    def plan(
        self, compiled: CompiledTemplate, profile: Profile, context: Context, *, day: int = 0
    ) -> Plan:
        """Decide the layout for this user and launch (no user id inside the Plan)."""
        return make_plan(compiled, profile, context, day, self.policy)

    def render(self, compiled: CompiledTemplate, plan: Plan) -> Layout:
        """The layout of `plan`, checked; falls back to the base layout with every rule."""
        layout = render_plan(compiled, plan, self.policy)
        problems = check_layout(layout, compiled, self.policy)
        if not problems:
            return layout
        layout = render_plan(compiled, base_plan(plan, compiled), self.policy)
        layout.reasons.append(Reason.FALLBACK_BASE)
        again = check_layout(layout, compiled, self.policy)
        if again:
            raise LayoutRuleError(f"{compiled.page}@{compiled.version}: " + "; ".join(again))
        return layout

    def layout(
        self, compiled: CompiledTemplate, profile: Profile, context: Context, *, day: int = 0
    ) -> Layout:
        return self.render(compiled, self.plan(compiled, profile, context, day=day))

    def measured_layout(
        self, compiled: CompiledTemplate, profile: Profile, context: Context
    ) -> Layout:
        """The layout `layout` serves, or, when even the base layout breaks a rule (a version
        stored before the rule existed, or a catalogue changed under it: lint refuses such a
        template at publish), the base layout as the template makes it, unchecked. What the
        assessment measures (and fails) and the console's assessment phone draws, failures
        marked; never served to a user."""
        plan = self.plan(compiled, profile, context)
        try:
            return self.render(compiled, plan)
        except LayoutRuleError:
            return render_plan(compiled, base_plan(plan, compiled), self.policy)

    def assess(
        self, compiled: CompiledTemplate, recorded: Mapping[str, ManualItem] | None = None
    ) -> Assessment:
        """The ageing-friendly and WCAG assessment of `compiled` (`engine.assess`): each
        assessed persona's layout in the standard and the dark theme, measured."""

        def serve(persona: str, context: Context) -> Layout:
            return self.measured_layout(compiled, PERSONAS[persona], context)

        def comps_of(layout: Layout) -> dict[str, ResolvedComponent]:
            view = compiled.views[layout.variant, layout.mode]
            return {c.id: c for c in view.comps}

        return assess(compiled.page, compiled.version, serve, comps_of, self.policy, recorded)


def encode_layout(layout: Layout) -> bytes:
    """JSON bytes of a layout (one module-level encoder, reused)."""
    return _LAYOUT_ENCODER.encode(layout)


def plan_fingerprint(version: str, plan: Plan) -> bytes:
    """16 bytes naming (template version, plan): equal fingerprints, identical bodies."""
    h = blake2b(digest_size=16)
    h.update(version.encode())
    h.update(b"\x00")
    h.update(_PLAN_ENCODER.encode(plan))
    return h.digest()


__all__ = [
    "PERSONAS",
    "CompileError",
    "CompiledTemplate",
    "Engine",
    "LayoutRuleError",
    "Plan",
    "Reason",
    "change_count",
    "check_layout",
    "encode_layout",
    "lis_length",
    "plan_fingerprint",
]
