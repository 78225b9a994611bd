"""Fidelity patch for moto 5.2.x EventBridge: ``TestEventPattern`` (moto raises
NotImplementedError for it). `fixed-ip doctor` asks EventBridge itself whether a rule's
pattern matches a lifecycle event; on moto the answer comes from moto's own pattern
matcher, the one that routes ``PutEvents`` (it implements literal values, prefix, suffix,
equals-ignore-case, anything-but, exists, numeric, cidr, wildcard and $or).

`moto_patches.apply()` calls :func:`apply`.
"""

from __future__ import annotations

import json
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.events.models import EventPattern
from moto.events.responses import EventsHandler

# AWS: "the following fields are mandatory: id, account, source, time, region, resources,
# detail-type" (TestEventPattern API reference); a missing one is a ValidationException.
MANDATORY_FIELDS = ("id", "account", "source", "time", "region", "resources", "detail-type")


def _test_event_pattern(self: EventsHandler) -> tuple[str, dict[str, Any]]:
    """TestEventPattern: ``{"Result": bool}``; InvalidEventPatternException for a pattern
    EventBridge refuses (moto's parser), ValidationException for an event that is not JSON
    or lacks a mandatory field."""
    try:
        event = json.loads(self._get_param("Event") or "")
    except ValueError as exc:
        raise JsonRESTError("ValidationException", "Parameter Event is not valid.") from exc
    missing = [f for f in MANDATORY_FIELDS if not isinstance(event, dict) or f not in event]
    if missing:
        raise JsonRESTError(
            "ValidationException",
            f"Parameter Event is not valid. Reason: Provided Event is missing mandatory "
            f"field {missing[0]}",
        )
    pattern = EventPattern.load(self._get_param("EventPattern"))
    return json.dumps({"Result": pattern.matches_event(event)}), self.response_headers


def apply() -> None:
    """Install the patch (idempotent)."""
    EventsHandler.test_event_pattern = _test_event_pattern  # type: ignore[method-assign]
