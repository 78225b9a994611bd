"""Checks of the EventBridge rules that deliver lifecycle actions and of the functions'
permission to be invoked by them."""

from __future__ import annotations

import fnmatch
import json
from typing import Any

from botocore.exceptions import ClientError

from fixed_ip_cli.awsutil import aws_errors, error_code
from fixed_ip_cli.doctor.deployment import Deployment
from fixed_ip_cli.doctor.model import FAIL, LAUNCHING, PASS, SKIP, TERMINATING, WARN, Check
from fixed_ip_cli.doctor.patterns import (
    PatternUnknown,
    launch_hook_name,
    launch_rules,
    matches,
    targets_function,
    terminate_rules,
)


def check_rule(d: Deployment) -> Check:
    if d.function is None and not d.rules:
        return Check("rule", SKIP, "controller function unknown: cannot find its rules")
    hook = launch_hook_name(d)
    arn = (d.function or {}).get("FunctionArn")
    fname = d.function_name
    if not d.rules:
        return Check(
            "rule",
            FAIL,
            f"no EventBridge rule targets {fname}: launch actions never reach it",
            fix="redeploy the controller stack (sam deploy); the rule is part of it",
        )
    good = launch_rules(d)
    if good:
        names = ", ".join(r["Name"] for r in good)
        return Check(
            "rule",
            PASS,
            f"{names}: enabled, default bus, matches launch actions of {d.options.group} / "
            f"{hook}, targets {fname}",
        )
    details, fixes = [], []
    worst = FAIL
    for rule in d.rules:
        name = rule["Name"]
        try:
            matched = matches(d, rule, LAUNCHING, hook)
        except PatternUnknown as exc:
            worst = WARN
            details.append(f"{name}: EventBridge cannot evaluate its pattern ({exc})")
            continue
        if not matched:
            details.append(f"{name}: its pattern does not match launch actions of hook {hook}")
            continue
        if rule.get("EventBusName", "default") != "default":
            details.append(
                f"{name}: on bus {rule['EventBusName']}; Auto Scaling sends to the default bus"
            )
            continue
        if not targets_function(rule, arn):
            details.append(f"{name}: does not target {fname}")
            continue
        if rule.get("State") != "ENABLED":
            details.append(f"{name}: {rule.get('State')}")
            fixes.append(f"aws events enable-rule --name {name}")
    return Check(
        "rule",
        worst,
        f"no enabled rule delivers launch actions of {d.options.group} / {hook} to {fname}",
        fix="; ".join(fixes)
        or f"name the launch hook with the prefix {d.hook_prefix!r}, or redeploy the "
        "controller stack with the right HookNamePrefix",
        details=details,
    )


def check_permission(d: Deployment) -> Check:
    """Each working rule's target function lets that rule invoke it."""
    pairs: list[tuple[dict[str, Any], str]] = []  # (rule, function name)
    if d.function is not None:
        pairs += [(r, str(d.function_name)) for r in launch_rules(d)]
    for hook in d.prefixed_hooks(TERMINATING) if d.group is not None else []:
        for rule in terminate_rules(d, hook["LifecycleHookName"]):
            target = d.terminate_function_name
            if not (
                d.terminate_function and targets_function(rule, d.terminate_function["FunctionArn"])
            ):
                target = d.function_name
            if target and (rule, target) not in pairs:
                pairs.append((rule, target))
    if not pairs:
        return Check("permission", SKIP, "no working rule to check the permission of")
    lam = d.client("lambda")
    policies: dict[str, dict[str, Any]] = {}
    for _, name in pairs:
        if name in policies:
            continue
        with aws_errors(f"reading the resource policy of {name}"):
            try:
                policies[name] = json.loads(lam.get_policy(FunctionName=name)["Policy"])
            except lam.exceptions.ResourceNotFoundException:
                policies[name] = {"Statement": []}
            except ClientError as exc:
                if error_code(exc) in {"AccessDeniedException", "AccessDenied"}:
                    return Check(
                        "permission",
                        WARN,
                        f"cannot read the resource policy of {name} (lambda:GetPolicy denied)",
                        fix="run doctor with credentials that allow lambda:GetPolicy",
                    )
                raise
    missing = [(r, n) for r, n in pairs if not _allows_rule(policies[n], r["Arn"])]
    if not missing:
        return Check(
            "permission",
            PASS,
            "; ".join(
                f"{n} may be invoked by events.amazonaws.com from {r['Name']}" for r, n in pairs
            ),
        )
    rule, name = missing[0]
    return Check(
        "permission",
        FAIL,
        f"{name} does not allow EventBridge rule {rule['Name']} to invoke it: every delivery fails",
        fix=f"aws lambda add-permission --function-name {name} --statement-id "
        f"{rule['Name'][:64]} --action lambda:InvokeFunction --principal events.amazonaws.com "
        f"--source-arn {rule['Arn']} (or redeploy the controller stack)",
    )


def _allows_rule(policy: dict[str, Any], rule_arn: str) -> bool:
    for statement in policy.get("Statement", []):
        if statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal", {})
        service = principal.get("Service") if isinstance(principal, dict) else principal
        services = service if isinstance(service, list) else [service]
        actions = statement.get("Action", [])
        actions = actions if isinstance(actions, list) else [actions]
        if "events.amazonaws.com" not in services and "*" not in services:
            continue
        if not {"lambda:InvokeFunction", "lambda:*", "*"} & set(actions):
            continue
        condition = statement.get("Condition", {})
        arns = [
            v
            for op in ("ArnLike", "ArnEquals", "StringEquals", "StringLike")
            for k, v in condition.get(op, {}).items()
            if k.lower() == "aws:sourcearn"
        ]
        if not arns or any(fnmatch.fnmatchcase(rule_arn, a) for a in arns):
            return True
    return False
