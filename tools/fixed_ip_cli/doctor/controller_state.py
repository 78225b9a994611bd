"""Discovery of the controller: its stack, functions, SSM document, hook prefix and
EventBridge rules. Read lazily, each once; None for what does not exist."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from botocore.exceptions import ClientError

from fixed_ip_cli.awsutil import aws_errors, error_code, paginate
from fixed_ip_cli.doctor.model import DOCUMENT_ENV, DOCUMENT_OUTPUT, Options
from fixed_ip_cli.enis import DEFAULT_HOOK_PREFIX, DEFAULT_HOST_NAME_TAG


class ControllerState:
    """Mixed into `Deployment`, which provides `options` and `client()`."""

    options: Options

    def client(self, service: str) -> Any:  # pragma: no cover - Deployment's
        raise NotImplementedError

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

    def output(self, key: str) -> str | None:
        return (self.stack or {}).get("outputs", {}).get(key)

    def stack_parameter(self, key: str) -> str | None:
        return (self.stack or {}).get("parameters", {}).get(key)

    def _function_config(self, name: str | None) -> dict[str, Any] | None:
        if not name:
            return None
        lam = self.client("lambda")
        with aws_errors(f"reading function {name}"):
            try:
                return dict(lam.get_function_configuration(FunctionName=name))
            except lam.exceptions.ResourceNotFoundException:
                return None

    @cached_property
    def function_name(self) -> str | None:
        return self.options.function or self.output("LaunchFunctionName")

    @cached_property
    def function(self) -> dict[str, Any] | None:
        return self._function_config(self.function_name)

    @cached_property
    def terminate_function_name(self) -> str | None:
        return self.options.terminate_function or self.output("TerminateFunctionName")

    @cached_property
    def terminate_function(self) -> dict[str, Any] | None:
        return self._function_config(self.terminate_function_name)

    @cached_property
    def sweeper_function_name(self) -> str | None:
        return self.options.sweeper_function or self.output("SweeperFunctionName")

    @cached_property
    def sweeper_function(self) -> dict[str, Any] | None:
        return self._function_config(self.sweeper_function_name)

    @cached_property
    def sweeper_schedules(self) -> list[dict[str, Any]]:
        """The schedule rules that run the sweeper (SAM's `Schedule` event is an
        EventBridge rule with a ScheduleExpression targeting the function)."""
        arn = (self.sweeper_function or {}).get("FunctionArn")
        if not arn:
            return []
        events = self.client("events")
        with aws_errors("listing the EventBridge rules of the sweeper"):
            names = paginate(events, "list_rule_names_by_target", "RuleNames", TargetArn=arn)
            rules = []
            for name in sorted(set(names)):
                try:
                    rule = events.describe_rule(Name=name)
                except events.exceptions.ResourceNotFoundException:
                    continue
                if rule.get("ScheduleExpression"):
                    rule.pop("ResponseMetadata", None)
                    rules.append(rule)
        return rules

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
            or self.stack_parameter("HookNamePrefix")
            or DEFAULT_HOOK_PREFIX
        )

    @property
    def host_name_tag(self) -> str:
        return self.function_env.get("FIXED_IP_HOSTNAME_TAG_KEY") or DEFAULT_HOST_NAME_TAG

    @cached_property
    def document_name(self) -> str | None:
        env = self.function_env
        return (
            self.options.document
            or next((env[k] for k in DOCUMENT_ENV if env.get(k)), None)
            or next((v for k in DOCUMENT_OUTPUT if (v := self.output(k))), None)
        )

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
