"""`fixed-ip doctor --group NAME`: check a deployment end to end, read-only.

Each check is a small function of a `Deployment` (AWS state read lazily and cached) that
returns one `Check`: pass / warn / fail / skip, a message, and for anything not passing
the fix. What the checks cover, in order:

    stack          the controller stack exists and is usable (its outputs name the rest)
    function       the launch (and terminate) functions exist and are active; timeouts
    document       the host-name SSM document exists
    group          the Auto Scaling group exists
    launch-hook    a launch hook with the opt-in name prefix, DefaultResult ABANDON,
                   heartbeat timeout above the function timeout, valid metadata
    terminate-hook a terminate hook with the prefix, routed to the terminate function
    rule           an enabled rule on the default bus matches this group's launch events
                   and targets the launch function
    permission     each function's resource policy lets its rule invoke it
    pool-coverage  every AZ of the group has ENIs of the pool
    pool-capacity  enough usable ENIs per AZ for the group's max size plus the headroom
                   replacements take (the sweeper's PoolShortfall uses the same figure)
    instances      instances of the group without a pool ENI (started before the hook)
"""

from __future__ import annotations

import fnmatch
import json
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any

from botocore.exceptions import ClientError

from fixed_ip.errors import InvalidEvent, InvalidHostName
from fixed_ip.hostname import validate_hostname
from fixed_ip.models import GROUPS_TAG, groups_admit
from fixed_ip.sweeper import az_share
from fixed_ip_cli import awsutil
from fixed_ip_cli.awsutil import aws_errors, error_code, paginate, tags_of
from fixed_ip_cli.errors import AwsError
from fixed_ip_cli.spec import DEFAULT_HOST_NAME_TAG, POOL_TAG

PASS, WARN, FAIL, SKIP = "pass", "warn", "fail", "skip"
LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING"
TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"
LAUNCH_DETAIL_TYPE = "EC2 Instance-launch Lifecycle Action"
TERMINATE_DETAIL_TYPE = "EC2 Instance-terminate Lifecycle Action"
DEFAULT_STACK = "fixed-ip"
DEFAULT_HOOK_PREFIX = "fixed-ip"
# template.yaml's MaxHealthyPercent default: how far above MaxSize replacements may go.
DEFAULT_MAX_HEALTHY_PERCENT = 110
TERMINATE_HOOK_HEARTBEAT = 300  # template.yaml's TerminateHook
# Stack statuses in which the stack's resources are in place.
_USABLE_STACK = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"}
_ROLLED_BACK_UPDATE = {"UPDATE_ROLLBACK_COMPLETE", "IMPORT_ROLLBACK_COMPLETE"}
_BUSY_SUFFIX = "_IN_PROGRESS"
_WAITING_STATES = {"Pending", "Pending:Wait", "Pending:Proceed"}
_LEAVING_STATES = {"Terminating", "Terminating:Wait", "Terminating:Proceed", "Terminated"}


@dataclass
class Check:
    id: str
    status: str
    message: str
    fix: str | None = None
    details: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Options:
    group: str
    stack: str | None = DEFAULT_STACK
    function: str | None = None
    terminate_function: str | None = None
    document: str | None = None
    hook_prefix: str | None = None
    pool: str | None = None
    # None: the group's InstanceMaintenancePolicy, else the stack's MaxHealthyPercent.
    max_healthy_percent: int | None = None


class UnsupportedPattern(ValueError):
    """An event pattern uses a matcher this module does not evaluate."""


# ------------------------------------------------------------------ the deployment's state


class Deployment:
    """What the checks read, fetched once each. Properties return None for resources
    that do not exist; other AWS errors propagate as AwsError."""

    def __init__(self, session: Any, options: Options) -> None:
        self.options = options
        self.session = session
        self.region = session.region_name
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = awsutil.client(self.session, service)
        return self._clients[service]

    # -- controller stack, function, document

    @cached_property
    def stack(self) -> dict[str, Any] | None:
        name = self.options.stack
        if not name:
            return None
        cfn = self.client("cloudformation")
        with aws_errors(f"describing stack {name}"):
            try:
                stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
            except ClientError as exc:
                # DescribeStacks answers ValidationError for a stack that does not exist.
                if error_code(exc) == "ValidationError":
                    return None
                raise
        return {
            "name": stack["StackName"],
            "status": stack["StackStatus"],
            "outputs": {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
            "parameters": {
                p["ParameterKey"]: p.get("ResolvedValue", p.get("ParameterValue"))
                for p in stack.get("Parameters", [])
            },
        }

    def _output(self, key: str) -> str | None:
        return (self.stack or {}).get("outputs", {}).get(key)

    @cached_property
    def function_name(self) -> str | None:
        return self.options.function or self._output("LaunchFunctionName")

    @cached_property
    def function(self) -> dict[str, Any] | None:
        if not self.function_name:
            return None
        lam = self.client("lambda")
        with aws_errors(f"reading function {self.function_name}"):
            try:
                return dict(lam.get_function_configuration(FunctionName=self.function_name))
            except lam.exceptions.ResourceNotFoundException:
                return None

    @cached_property
    def terminate_function_name(self) -> str | None:
        return self.options.terminate_function or self._output("TerminateFunctionName")

    @cached_property
    def terminate_function(self) -> dict[str, Any] | None:
        if not self.terminate_function_name:
            return None
        lam = self.client("lambda")
        with aws_errors(f"reading function {self.terminate_function_name}"):
            try:
                return dict(
                    lam.get_function_configuration(FunctionName=self.terminate_function_name)
                )
            except lam.exceptions.ResourceNotFoundException:
                return None

    @property
    def function_env(self) -> dict[str, str]:
        return dict((self.function or {}).get("Environment", {}).get("Variables", {}))

    @property
    def function_timeout(self) -> int | None:
        return (self.function or {}).get("Timeout")

    @property
    def hook_prefix(self) -> str:
        return (
            self.options.hook_prefix
            or self.function_env.get("FIXED_IP_HOOK_PREFIX")
            or (self.stack or {}).get("parameters", {}).get("HookNamePrefix")
            or DEFAULT_HOOK_PREFIX
        )

    @property
    def host_name_tag(self) -> str:
        return self.function_env.get("FIXED_IP_HOSTNAME_TAG_KEY") or DEFAULT_HOST_NAME_TAG

    @cached_property
    def document_name(self) -> str | None:
        return (
            self.options.document
            or self.function_env.get("FIXED_IP_HOSTNAME_DOCUMENT")
            or self._output("HostnameDocumentName")
        )

    @property
    def max_healthy_percent(self) -> int:
        """As the sweeper computes capacity: the group's own InstanceMaintenancePolicy,
        else the stack's MaxHealthyPercent, else the template's default."""
        if self.options.max_healthy_percent is not None:
            return self.options.max_healthy_percent
        policy = (self.group or {}).get("InstanceMaintenancePolicy", {})
        own = policy.get("MaxHealthyPercentage")
        if own is not None and int(own) >= 100:
            return int(own)
        stack = (self.stack or {}).get("parameters", {}).get("MaxHealthyPercent")
        return int(stack) if stack else DEFAULT_MAX_HEALTHY_PERCENT

    # -- the group

    @cached_property
    def group(self) -> dict[str, Any] | None:
        autoscaling = self.client("autoscaling")
        with aws_errors(f"describing Auto Scaling group {self.options.group}"):
            found = autoscaling.describe_auto_scaling_groups(
                AutoScalingGroupNames=[self.options.group]
            )["AutoScalingGroups"]
        return found[0] if found else None

    @cached_property
    def hooks(self) -> list[dict[str, Any]]:
        if self.group is None:
            return []
        autoscaling = self.client("autoscaling")
        with aws_errors(f"listing the lifecycle hooks of {self.options.group}"):
            return list(
                autoscaling.describe_lifecycle_hooks(AutoScalingGroupName=self.options.group)[
                    "LifecycleHooks"
                ]
            )

    def prefixed_hooks(self, transition: str) -> list[dict[str, Any]]:
        return [
            h
            for h in self.hooks
            if h["LifecycleTransition"] == transition
            and h["LifecycleHookName"].startswith(self.hook_prefix)
        ]

    @cached_property
    def pool(self) -> str:
        """The pool the controller uses for this group: --pool, else the launch hook's
        metadata, else the group's name (the controller's own rule)."""
        if self.options.pool:
            return self.options.pool
        for hook in self.prefixed_hooks(LAUNCHING):
            metadata = _hook_metadata(hook)
            if metadata is not None and metadata.pool:
                return metadata.pool
        return self.options.group

    @cached_property
    def subnets(self) -> list[dict[str, Any]]:
        ids = [s for s in (self.group or {}).get("VPCZoneIdentifier", "").split(",") if s]
        if not ids:
            return []
        with aws_errors(f"describing the subnets of {self.options.group}"):
            return paginate(
                self.client("ec2"),
                "describe_subnets",
                "Subnets",
                Filters=[{"Name": "subnet-id", "Values": ids}],
            )

    @cached_property
    def pool_enis(self) -> list[dict[str, Any]]:
        with aws_errors(f"listing the ENIs of pool {self.pool}"):
            return paginate(
                self.client("ec2"),
                "describe_network_interfaces",
                "NetworkInterfaces",
                Filters=[{"Name": f"tag:{POOL_TAG}", "Values": [self.pool]}],
            )

    @cached_property
    def other_pools(self) -> list[str]:
        """Names of the pools that exist in the region (a hint when ours has no ENI)."""
        with aws_errors("listing pool ENIs"):
            enis = paginate(
                self.client("ec2"),
                "describe_network_interfaces",
                "NetworkInterfaces",
                Filters=[{"Name": "tag-key", "Values": [POOL_TAG]}],
            )
        return sorted({tags_of(e).get(POOL_TAG, "") for e in enis} - {self.pool})

    # -- EventBridge

    @cached_property
    def rules(self) -> list[dict[str, Any]]:
        """Rules that may deliver this group's lifecycle events to the controller: those
        the stack names in its outputs and those targeting its functions."""
        events = self.client("events")
        outputs = (self.stack or {}).get("outputs", {})
        names = {v for k, v in outputs.items() if k.endswith("RuleName")}
        arns = [f["FunctionArn"] for f in (self.function, self.terminate_function) if f]
        with aws_errors("listing the EventBridge rules of the controller"):
            for arn in arns:
                names |= set(
                    paginate(events, "list_rule_names_by_target", "RuleNames", TargetArn=arn)
                )
            rules = []
            for name in sorted(names):
                try:
                    rule = events.describe_rule(Name=name)
                except events.exceptions.ResourceNotFoundException:
                    continue  # named by a stack output, deleted since
                rule.pop("ResponseMetadata", None)
                targets = paginate(events, "list_targets_by_rule", "Targets", Rule=name)
                rules.append({**rule, "Targets": targets})
        return rules

    def sample_event(self, transition: str, hook: str) -> dict[str, Any]:
        launching = transition == LAUNCHING
        return {
            "version": "0",
            "id": "00000000-0000-0000-0000-000000000000",
            "detail-type": LAUNCH_DETAIL_TYPE if launching else TERMINATE_DETAIL_TYPE,
            "source": "aws.autoscaling",
            "region": self.region,
            "resources": [(self.group or {}).get("AutoScalingGroupARN", "")],
            "detail": {
                "LifecycleActionToken": "00000000-0000-0000-0000-000000000000",
                "AutoScalingGroupName": self.options.group,
                "LifecycleHookName": hook,
                "EC2InstanceId": "i-0123456789abcdef0",
                "LifecycleTransition": transition,
                "Origin": "EC2" if launching else "AutoScalingGroup",
                "Destination": "AutoScalingGroup" if launching else "EC2",
            },
        }


def _hook_metadata(hook: dict[str, Any]) -> Any:
    """The hook's metadata as the controller parses it; None if the controller refuses it."""
    from fixed_ip.models import HookMetadata

    try:
        return HookMetadata.from_notification(hook.get("NotificationMetadata"))
    except InvalidEvent:
        return None


def _metadata_problem(hook: dict[str, Any]) -> str | None:
    from fixed_ip.models import HookMetadata

    try:
        HookMetadata.from_notification(hook.get("NotificationMetadata"))
    except InvalidEvent as exc:
        return str(exc)
    return None


def _valid_host_name(value: str | None) -> bool:
    try:
        validate_hostname(value)
    except InvalidHostName:
        return False
    return True


def _holder(eni: dict[str, Any]) -> str | None:
    return eni.get("Attachment", {}).get("InstanceId")


# ------------------------------------------------------------------ EventBridge patterns


def pattern_matches(pattern: Any, event: Any) -> bool:
    """EventBridge content filtering for the matchers rules commonly use: literal values,
    prefix, suffix, equals-ignore-case, anything-but, exists, wildcard, and `$or`. Raises
    UnsupportedPattern for others (numeric, cidr)."""
    if not isinstance(pattern, dict):
        raise UnsupportedPattern(f"a pattern is a JSON object, got {pattern!r}")
    for key, sub in pattern.items():
        if key == "$or":
            if not any(pattern_matches(p, event) for p in sub):
                return False
            continue
        value = event.get(key, _MISSING) if isinstance(event, dict) else _MISSING
        if isinstance(sub, dict):
            if not pattern_matches(sub, value if isinstance(value, dict) else {}):
                return False
        elif isinstance(sub, list):
            if not _field_matches(sub, value):
                return False
        else:
            raise UnsupportedPattern(f"field {key}: expected a list or an object, got {sub!r}")
    return True


_MISSING = object()


def _field_matches(matchers: list[Any], value: Any) -> bool:
    values = value if isinstance(value, list) else [value]
    for matcher in matchers:
        if isinstance(matcher, dict):
            if any(_operator_matches(matcher, v) for v in values):
                return True
        elif value is not _MISSING and matcher in values:
            return True
    return False


def _operator_matches(matcher: dict[str, Any], value: Any) -> bool:
    ((op, arg),) = matcher.items()
    if op == "exists":
        return (value is not _MISSING) == bool(arg)
    if value is _MISSING:
        return False
    if op == "prefix":
        if isinstance(arg, dict) and "equals-ignore-case" in arg:
            return isinstance(value, str) and value.lower().startswith(
                arg["equals-ignore-case"].lower()
            )
        return isinstance(value, str) and value.startswith(arg)
    if op == "suffix":
        return isinstance(value, str) and isinstance(arg, str) and value.endswith(arg)
    if op == "equals-ignore-case":
        return isinstance(value, str) and value.lower() == str(arg).lower()
    if op == "wildcard":
        return isinstance(value, str) and fnmatch.fnmatchcase(value, arg)
    if op == "anything-but":
        if isinstance(arg, dict):
            return not _operator_matches(arg, value)
        excluded = arg if isinstance(arg, list) else [arg]
        return value not in excluded
    raise UnsupportedPattern(f"matcher {op!r} is not evaluated by fixed-ip doctor")


# ------------------------------------------------------------------------------ checks


def check_stack(d: Deployment) -> Check:
    name = d.options.stack
    if not name:
        return Check("stack", SKIP, "no --stack given; using --function / --document")
    stack = d.stack
    if stack is None:
        if d.options.function:
            return Check("stack", SKIP, f"stack {name} not found; using --function")
        return Check(
            "stack",
            FAIL,
            f"controller stack {name} not found in {d.region}",
            fix="deploy the controller (sam build && sam deploy --guided), or name it: "
            "--stack NAME, or --function NAME --document NAME",
        )
    status = stack["status"]
    outputs = stack["outputs"]
    named = ", ".join(
        f"{label} {outputs[key]}"
        for key, label in (
            ("LaunchFunctionName", "function"),
            ("HostnameDocumentName", "document"),
            ("LaunchRuleName", "rule"),
        )
        if key in outputs
    )
    message = f"stack {name} is {status}" + (f": {named}" if named else "")
    events = f"aws cloudformation describe-stack-events --stack-name {name}"
    if status in _USABLE_STACK:
        return Check("stack", PASS, message)
    if status in _ROLLED_BACK_UPDATE or status.endswith(_BUSY_SUFFIX):
        return Check(
            "stack",
            WARN,
            message + " (the last update did not complete, or one is running)",
            fix=f"see `{events}`, then run sam deploy again",
        )
    return Check(
        "stack", FAIL, message, fix=f"see `{events}`; delete the stack and deploy it again"
    )


def _function_state(role: str, name: str, config: dict[str, Any]) -> Check | None:
    """A failed or not-yet-active function; None when it is fine."""
    state = config.get("State", "Active")
    update = config.get("LastUpdateStatus", "Successful")
    if state == "Failed" or update == "Failed":
        reason = config.get("StateReason") or config.get("LastUpdateStatusReason") or ""
        return Check(
            "function",
            FAIL,
            f"{role} function {name} is {state} (last update {update}): {reason}".rstrip(": "),
            fix="redeploy the controller (sam build && sam deploy)",
        )
    if state != "Active":
        return Check(
            "function",
            WARN,
            f"{role} function {name} is {state}",
            fix="wait until it is Active (a function idle for weeks becomes Inactive and is "
            "reactivated by its next invocation)",
        )
    return None


def check_function(d: Deployment) -> Check:
    name = d.function_name
    if not name:
        return Check(
            "function",
            FAIL,
            "controller function unknown (no stack output LaunchFunctionName)",
            fix="give --stack NAME (the controller's stack) or --function NAME",
        )
    config = d.function
    if config is None:
        return Check(
            "function",
            FAIL,
            f"controller function {name} not found in {d.region}",
            fix="deploy the controller (sam deploy), or give the right --function / --region",
        )
    message = (
        f"{name}: timeout {config.get('Timeout')} s, runtime {config.get('Runtime')}, "
        f"hook prefix {d.hook_prefix!r}"
    )
    terminate = d.terminate_function_name
    if terminate:
        if d.terminate_function is None:
            return Check(
                "function",
                FAIL,
                f"terminate function {terminate} not found in {d.region}: pool ENIs are given "
                "back only when EC2 has terminated their instance",
                fix="redeploy the controller (sam deploy), or give the right --terminate-function",
            )
        message += f"; {terminate}: timeout {d.terminate_function.get('Timeout')} s"
    for role, fname, fconfig in (
        ("launch", name, config),
        ("terminate", terminate, d.terminate_function),
    ):
        if fname and fconfig and (problem := _function_state(role, fname, fconfig)):
            return problem
    if "FIXED_IP_HOSTNAME_DOCUMENT" not in d.function_env:
        return Check(
            "function",
            WARN,
            message + "; its environment has no FIXED_IP_HOSTNAME_DOCUMENT: is it the "
            "fixed-ip controller?",
            fix="give --function the LaunchFunctionName output of the controller stack",
        )
    return Check("function", PASS, message)


def check_document(d: Deployment) -> Check:
    name = d.document_name
    if not name:
        return Check(
            "document",
            FAIL,
            "host-name SSM document unknown (no stack output, no function environment)",
            fix="give --stack NAME or --document NAME",
        )
    ssm = d.client("ssm")
    with aws_errors(f"describing SSM document {name}"):
        try:
            doc = ssm.describe_document(Name=name)["Document"]
        except ssm.exceptions.InvalidDocument:
            doc = None
    if doc is None:
        return Check(
            "document",
            FAIL,
            f"SSM document {name} not found in {d.region}: host names cannot be set",
            fix="redeploy the controller stack (it owns the document), or give --document NAME",
        )
    status, kind = doc.get("Status", "Active"), doc.get("DocumentType")
    if kind != "Command" or status != "Active":
        return Check(
            "document",
            FAIL,
            f"SSM document {name} is a {kind} document in status {status}; expected an Active "
            "Command document",
            fix="give --document the HostnameDocumentName output of the controller stack",
        )
    return Check("document", PASS, f"SSM document {name}: Command, Active")


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


def _no_group(check_id: str, d: Deployment) -> Check:
    return Check(check_id, SKIP, f"group {d.options.group} not found")


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
        return _no_group("launch-hook", d)
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
        reason = _metadata_problem(hook)
        if reason:
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


def _rules_matching(d: Deployment, transition: str, hook: str) -> list[dict[str, Any]]:
    event = d.sample_event(transition, hook)
    out = []
    for rule in d.rules:
        try:
            if pattern_matches(json.loads(rule.get("EventPattern") or "{}"), event):
                out.append(rule)
        except (UnsupportedPattern, ValueError):
            continue
    return out


def _put_terminate_hook_command(d: Deployment, hook: str) -> str:
    return (
        f"aws autoscaling put-lifecycle-hook --auto-scaling-group-name {d.options.group} "
        f"--lifecycle-hook-name {hook} --lifecycle-transition {TERMINATING} "
        f"--default-result CONTINUE --heartbeat-timeout {TERMINATE_HOOK_HEARTBEAT}"
    )


def terminate_rules(d: Deployment, hook: str) -> list[dict[str, Any]]:
    """Enabled rules on the default bus that match this group's terminate events and
    target one of the controller's functions."""
    arns = [f.get("FunctionArn") for f in (d.terminate_function, d.function) if f]
    return [
        r
        for r in _rules_matching(d, TERMINATING, hook)
        if r.get("State") == "ENABLED"
        and r.get("EventBusName", "default") == "default"
        and any(_targets_function(r, arn) for arn in arns)
    ]


def check_terminate_hook(d: Deployment) -> Check:
    if d.group is None:
        return _no_group("terminate-hook", d)
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
        timeout = (d.terminate_function or {}).get("Timeout")
        if timeout is not None and heartbeat <= timeout:
            details.append(
                f"{name}: HeartbeatTimeout {heartbeat} s is not above the terminate function's "
                f"timeout {timeout} s: the hook may end before the ENI is given back"
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


def _launch_hook_name(d: Deployment) -> str:
    hooks = d.prefixed_hooks(LAUNCHING)
    return hooks[0]["LifecycleHookName"] if hooks else f"{d.hook_prefix}-launch"


def _targets_function(rule: dict[str, Any], function_arn: str | None) -> bool:
    if not function_arn:
        return False
    # A target may be the function or one of its versions/aliases (ARN:qualifier).
    return any(
        t["Arn"] == function_arn or t["Arn"].startswith(function_arn + ":") for t in rule["Targets"]
    )


def launch_rules(d: Deployment) -> list[dict[str, Any]]:
    """Enabled rules on the default bus that match this group's launch events and target
    the controller function."""
    arn = (d.function or {}).get("FunctionArn")
    return [
        r
        for r in _rules_matching(d, LAUNCHING, _launch_hook_name(d))
        if r.get("State") == "ENABLED"
        and r.get("EventBusName", "default") == "default"
        and _targets_function(r, arn)
    ]


def check_rule(d: Deployment) -> Check:
    if d.function is None and not d.rules:
        return Check("rule", SKIP, "controller function unknown: cannot find its rules")
    hook = _launch_hook_name(d)
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
    event = d.sample_event(LAUNCHING, hook)
    details, fixes = [], []
    worst = FAIL
    for rule in d.rules:
        name = rule["Name"]
        try:
            matches = pattern_matches(json.loads(rule.get("EventPattern") or "{}"), event)
        except (UnsupportedPattern, ValueError) as exc:
            worst = WARN
            details.append(f"{name}: cannot evaluate its pattern ({exc})")
            continue
        if not matches:
            details.append(f"{name}: its pattern does not match launch actions of hook {hook}")
            continue
        if rule.get("EventBusName", "default") != "default":
            details.append(
                f"{name}: on bus {rule['EventBusName']}; Auto Scaling sends to the default bus"
            )
            continue
        if not _targets_function(rule, arn):
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
                d.terminate_function
                and _targets_function(rule, d.terminate_function["FunctionArn"])
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


def _group_azs(d: Deployment) -> dict[str, list[dict[str, Any]]]:
    by_az: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for subnet in d.subnets:
        by_az[subnet["AvailabilityZone"]].append(subnet)
    return by_az


def _reserved_elsewhere(d: Deployment, eni: dict[str, Any]) -> bool:
    """The ENI's `fixed-ip:groups` tag keeps it for other groups (as the controller reads it)."""
    return not groups_admit(tags_of(eni).get(GROUPS_TAG), d.options.group)


def _usable_by_az(d: Deployment) -> dict[str, list[dict[str, Any]]]:
    """Pool ENIs the controller can hand to this group, by AZ: in the group's VPC and not
    reserved for other groups."""
    vpcs = {s["VpcId"] for s in d.subnets}
    by_az: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for eni in d.pool_enis:
        if eni.get("VpcId") in vpcs and not _reserved_elsewhere(d, eni):
            by_az[eni["AvailabilityZone"]].append(eni)
    return by_az


def check_pool_coverage(d: Deployment) -> Check:
    if d.group is None:
        return _no_group("pool-coverage", d)
    azs = _group_azs(d)
    enis = _usable_by_az(d)
    apply = "add addresses in that subnet to the pool spec and run `fixed-ip pool apply SPEC`"
    if not d.pool_enis:
        others = d.other_pools
        hint = f" (pools found in {d.region}: {', '.join(others)})" if others else ""
        return Check(
            "pool-coverage",
            FAIL,
            f"pool {d.pool} has no ENI{hint}: every launch is abandoned",
            fix="create the pool: fixed-ip pool apply SPEC.yaml (see examples/pool-seed.yaml), "
            'or name the right pool in the hook\'s NotificationMetadata {"pool": ...}',
        )
    missing = [az for az in sorted(azs) if not enis.get(az)]
    vpcs = {s["VpcId"] for s in d.subnets}
    details = [
        f"{e['NetworkInterfaceId']} ({e['PrivateIpAddress']}, {e['AvailabilityZone']}, "
        f"{e.get('VpcId')}) is outside the group's AZs/VPC: never used for it"
        for e in d.pool_enis
        if e["AvailabilityZone"] not in azs or e.get("VpcId") not in vpcs
    ]
    counts = ", ".join(f"{az}: {len(enis.get(az, []))}" for az in sorted(azs))
    if missing:
        subnets = "; ".join(f"{az}: {', '.join(s['SubnetId'] for s in azs[az])}" for az in missing)
        return Check(
            "pool-coverage",
            FAIL,
            f"pool {d.pool} has no ENI in {', '.join(missing)} ({counts}): instances launched "
            "there are abandoned",
            fix=f"{apply} ({subnets})",
            details=details,
        )
    if details:
        return Check(
            "pool-coverage",
            WARN,
            f"pool {d.pool} covers every AZ of the group ({counts}); some ENIs are elsewhere",
            fix="remove them from the spec and run `fixed-ip pool apply SPEC --prune`",
            details=details,
        )
    return Check(
        "pool-coverage", PASS, f"pool {d.pool} has ENIs in every AZ of the group ({counts})"
    )


def check_pool_capacity(d: Deployment) -> Check:
    if d.group is None:
        return _no_group("pool-capacity", d)
    azs = sorted(_group_azs(d))
    if not azs or not d.pool_enis:
        return Check("pool-capacity", SKIP, "no AZ or no pool ENI (see pool-coverage)")
    members = {i["InstanceId"] for i in d.group.get("Instances", [])}
    max_size = int(d.group["MaxSize"])
    percent = d.max_healthy_percent
    share = az_share(max_size, len(azs), 100)  # without replacements' headroom
    need = az_share(max_size, len(azs), percent)
    enis = _usable_by_az(d)
    worst = PASS
    per_az: list[str] = []
    details = [
        f"{e['NetworkInterfaceId']} ({e['PrivateIpAddress']}): reserved for "
        f"{tags_of(e)[GROUPS_TAG]!r} by its {GROUPS_TAG} tag: the controller never gives it "
        "to this group"
        for e in d.pool_enis
        if _reserved_elsewhere(d, e)
    ]
    short: dict[str, int] = {}
    for az in azs:
        usable = free = 0
        for eni in enis.get(az, []):
            host_name = tags_of(eni).get(d.host_name_tag)
            holder = _holder(eni)
            if not _valid_host_name(host_name):
                worst = worst if worst == FAIL else WARN
                details.append(
                    f"{eni['NetworkInterfaceId']} ({eni['PrivateIpAddress']}): {d.host_name_tag} "
                    f"{host_name!r} is not an RFC 1123 host name: the controller refuses it"
                )
            elif holder is None and eni.get("Status") == "available":
                usable += 1
                free += 1
            elif holder in members:
                usable += 1
            else:
                details.append(
                    f"{eni['NetworkInterfaceId']} ({eni['PrivateIpAddress']}): {eni.get('Status')}"
                    + (f", attached to {holder}, not an instance of the group" if holder else "")
                )
        per_az.append(f"{az}: {usable} usable ({free} free)")
        if usable < share:
            worst = FAIL
            short[az] = need - usable
            details.append(
                f"{az}: {usable} usable ENI(s), but the group can place {share} instances there "
                f"at max size {max_size}"
            )
        elif usable < need:
            worst = worst if worst == FAIL else WARN
            short[az] = need - usable
            details.append(
                f"{az}: {usable} usable ENI(s): enough for max size {max_size}, not for the "
                f"replacements an instance refresh launches first (MaxHealthyPercentage {percent})"
            )
    summary = (
        f"pool {d.pool}: need {need} per AZ (max {max_size} at {percent}% over {len(azs)} AZs); "
        + ", ".join(per_az)
    )
    if worst == PASS:
        return Check("pool-capacity", PASS, summary, details=details)
    add = ", ".join(f"{n} in {az}" for az, n in short.items())
    fix = f"add addresses ({add}) to the pool spec and run `fixed-ip pool apply SPEC`"
    if worst == WARN and short and percent > 100:
        fix += (
            ", or have replacements end the old instance first: the group's "
            "InstanceMaintenancePolicy MaxHealthyPercentage 100"
        )
    if not short:
        fix = "retag the refused ENIs with valid host names (fixed-ip pool apply SPEC)"
    return Check("pool-capacity", worst, summary, fix=fix, details=details)


def check_instances(d: Deployment) -> Check:
    if d.group is None:
        return _no_group("instances", d)
    instances = d.group.get("Instances", [])
    held = Counter(h for e in d.pool_enis if (h := _holder(e)))
    doubled = [i["InstanceId"] for i in instances if held[i["InstanceId"]] > 1]
    without = [
        i
        for i in instances
        if not held[i["InstanceId"]]
        and i["LifecycleState"] not in _WAITING_STATES | _LEAVING_STATES
    ]
    waiting = [i for i in instances if i["LifecycleState"] in _WAITING_STATES]
    if doubled:
        return Check(
            "instances",
            FAIL,
            f"{len(doubled)} instance(s) hold more than one ENI of pool {d.pool}: "
            + ", ".join(doubled),
            fix="detach the extra ENI: aws ec2 detach-network-interface --attachment-id ...",
        )
    if without:
        return Check(
            "instances",
            WARN,
            f"{len(without)} of {len(instances)} instance(s) have no pool ENI (started before "
            "the hook, or launched while it was missing)",
            fix=f"replace them: aws autoscaling start-instance-refresh --auto-scaling-group-name "
            f"{d.options.group} (or terminate-instance-in-auto-scaling-group --instance-id ID "
            "--no-should-decrement-desired-capacity, one at a time)",
            details=[
                f"{i['InstanceId']} ({i['LifecycleState']}, {i['AvailabilityZone']})"
                for i in without
            ],
        )
    note = f"; {len(waiting)} waiting in Pending" if waiting else ""
    return Check(
        "instances",
        PASS,
        f"{len(instances) - len(waiting)} instance(s) in service, each with its pool ENI{note}",
    )


CHECKS: list[Callable[[Deployment], Check]] = [
    check_stack,
    check_function,
    check_document,
    check_group,
    check_launch_hook,
    check_terminate_hook,
    check_rule,
    check_permission,
    check_pool_coverage,
    check_pool_capacity,
    check_instances,
]


def run_checks(session: Any, options: Options) -> list[Check]:
    """Every check in order. Credentials, region and connection problems abort (AwsError,
    exit 3) at the first call; an AWS error inside one check makes that check fail."""
    deployment = Deployment(session, options)
    _ = deployment.group  # preflight: fails fast without credentials or region
    results = []
    for check in CHECKS:
        check_id = check.__name__.removeprefix("check_").replace("_", "-")
        try:
            results.append(check(deployment))
        except AwsError as exc:
            results.append(Check(check_id, FAIL, f"could not check: {exc.message}"))
    return results
