"""The audit log of administrative acts and the webhooks that deliver it.

    log        AuditLog          record an act (after it committed), read pages, prune by age,
                                 hear the rollout scheduler (`rollout_act`)
    acts       AuditedTemplates  the template role that records every write it makes
               AuditedDrafts     the draft role that records drafts made and discarded
               record_policy     a changed policy, at start
    webhooks   new_hook          operators' hooks: URLs checked (SSRF), secrets made, shown
    formats    request_for       the signed JSON body, and WeCom, Feishu, DingTalk robots
    outbox     Outbox            delivery from the log: per-hook cursor and lease, backoff

The API's and the console's filters are checked in `admin.audit`.

No entry names an end user: actors are operators (token subjects with the designer or admin
role) or fixed names (`layouts/`, `scheduler`, `user`), and user acts are counts.
"""
