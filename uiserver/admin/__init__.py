"""What the admin API and the designer console both do, without HTTP.

Each function takes the part of the server it works on and plain values and returns typed values
(msgspec Structs the API encodes and the console's templates read), or raises an
`errors.AdminError` (or the decoding layer's `DocumentError`) that each edge turns into its own
answer: a JSON error with the contract's code and status (`http.errors`), or an HTML page. So the
JSON routes and the HTML pages cannot drift apart: the console shows exactly what the API answers.

    templates    live pages, drafts checked, publish, rollback, rollouts, archive, history, diff
    preview      fixed and custom personas (`PersonaSpec`) previewed on live or draft templates
    experiments  variants, their shares of users, and the readout
    drafts       designers' drafts saved as they type
    contrast     contrast readouts for the colour pickers
    segments     operators' segment import
    telemetry    what renderers measured: impressions, taps, render errors per component
    errors       the errors above, each with the contract's code
"""

from __future__ import annotations

from uiserver.admin.errors import (
    AdminError,
    BadRequest,
    Conflict,
    Invalid,
    LayoutRuleFailed,
    NotFound,
)
from uiserver.admin.experiments import (
    Experiment,
    VariantShare,
    experiment_readout,
    experiments,
    variant_shares,
)
from uiserver.admin.preview import persona_names, persona_title, preview_persona
from uiserver.admin.segments import import_segments
from uiserver.admin.telemetry import telemetry_readout
from uiserver.admin.templates import (
    Diff,
    HistoryEntry,
    PageSummary,
    RolloutState,
    archive,
    check_draft,
    conflict,
    decode_text,
    diff,
    document,
    end_rollout,
    history,
    live_page,
    problem_of,
    problems_json,
    publish,
    rollback,
    rollout_state,
    set_rollout,
    summaries,
    template_field,
    version_record,
)

__all__ = [
    "AdminError",
    "BadRequest",
    "Conflict",
    "Diff",
    "Experiment",
    "HistoryEntry",
    "Invalid",
    "LayoutRuleFailed",
    "NotFound",
    "PageSummary",
    "RolloutState",
    "VariantShare",
    "archive",
    "check_draft",
    "conflict",
    "decode_text",
    "diff",
    "document",
    "end_rollout",
    "experiment_readout",
    "experiments",
    "history",
    "import_segments",
    "live_page",
    "persona_names",
    "persona_title",
    "preview_persona",
    "problem_of",
    "problems_json",
    "publish",
    "rollback",
    "rollout_state",
    "set_rollout",
    "summaries",
    "telemetry_readout",
    "template_field",
    "variant_shares",
    "version_record",
]
