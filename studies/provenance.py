"""Where a study's items came from, told by the apps built on studies (studies imports none of them).

``describe_study`` is sent with ``study``; a receiver (e.g. the model registry's, for a study made by
"Compare in a study") returns ``{"links": [{"label", "url"}], "provenance": {...}}`` or None. The
results page shows the links and the results export carries the provenance chains.
"""

from __future__ import annotations

import logging

from django.dispatch import Signal

log = logging.getLogger("portrait_lab.studies")
describe_study = Signal()


def origin(study) -> dict:
    """``{"links": [...], "provenance": [...]}`` from every receiver (a failing one is logged)."""
    links, chains = [], []
    for receiver, result in describe_study.send_robust(sender=type(study), study=study):
        if isinstance(result, Exception):
            log.error("study %s: describe_study receiver %s failed", study.pk, receiver, exc_info=result)
        elif result:
            links += result.get("links", [])
            if result.get("provenance"):
                chains.append(result["provenance"])
    return {"links": links, "provenance": chains}
