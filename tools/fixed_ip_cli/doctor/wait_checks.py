"""Checks of what keeps an instance waiting for an address (policy WAIT) alive: the wait's
bound against Auto Scaling's own limit for a lifecycle action, and the sweeper, whose
heartbeats keep the waiting instances' hooks from timing out."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from fixed_ip.models import HookMetadata
from fixed_ip.settings import Settings
from fixed_ip_cli.doctor.deployment import Deployment
from fixed_ip_cli.doctor.group_state import hook_metadata
from fixed_ip_cli.doctor.model import FAIL, LAUNCHING, PASS, SKIP, WARN, Check, no_group

# Auto Scaling ends any lifecycle action after 48 hours or 100 heartbeat timeouts,
# whichever is shorter, heartbeats or not.
GLOBAL_TIMEOUT = 48 * 3600
GLOBAL_HEARTBEATS = 100
POLICY_ENV = "FIXED_IP_ON_POOL_EXHAUSTED"
WAIT_ENV = "FIXED_IP_WAIT_FOR_ADDRESS_SECONDS"
_DEFAULTS = Settings.model_fields
_RATE = re.compile(r"^rate\((\d+) (minutes?|hours?|days?)\)$")
_UNIT = {"minute": 60, "hour": 3600, "day": 86400}


@dataclass(frozen=True)
class WaitingHook:
    """A launch hook whose instances wait for an address when the pool is exhausted."""

    name: str
    heartbeat: int

    @property
    def limit(self) -> int:
        return min(GLOBAL_TIMEOUT, GLOBAL_HEARTBEATS * self.heartbeat)


def schedule_seconds(expression: str) -> int | None:
    """The interval of a `rate(...)` schedule; None for a cron schedule (its gaps vary)."""
    found = _RATE.match(expression.strip())
    if not found:
        return None
    return int(found.group(1)) * _UNIT[found.group(2).rstrip("s")]


def _rate_below(seconds: int) -> str:
    """A rate schedule that runs at least twice per `seconds` (EventBridge wants the
    singular unit for 1)."""
    minutes = max(1, (seconds - 1) // 120)
    return f"rate({minutes} minute{'' if minutes == 1 else 's'})"


def _policy(d: Deployment, metadata: HookMetadata) -> str:
    """The hook's own policy, else the function's, else the controller's default."""
    return (
        metadata.on_exhausted
        or d.function_env.get(POLICY_ENV)
        or str(_DEFAULTS["on_pool_exhausted"].default)
    )


def waiting_hooks(d: Deployment) -> list[WaitingHook]:
    """The group's fixed-ip launch hooks with policy WAIT (hooks whose metadata the
    controller refuses are the launch-hook check's)."""
    out = []
    for hook in d.prefixed_hooks(LAUNCHING):
        metadata = hook_metadata(hook)
        if isinstance(metadata, HookMetadata) and _policy(d, metadata) == "WAIT":
            heartbeat = int(hook.get("HeartbeatTimeout", 3600))  # AWS's default
            out.append(WaitingHook(hook["LifecycleHookName"], heartbeat))
    return out


def check_wait_bound(d: Deployment) -> Check:
    if d.group is None:
        return no_group("wait-bound", d)
    if d.function is None:
        return Check(
            "wait-bound",
            SKIP,
            "controller function unknown: its exhaustion policy and WaitForAddressSeconds are "
            "in its environment",
        )
    hooks = d.prefixed_hooks(LAUNCHING)
    if not hooks:
        return Check("wait-bound", SKIP, "no launch hook (see launch-hook)")
    waiting = waiting_hooks(d)
    if not waiting:
        return Check(
            "wait-bound",
            PASS,
            f"policy ABANDON on {', '.join(h['LifecycleHookName'] for h in hooks)}: no "
            "instance waits for an address",
        )
    raw = d.function_env.get(WAIT_ENV)
    try:
        bound = int(raw) if raw is not None else int(_DEFAULTS["wait_for_address_seconds"].default)
    except ValueError:
        return Check(
            "wait-bound",
            FAIL,
            f"{d.function_name}: {WAIT_ENV} {raw!r} is not a number of seconds: every "
            "invocation fails on its settings",
            fix="redeploy the controller stack with a valid WaitForAddressSeconds",
        )
    origin = "" if raw is not None else " (the controller's default)"
    over = [h for h in waiting if bound >= h.limit]
    if not over:
        return Check(
            "wait-bound",
            PASS,
            f"policy WAIT: WaitForAddressSeconds {bound} s{origin} is below Auto Scaling's "
            "limit for a lifecycle action (48 h or 100 x HeartbeatTimeout): "
            + ", ".join(f"{h.name} {h.limit} s" for h in waiting),
        )
    details = [
        f"{h.name}: WaitForAddressSeconds {bound} s is not below Auto Scaling's limit of "
        f"{h.limit} s (the shorter of 48 h and 100 x HeartbeatTimeout {h.heartbeat} s): "
        "Auto Scaling ends the wait first, with the hook's DefaultResult, and without the "
        "controller's pool_exhausted log line and metric"
        for h in over
    ]
    lowest = min(h.limit for h in over)
    fix = (
        f"lower WaitForAddressSeconds below {lowest} s (sam deploy --parameter-overrides "
        f"WaitForAddressSeconds={lowest - 60})"
    )
    heartbeat = math.floor(bound / GLOBAL_HEARTBEATS) + 1
    if bound < GLOBAL_TIMEOUT and heartbeat <= 7200:
        fix += (
            f", or raise the launch hook's HeartbeatTimeout to {heartbeat} s or more (stack "
            "parameter HookHeartbeatTimeout, or aws autoscaling put-lifecycle-hook ... "
            f"--heartbeat-timeout {heartbeat})"
        )
    return Check(
        "wait-bound",
        WARN,
        f"policy WAIT: WaitForAddressSeconds {bound} s{origin} outlasts Auto Scaling's limit "
        "for a lifecycle action",
        fix=fix,
        details=details,
    )


def _schedule_text(rule: dict[str, Any]) -> str:
    return f"{rule['Name']} ({rule['ScheduleExpression']}, {rule.get('State', 'ENABLED')})"


def check_sweeper(d: Deployment) -> Check:
    name = d.sweeper_function_name
    if not name:
        return Check(
            "sweeper",
            SKIP,
            "sweeper function unknown (no stack output SweeperFunctionName): give "
            "--sweeper-function NAME",
        )
    if d.sweeper_function is None:
        return Check(
            "sweeper",
            FAIL,
            f"sweeper function {name} not found in {d.region}: lost launch events are never "
            "finished, leaked ENIs never given back, and instances waiting for an address get "
            "no heartbeat",
            fix="redeploy the controller (sam deploy), or give the right --sweeper-function",
        )
    waiting = waiting_hooks(d) if d.group is not None and d.function is not None else []
    schedules = d.sweeper_schedules
    enabled = [r for r in schedules if r.get("State") == "ENABLED"]
    if not enabled:
        found = (
            f" (schedules: {', '.join(_schedule_text(r) for r in schedules)})" if schedules else ""
        )
        consequence = (
            "instances waiting for an address get no heartbeat and are abandoned when their "
            "hook times out"
            if waiting
            else "lost launch events are never finished and leaked ENIs never given back"
        )
        return Check(
            "sweeper",
            FAIL if waiting else WARN,
            f"no enabled schedule runs sweeper {name}{found}: {consequence}",
            fix="; ".join(f"aws events enable-rule --name {r['Name']}" for r in schedules)
            or "redeploy the controller stack (its SweepSchedule)",
        )
    intervals = [s for r in enabled if (s := schedule_seconds(r["ScheduleExpression"]))]
    runs = ", ".join(_schedule_text(r) for r in enabled)
    if not waiting:
        return Check("sweeper", PASS, f"{name} runs on {runs}")
    heartbeat = min(h.heartbeat for h in waiting)
    hooks = ", ".join(f"{h.name} {h.heartbeat} s" for h in waiting)
    if not intervals:
        return Check(
            "sweeper",
            SKIP,
            f"{name} runs on {runs}: doctor does not compute a cron schedule's interval; it "
            f"must run more often than the launch hook's HeartbeatTimeout ({hooks}), or "
            "instances waiting for an address are abandoned when their hook times out",
        )
    every = min(intervals)
    if every >= heartbeat:
        return Check(
            "sweeper",
            FAIL,
            f"{name} runs every {every} s ({runs}), not more often than the launch hook's "
            f"HeartbeatTimeout ({hooks}): with policy WAIT, an instance waiting for an address "
            "gets its heartbeat from the sweeper, and its hook times out (ABANDON) between passes",
            fix="run the sweeper more often: sam deploy --parameter-overrides "
            f"SweepSchedule='{_rate_below(heartbeat)}', or raise the "
            "launch hook's HeartbeatTimeout (stack parameter HookHeartbeatTimeout) above "
            f"{every} s",
        )
    return Check(
        "sweeper",
        PASS,
        f"{name} runs every {every} s ({runs}), more often than the launch hook's "
        f"HeartbeatTimeout ({hooks}): instances waiting for an address keep their hook alive",
    )
