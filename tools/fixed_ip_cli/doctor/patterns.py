"""Which of the controller's rules deliver this group's lifecycle events: EventBridge
itself answers, through `TestEventPattern`, for a sample event shaped as Auto Scaling
sends it. No pattern matcher of our own: whatever EventBridge supports (and however it
evolves), doctor's verdict is EventBridge's."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Protocol

from botocore.exceptions import ClientError

from fixed_ip.models import LAUNCH_DETAIL_TYPE, LAUNCHING, TERMINATE_DETAIL_TYPE, TERMINATING
from fixed_ip_cli.awsutil import aws_errors, error_code

# Answers of TestEventPattern that concern the pattern or the event, not the caller.
_REFUSED = {"InvalidEventPatternException", "ValidationException"}


class PatternUnknown(Exception):
    """EventBridge could not evaluate a rule's pattern (it refused the pattern)."""


class _Deployment(Protocol):
    options: Any
    region: str
    group: dict[str, Any] | None
    function: dict[str, Any] | None
    terminate_function: dict[str, Any] | None
    rules: list[dict[str, Any]]
    hook_prefix: str
    pattern_answers: dict[tuple[str, str, str], bool | str]

    def client(self, service: str) -> Any: ...
    def prefixed_hooks(self, transition: str) -> list[dict[str, Any]]: ...


def sample_event(d: _Deployment, transition: str, hook: str, account: str) -> dict[str, Any]:
    """A lifecycle action event of this group and hook, with every field TestEventPattern
    requires (id, account, source, time, region, resources, detail-type)."""
    launching = transition == LAUNCHING
    return {
        "version": "0",
        "id": "00000000-0000-0000-0000-000000000000",
        "detail-type": LAUNCH_DETAIL_TYPE if launching else TERMINATE_DETAIL_TYPE,
        "source": "aws.autoscaling",
        "account": account,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": d.region,
        "resources": [(d.group or {}).get("AutoScalingGroupARN", "")],
        "detail": {
            "LifecycleActionToken": "00000000-0000-0000-0000-000000000000",
            "AutoScalingGroupName": d.options.group,
            "LifecycleHookName": hook,
            "EC2InstanceId": "i-0123456789abcdef0",
            "LifecycleTransition": transition,
            "Origin": "EC2" if launching else "AutoScalingGroup",
            "Destination": "AutoScalingGroup" if launching else "EC2",
        },
    }


def matches(d: _Deployment, rule: dict[str, Any], transition: str, hook: str) -> bool:
    """Whether EventBridge delivers this hook's events to `rule` (asked once per rule,
    transition and hook). Raises PatternUnknown when EventBridge refuses the pattern."""
    pattern = rule.get("EventPattern")
    if not pattern:
        return False  # a schedule rule: it delivers no event at all
    key = (rule["Name"], transition, hook)
    if key not in d.pattern_answers:
        account = rule["Arn"].split(":")[4]  # the event comes from the rule's own account
        event = json.dumps(sample_event(d, transition, hook, account))
        events = d.client("events")
        with aws_errors(f"testing the event pattern of rule {rule['Name']}"):
            try:
                answer = events.test_event_pattern(EventPattern=pattern, Event=event)
                d.pattern_answers[key] = bool(answer["Result"])
            except ClientError as exc:
                if error_code(exc) not in _REFUSED:
                    raise
                d.pattern_answers[key] = exc.response.get("Error", {}).get("Message", "") or str(
                    exc
                )
    answer = d.pattern_answers[key]
    if isinstance(answer, str):
        raise PatternUnknown(answer)
    return answer


def rules_matching(d: _Deployment, transition: str, hook: str) -> list[dict[str, Any]]:
    out = []
    for rule in d.rules:
        try:
            if matches(d, rule, transition, hook):
                out.append(rule)
        except PatternUnknown:
            continue
    return out


def unevaluated(d: _Deployment, transition: str, hook: str) -> list[str]:
    """Names of the rules whose pattern EventBridge could not evaluate for this event."""
    out = []
    for rule in d.rules:
        try:
            matches(d, rule, transition, hook)
        except PatternUnknown:
            out.append(rule["Name"])
    return out


def targets_function(rule: dict[str, Any], function_arn: str | None) -> bool:
    if not function_arn:
        return False
    # A target may be the function or one of its versions/aliases (ARN:qualifier).
    return any(
        t["Arn"] == function_arn or t["Arn"].startswith(function_arn + ":") for t in rule["Targets"]
    )


def _delivers(rule: dict[str, Any], arns: list[str | None]) -> bool:
    return (
        rule.get("State") == "ENABLED"
        and rule.get("EventBusName", "default") == "default"
        and any(targets_function(rule, arn) for arn in arns)
    )


def launch_hook_name(d: _Deployment) -> str:
    hooks = d.prefixed_hooks(LAUNCHING)
    return hooks[0]["LifecycleHookName"] if hooks else f"{d.hook_prefix}-launch"


def launch_rules(d: _Deployment) -> list[dict[str, Any]]:
    """Enabled rules on the default bus that match this group's launch events and target
    the controller function."""
    arn = (d.function or {}).get("FunctionArn")
    return [r for r in rules_matching(d, LAUNCHING, launch_hook_name(d)) if _delivers(r, [arn])]


def terminate_rules(d: _Deployment, hook: str) -> list[dict[str, Any]]:
    """Enabled rules on the default bus that match this group's terminate events and
    target one of the controller's functions."""
    arns = [f.get("FunctionArn") for f in (d.terminate_function, d.function) if f]
    return [r for r in rules_matching(d, TERMINATING, hook) if _delivers(r, arns)]
