"""What every service's patches share: the lock, process-wide settings, the patch plumbing.

Module-level settings (listeners, auto-registration delay, clock) are process-wide, not AWS
state: tests that change them restore them. Every patched mutation and every EC2 / Auto
Scaling / SSM request runs under :data:`LOCK` (moto's backends are plain Python objects);
lifecycle listeners are called after it is released.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import wraps
from typing import Any

from fixed_ip_local.events import LAUNCHING, TERMINATING

__all__ = ["LAUNCHING", "LOCK", "TERMINATING"]

# One logger for the package, named after it (tests capture it by that name).
logger = logging.getLogger("fixed_ip_local.moto_patches")

#: One lock for every patched mutation and every EC2 / Auto Scaling / SSM request.
LOCK = threading.RLock()

DEFAULT_REGION = "ap-northeast-1"
AGENT_VERSION = "3.3.1957.0"

# Auto Scaling lifecycle states that count toward the group's capacity (AWS counts pending
# and in-service instances; Standby and terminating ones do not).
_CAPACITY_STATES = frozenset({"Pending", "Pending:Wait", "Pending:Proceed", "InService"})
_LEAVING_STATES = frozenset(
    {"Terminating", "Terminating:Wait", "Terminating:Proceed", "Terminated"}
)

# ---------------------------------------------------------------------------------------
# Module-level settings (process-wide, not AWS state)
# ---------------------------------------------------------------------------------------

_listeners: list[Callable[[dict[str, Any]], None]] = []
_auto_register_delay: float | None = 0.0
_clock: Callable[[], float] = time.time
_tls = threading.local()


def _now() -> float:
    return _clock()


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _region(region: str | None) -> str:
    return region or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION


def set_clock(clock: Callable[[], float] | None) -> None:
    """Use ``clock()`` (epoch seconds) for agent registration, command delays and hook
    timeouts instead of ``time.time``; ``None`` restores ``time.time``."""
    global _clock
    _clock = clock or time.time


def add_lifecycle_listener(callback: Callable[[dict[str, Any]], None]) -> None:
    """Call ``callback(event)`` for every new lifecycle action, with the event EventBridge
    would deliver. Called after the request that caused it, outside :data:`LOCK`; an
    exception in a callback is logged and does not fail the request (EventBridge delivery
    is decoupled from the Auto Scaling API)."""
    with LOCK:
        _listeners.append(callback)


def clear_lifecycle_listeners() -> None:
    """Remove every listener added by :func:`add_lifecycle_listener`."""
    with LOCK:
        _listeners.clear()


def set_auto_register(online_after_seconds: float | None) -> None:
    """Register every EC2 instance launched from now on as an SSM managed instance whose agent
    comes online ``online_after_seconds`` after launch; ``None`` stops auto-registration.
    Default: 0.0 (online at once)."""
    global _auto_register_delay
    _auto_register_delay = online_after_seconds


def auto_register_delay() -> float | None:
    """The delay set by :func:`set_auto_register` (read at call time: it changes)."""
    return _auto_register_delay


# ---------------------------------------------------------------------------------------
# Lock, pending events, patch plumbing
# ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def _guard() -> Iterator[None]:
    """Hold :data:`LOCK`; when the outermost guard of this thread exits, deliver the events
    queued meanwhile, outside the lock."""
    LOCK.acquire()
    _tls.depth = getattr(_tls, "depth", 0) + 1
    try:
        yield
    finally:
        _tls.depth -= 1
        outermost = _tls.depth == 0
        LOCK.release()
        if outermost:
            _flush_events()


def _queue_event(event: dict[str, Any]) -> None:
    pending = getattr(_tls, "pending", None)
    if pending is None:
        pending = _tls.pending = []
    pending.append(event)


def _flush_events() -> None:
    pending = getattr(_tls, "pending", None)
    while pending:
        event = pending.pop(0)
        with LOCK:
            listeners = list(_listeners)
        for listener in listeners:
            try:
                listener(event)
            except Exception:
                logger.exception("lifecycle listener %r failed for event %s", listener, event["id"])


_MARK = "__fixed_ip_patch__"


def _patch(cls: type, name: str, make: Callable[[Any], Callable[..., Any]]) -> None:
    """Replace ``cls.name`` by ``make(original)`` unless already patched (idempotent)."""
    original = cls.__dict__.get(name) or getattr(cls, name, None)
    if original is not None and getattr(original, _MARK, False):
        return
    replacement = make(original)
    if original is not None:
        replacement = wraps(original)(replacement)
        replacement.__doc__ = make.__doc__ or replacement.__doc__
    else:
        replacement.__doc__ = make.__doc__
    setattr(replacement, _MARK, True)
    setattr(cls, name, replacement)


def _guarded(original: Callable[..., Any]) -> Callable[..., Any]:
    """Run under LOCK (moto's backends are not thread-safe; AWS applies each request
    atomically), then deliver the lifecycle events it queued."""

    def run(*args: Any, **kwargs: Any) -> Any:
        with _guard():
            return original(*args, **kwargs)

    return run


def _guard_dispatch(original: Callable[..., Any]) -> Callable[..., Any]:
    """Serialize every request of this service under LOCK: moto's backends are not
    thread-safe, and AWS applies each mutation atomically (for example exactly one of many
    concurrent AttachNetworkInterface calls for one interface succeeds)."""
    return _guarded(original)


def _method(function: Callable[..., Any]) -> Callable[[Any], Callable[..., Any]]:
    def make(_original: Any) -> Callable[..., Any]:
        return function

    make.__doc__ = function.__doc__
    return make


def _page(
    items: list[Any], token: str | None, max_results: Any, default: int = 50
) -> tuple[list[Any], str | None]:
    start = int(token) if token else 0
    size = int(max_results) if max_results else default
    page = items[start : start + size]
    next_token = str(start + size) if start + size < len(items) else None
    return page, next_token
