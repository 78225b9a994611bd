"""Checks of the group and its lifecycle hooks."""

from __future__ import annotations

import json

from fixed_ip.settings import Settings
from fixed_ip_cli.doctor.deployment import Deployment
from fixed_ip_cli.doctor.group_state import hook_metadata
from fixed_ip_cli.doctor.model import (
    FAIL,
    LAUNCHING,
    PASS,
    SKIP,
    TERMINATE_HOOK_HEARTBEAT,
    TERMINATING,
    WARN,
    Check,
    no_group,
)
from fixed_ip_cli.doctor.patterns import terminate_rules, unevaluated

RELEASE_WAIT_ENV = "FIXED_IP_RELEASE_WAIT_SECONDS"
RELEASE_WAIT_DEFAULT: int = Settings.model_fields["release_wait_seconds"].default


def check_group(d: Deployment) -> Check:
    group = d.group
    name = d.options.group
    if group is None:
        return Check(
            "group",
            FAIL,
            f"Auto Scaling group {name} not found in {d.region}",
            fix="check the name and --region: aws autoscaling describe-auto-scaling-groups "
            "--query 'AutoScalingGroups[].AutoScalingGroupName'",
        )
    azs = sorted(group.get("AvailabilityZones", []))
    return Check(
        "group",
        PASS,
        f"{name}: min {group['MinSize']}, desired {group['DesiredCapacity']}, max "
        f"{group['MaxSize']}, {len(group.get('Instances', []))} instance(s), "
        f"AZs {', '.join(azs)}",
    )


def _put_hook_command(d: Deployment, hook: str, *, heartbeat: int | None = None) -> str:
    timeout = d.function_timeout or 420
    heartbeat = heartbeat or max(900, timeout + 120)
    command = (
        f"aws autoscaling put-lifecycle-hook --auto-scaling-group-name {d.options.group} "
        f"--lifecycle-hook-name {hook} --lifecycle-transition {LAUNCHING} "
        f"--default-result ABANDON --heartbeat-timeout {heartbeat}"
    )
    if d.pool != d.options.group:
        command += f" --notification-metadata '{json.dumps({'pool': d.pool})}'"
    return command


def check_launch_hook(d: Deployment) -> Check:
    if d.group is None:
        return no_group("launch-hook", d)
    prefix = d.hook_prefix
    hooks = d.prefixed_hooks(LAUNCHING)
    if not hooks:
        others = [h["LifecycleHookName"] for h in d.hooks if h["LifecycleTransition"] == LAUNCHING]
        other_text = f" (launch hooks found: {', '.join(others)})" if others else ""
        return Check(
            "launch-hook",
            FAIL,
            f"no launch lifecycle hook whose name starts with {prefix!r} on "
            f"{d.options.group}{other_text}: the controller never sees its launches",
            fix=_put_hook_command(d, f"{prefix}-launch"),
        )
    timeout = d.function_timeout
    details: list[str] = []
    fixes: list[str] = []
    worst = PASS
    for hook in hooks:
        name = hook["LifecycleHookName"]
        heartbeat = int(hook.get("HeartbeatTimeout", 3600))
        result = hook.get("DefaultResult", "ABANDON")
        if result != "ABANDON":
            worst = FAIL
            details.append(
                f"{name}: DefaultResult {result}: an instance the controller never answers "
                "would go InService without its address"
            )
            fixes.append(_put_hook_command(d, name, heartbeat=heartbeat))
        if timeout is None:
            worst = worst if worst == FAIL else WARN
            details.append(
                f"{name}: HeartbeatTimeout {heartbeat} s; the function timeout is unknown"
            )
        elif heartbeat <= timeout:
            worst = FAIL
            details.append(
                f"{name}: HeartbeatTimeout {heartbeat} s is not above the function timeout "
                f"{timeout} s: the hook can expire (ABANDON) while the controller still works"
            )
            fixes.append(_put_hook_command(d, name))
        reason = hook_metadata(hook)
        if isinstance(reason, str):
            worst = FAIL
            details.append(f"{name}: the controller refuses its events: {reason}")
            fixes.append(
                f"aws autoscaling put-lifecycle-hook --auto-scaling-group-name "
                f"{d.options.group} --lifecycle-hook-name {name} --notification-metadata "
                f"'{json.dumps({'pool': d.pool})}'"
            )
    if len(hooks) > 1:
        worst = worst if worst == FAIL else WARN
        details.append(
            f"{len(hooks)} launch hooks start with {prefix!r}: each sends an event, and "
            "every instance waits for all of them; keep one"
        )
    names = ", ".join(h["LifecycleHookName"] for h in hooks)
    if worst == PASS:
        hook = hooks[0]
        return Check(
            "launch-hook",
            PASS,
            f"{names}: DefaultResult ABANDON, HeartbeatTimeout {hook.get('HeartbeatTimeout')} s "
            f"> function timeout {timeout} s, pool {d.pool}",
        )
    return Check(
        "launch-hook",
        worst,
        f"launch hook {names} on {d.options.group}: {len(details)} problem(s)",
        fix="; ".join(fixes) or None,
        details=details,
    )


def _put_terminate_hook_command(d: Deployment, hook: str) -> str:
    return (
        f"aws autoscaling put-lifecycle-hook --auto-scaling-group-name {d.options.group} "
        f"--lifecycle-hook-name {hook} --lifecycle-transition {TERMINATING} "
        f"--default-result CONTINUE --heartbeat-timeout {TERMINATE_HOOK_HEARTBEAT}"
    )


def _release_bound(d: Deployment) -> int | None:
    """How long the terminate function may take before it completes the action: its wait
    for the detached ENI (bounded by its timeout). It serves an instance waiting for the
    address only after the CONTINUE, so its whole timeout is not the hook's concern."""
    config = d.terminate_function or d.function
    if config is None:
        return None
    env = config.get("Environment", {}).get("Variables", {})
    try:
        wait = int(env.get(RELEASE_WAIT_ENV, RELEASE_WAIT_DEFAULT))
    except ValueError:
        wait = RELEASE_WAIT_DEFAULT
    timeout = config.get("Timeout")
    return min(wait, int(timeout)) if timeout else wait


def check_terminate_hook(d: Deployment) -> Check:
    if d.group is None:
        return no_group("terminate-hook", d)
    hooks = d.prefixed_hooks(TERMINATING)
    if d.function is None and d.terminate_function is None:
        return Check("terminate-hook", SKIP, "controller functions unknown: cannot find rules")
    if not hooks:
        if d.terminate_function_name:
            return Check(
                "terminate-hook",
                WARN,
                f"no terminate hook starting with {d.hook_prefix!r} on {d.options.group}: "
                f"{d.terminate_function_name} never runs, and a pool ENI comes back only once "
                "EC2 has terminated its instance (or the sweeper releases it)",
                fix=_put_terminate_hook_command(d, f"{d.hook_prefix}-terminate"),
            )
        return Check(
            "terminate-hook",
            PASS,
            f"no terminate hook starting with {d.hook_prefix!r} (the controller has no "
            "terminate function; a pool ENI returns when its instance terminates)",
        )
    details: list[str] = []
    for hook in hooks:
        name = hook["LifecycleHookName"]
        heartbeat = int(hook.get("HeartbeatTimeout", 3600))
        if not terminate_rules(d, name):
            unknown = unevaluated(d, TERMINATING, name)
            if unknown:
                return Check(
                    "terminate-hook",
                    WARN,
                    f"terminate hook {name}: cannot tell whether a rule delivers its actions: "
                    "EventBridge cannot evaluate the pattern of " + ", ".join(unknown),
                    fix="see the rule check",
                )
            return Check(
                "terminate-hook",
                FAIL,
                f"terminate hook {name} holds every terminating instance in Terminating:Wait "
                f"for {heartbeat} s: no enabled rule of the controller handles terminate "
                "actions",
                fix=f"redeploy the controller stack (its terminate rule), or remove the hook: "
                f"aws autoscaling delete-lifecycle-hook --auto-scaling-group-name "
                f"{d.options.group} --lifecycle-hook-name {name}",
            )
        release = _release_bound(d)
        if release is not None and heartbeat <= release:
            details.append(
                f"{name}: HeartbeatTimeout {heartbeat} s is not above the {release} s the "
                "terminate function may wait for the ENI to be released before it completes "
                f"the action ({RELEASE_WAIT_ENV}, within its timeout): the hook may end "
                "before the ENI is given back"
            )
    names = ", ".join(h["LifecycleHookName"] for h in hooks)
    if details:
        return Check(
            "terminate-hook",
            WARN,
            f"terminate hook {names}: routed to the controller; {len(details)} problem(s)",
            fix=_put_terminate_hook_command(d, hooks[0]["LifecycleHookName"]),
            details=details,
        )
    return Check(
        "terminate-hook",
        PASS,
        f"{names}: HeartbeatTimeout {hooks[0].get('HeartbeatTimeout')} s, routed to "
        f"{d.terminate_function_name or d.function_name}",
    )
