"""Run a function of template.yaml the way Lambda runs it, without Docker.

A stand-in for `sam local invoke`: it reads the function's CodeUri, Handler, Layers,
Timeout, MemorySize and Environment from template.yaml (parameters resolved from their
defaults or overrides), puts the code and layer directories where Lambda puts /var/task
and /opt/python (on sys.path), imports the handler module once per runner (one "container"),
and calls it with a Lambda context whose remaining time counts down from the Timeout.
AWS calls go wherever boto3 is pointed (AWS_ENDPOINT_URL, or real credentials).
"""

from __future__ import annotations

import copy
import functools
import importlib.util
import json
import logging
import os
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
_import_lock = threading.Lock()


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """template.yaml as a dict (a fresh copy; parsed once per content)."""
    return copy.deepcopy(_parse(path.read_text()))


@functools.lru_cache(maxsize=8)
def _parse(text: str) -> dict[str, Any]:
    # samtranslator's loader understands the short intrinsic tags (!Ref, !Sub, ...).
    from samtranslator.yaml_helper import yaml_parse

    return yaml_parse(text)


class TemplateError(Exception):
    """The template does not describe the function the way the runner needs."""


@dataclass
class LambdaContext:
    """The attributes of the Python runtime's context object that handlers use."""

    function_name: str
    memory_limit_in_mb: int
    timeout_seconds: float
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local"
    invoked_function_arn: str = ""
    _started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        left = self.timeout_seconds - (time.monotonic() - self._started)
        return max(0, int(left * 1000))


@dataclass
class TemplateFunction:
    logical_id: str
    code_dir: Path
    handler: str
    layer_dirs: list[Path]
    environment: dict[str, str]
    timeout: float
    memory: int
    runtime: str
    architectures: list[str]

    @classmethod
    def from_template(
        cls,
        logical_id: str,
        *,
        parameters: dict[str, str] | None = None,
        resource_names: dict[str, str] | None = None,
        template_path: Path = TEMPLATE,
    ) -> TemplateFunction:
        template = load_template(template_path)
        resources = template.get("Resources", {})
        res = resources.get(logical_id)
        if not res or res.get("Type") != "AWS::Serverless::Function":
            names = sorted(
                k for k, v in resources.items() if v.get("Type") == "AWS::Serverless::Function"
            )
            raise TemplateError(f"no function {logical_id!r} in {template_path.name}; has {names}")
        glob = template.get("Globals", {}).get("Function", {})
        props = {**glob, **res.get("Properties", {})}
        resolver = _Resolver(template, parameters or {}, resource_names or {})
        env = {**glob.get("Environment", {}).get("Variables", {})}
        env.update(res.get("Properties", {}).get("Environment", {}).get("Variables", {}))
        layer_dirs = []
        for layer in props.get("Layers", []):
            ref = layer.get("Ref") if isinstance(layer, dict) else None
            if ref and ref in resources:
                content = resources[ref]["Properties"]["ContentUri"]
                layer_dirs.append((template_path.parent / content).resolve())
        return cls(
            logical_id=logical_id,
            code_dir=(template_path.parent / props["CodeUri"]).resolve(),
            handler=props["Handler"],
            layer_dirs=layer_dirs,
            environment={
                k: str(value)
                for k, v in env.items()
                if (value := resolver.value(v)) is not _NO_VALUE
            },
            timeout=float(resolver.value(props.get("Timeout", 3))),
            memory=int(resolver.value(props.get("MemorySize", 128))),
            runtime=str(props.get("Runtime", "")),
            architectures=list(props.get("Architectures", ["x86_64"])),
        )


_NO_VALUE = object()  # AWS::NoValue: the key is left out


class _Resolver:
    """Enough of CloudFormation's intrinsics for environment values: Ref to parameters
    (default or override), resources (a local name) and AWS::NoValue, !Sub with pseudo
    parameters, !If on the template's Conditions (Equals, Not, And, Or)."""

    PSEUDO: ClassVar[dict[str, str]] = {
        "AWS::Region": "ap-northeast-1",
        "AWS::AccountId": "123456789012",
        "AWS::Partition": "aws",
        "AWS::StackName": "fixed-ip",
    }

    def __init__(self, template: dict, overrides: dict[str, str], names: dict[str, str]):
        self.params = {
            k: str(overrides.get(k, v.get("Default", "")))
            for k, v in template.get("Parameters", {}).items()
        }
        self.names = names
        self.conditions = template.get("Conditions", {})
        self.pseudo = {**self.PSEUDO, "AWS::Region": os.environ.get("AWS_REGION", "ap-northeast-1")}

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.params:
            return self.params[name]
        if name in self.pseudo:
            return self.pseudo[name]
        return self.names.get(name, name)

    def value(self, v: Any) -> Any:
        if isinstance(v, dict) and len(v) == 1:
            ((key, arg),) = v.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::Sub":
                text = arg if isinstance(arg, str) else arg[0]
                for name in {**self.params, **self.pseudo, **self.names}:
                    text = text.replace("${" + name + "}", self.ref(name))
                return text
            if key == "Fn::If":
                condition, when_true, when_false = arg
                return self.value(when_true if self.condition(condition) else when_false)
            if key.startswith("Fn::"):
                raise TemplateError(f"the local runner does not resolve {key} in {v!r}")
        return v

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            raise TemplateError(f"unknown condition {name!r}")
        return self._truth(self.conditions[name])

    def _truth(self, node: Any) -> bool:
        ((key, arg),) = node.items()
        if key == "Condition":
            return self.condition(arg)
        if key == "Fn::Equals":
            return str(self.value(arg[0])) == str(self.value(arg[1]))
        if key == "Fn::Not":
            return not self._truth(arg[0])
        if key == "Fn::And":
            return all(self._truth(a) for a in arg)
        if key == "Fn::Or":
            return any(self._truth(a) for a in arg)
        raise TemplateError(f"the local runner does not evaluate {key} in conditions")


class FunctionRunner:
    """One warm "container" of a template function."""

    def __init__(self, function: TemplateFunction, *, extra_env: dict[str, str] | None = None):
        self.function = function
        self.extra_env = extra_env or {}
        self._handler: Any = None
        self.module: Any = None

    def prepare(self) -> None:
        """Set the environment and import the handler (Lambda's init phase)."""
        os.environ.update(self.function.environment)
        os.environ.update(self.extra_env)
        # Lambda sets both region variables; boto3 reads AWS_DEFAULT_REGION.
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        if not region:
            raise TemplateError("set AWS_REGION (the function's region), as Lambda would")
        os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"] = region
        with _import_lock:
            if self._handler is not None:
                return
            for path in [self.function.code_dir, *self.function.layer_dirs]:
                if str(path) not in sys.path:
                    sys.path.append(str(path))
            module_name, _, func = self.function.handler.rpartition(".")
            file = self.function.code_dir / (module_name.replace(".", "/") + ".py")
            unique = f"_fixed_ip_fn_{self.function.logical_id}_{id(self)}"
            spec = importlib.util.spec_from_file_location(unique, file)
            if spec is None or spec.loader is None:
                raise TemplateError(f"cannot load handler module {file}")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            self.module = module
            self._handler = getattr(module, func)

    def invoke(self, event: Any, *, timeout: float | None = None) -> Any:
        self.prepare()
        context = LambdaContext(
            function_name=self.function.logical_id,
            memory_limit_in_mb=self.function.memory,
            timeout_seconds=timeout if timeout is not None else self.function.timeout,
            invoked_function_arn=(
                f"arn:aws:lambda:{os.environ.get('AWS_REGION', 'ap-northeast-1')}:"
                f"123456789012:function:{self.function.logical_id}"
            ),
        )
        return self._handler(event, context)


class LogCollector(logging.Handler):
    """Collects the function's structured log lines (the JSON CloudWatch would store),
    by attaching to its Powertools logger with the same formatter."""

    def __init__(self, formatter: logging.Formatter | None = None) -> None:
        super().__init__()
        self.records: list[dict[str, Any]] = []
        if formatter is not None:
            self.setFormatter(formatter)

    def emit(self, record: logging.LogRecord) -> None:
        line = self.format(record)
        try:
            self.records.append(json.loads(line))
        except ValueError:
            self.records.append({"message": line})

    def decisions(self, what: str | None = None) -> list[dict[str, Any]]:
        return [r for r in self.records if what is None or r.get("decision") == what]


def collect_logs(runner: FunctionRunner) -> LogCollector:
    """Attach a collector to the function's logger (import the function first)."""
    runner.prepare()
    powertools_logger = runner.module.logger
    collector = LogCollector(powertools_logger.registered_formatter)
    logging.getLogger(powertools_logger.name).addHandler(collector)
    return collector


def detach_logs(runner: FunctionRunner, collector: LogCollector) -> None:
    logging.getLogger(runner.module.logger.name).removeHandler(collector)
