"""The audit log of administrative acts and the webhooks that deliver it.

    log        AuditLog          record an act (after it committed), read pages, prune by age
    acts       AuditedTemplates  the template role that records every write it makes
               AuditedDrafts     the draft role that records drafts made and discarded
    query      parse_query       the API's and console's filters, checked (AuditQueryError)
    webhooks   Webhooks          operators' hooks: URLs checked (SSRF), secrets made
    formats    payload           the signed JSON body, and WeCom, Feishu, DingTalk robots
    outbox     Outbox            delivery from the log: per-hook cursor and lease, backoff

No entry names an end user: actors are operators (token subjects with the designer or admin
role) or fixed names (`layouts/`, `scheduler`, `user`), and user acts are counts.
"""
