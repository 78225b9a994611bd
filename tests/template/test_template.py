"""Contract tests for template.yaml, offline.

The SAM template is translated to plain CloudFormation with samtranslator (what
`sam deploy` asks CloudFormation to do), then:
- cfn-lint checks both the SAM template and the translation (cfn-lint >= 1.54 no longer
  looks inside SAM resources by itself);
- checkov checks the translation (it sees the generated IAM role, which it cannot see in
  the SAM template);
- the properties the controller code relies on (names, environment, event pattern, IAM
  scoping, SSM document, lifecycle hook) are asserted on the translation.
No network and no AWS account: the managed-policy loader is a stub and the region is fixed.
"""

from __future__ import annotations

import ast
import copy
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"

FUNCTION_ID = "LaunchFunction"
LAYER_ID = "FixedIpLayer"
DOCUMENT_ID = "ConfigureDocument"
QUEUE_ID = "FailedEventsQueue"
HOOK_ID = "LaunchHook"
LOG_GROUP_ID = "LaunchFunctionLogGroup"

# Environment contract with the controller code: variable -> parameter it comes from
# (None: a literal value, given here).
ENV_FROM_PARAMETER = {
    "FIXED_IP_POOL_TAG_KEY": "PoolTagKey",
    "FIXED_IP_HOSTNAME_TAG_KEY": "HostNameTagKey",
    "FIXED_IP_DEVICE_INDEX": "DeviceIndex",
    "FIXED_IP_ON_HOSTNAME_FAILURE": "OnHostnameFailure",
    "FIXED_IP_ON_POOL_EXHAUSTED": "OnPoolExhausted",
    "FIXED_IP_WAIT_FOR_ADDRESS_SECONDS": "WaitForAddressSeconds",
    "FIXED_IP_SSM_WAIT_SECONDS": "SsmWaitSeconds",
    "FIXED_IP_COMMAND_TIMEOUT_SECONDS": "CommandTimeoutSeconds",
    "FIXED_IP_HOOK_PREFIX": "HookNamePrefix",
    "FIXED_IP_OS_CONFIGURATION": "OsConfiguration",
    "FIXED_IP_MANAGED_GROUP_PATTERN": "ManagedGroupPattern",
}
ENV_LITERALS = {
    "POWERTOOLS_SERVICE_NAME": "fixed-ip",
    "POWERTOOLS_METRICS_NAMESPACE": "FixedIp",
    "POWERTOOLS_LOG_LEVEL": "INFO",
}
PARAMETER_DEFAULTS = {
    "PoolTagKey": "fixed-ip:pool",
    "HostNameTagKey": "HostName",
    "DeviceIndex": 1,
    "OnHostnameFailure": "ABANDON",
    "OnPoolExhausted": "WAIT",
    "WaitForAddressSeconds": 3600,
    "SsmWaitSeconds": 300,
    "CommandTimeoutSeconds": 60,
    "HookNamePrefix": "fixed-ip",
    "FunctionTimeoutSeconds": 420,
    "HookHeartbeatTimeout": 900,
    "LogRetentionInDays": 30,
    "AutoScalingGroupName": "",
    "HookNotificationMetadata": "",
    "ManagedGroupPattern": "*",
    "OsConfiguration": "configure",
}

# checkov IAM checks that must pass and may never be suppressed.
IAM_CHECKS = {
    "CKV_AWS_60",
    "CKV_AWS_61",
    "CKV_AWS_62",
    "CKV_AWS_63",
    "CKV_AWS_107",
    "CKV_AWS_108",
    "CKV_AWS_109",
    "CKV_AWS_110",
    "CKV_AWS_111",
}

READ_ONLY_PREFIXES = ("Describe", "Get", "List")


class _OfflinePolicyLoader:
    """Stands in for samtranslator's ManagedPolicyLoader, which would call IAM.

    The template names no managed policy by name (SAM adds the ones it needs by ARN),
    so an empty map is enough.
    """

    def load(self) -> dict[str, str]:
        return {}


# --------------------------------------------------------------------------- helpers


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _param_default(template: dict[str, Any], name: str) -> Any:
    return template["Parameters"][name]["Default"]


def _resources(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


def _iam_statements(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every statement of every identity policy in the template, with its resource id."""
    for logical_id, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        documents = []
        if resource["Type"] == "AWS::IAM::Role":
            documents = [p["PolicyDocument"] for p in props.get("Policies", [])]
        elif resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents = [props["PolicyDocument"]]
        for document in documents:
            for statement in _as_list(document["Statement"]):
                yield logical_id, statement


def _statements_for(template: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [
        s
        for _, s in _iam_statements(template)
        if s["Effect"] == "Allow" and action in _as_list(s["Action"])
    ]


def _resource_text(resource: Any) -> str:
    """The ARN pattern of a statement Resource, given literally or with Fn::Sub."""
    if isinstance(resource, dict) and "Fn::Sub" in resource:
        sub = resource["Fn::Sub"]
        return sub if isinstance(sub, str) else sub[0]
    return json.dumps(resource) if not isinstance(resource, str) else resource


def _launch_rule(translated: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    function_arn = {"Fn::GetAtt": [FUNCTION_ID, "Arn"]}
    rules = [
        (logical_id, rule)
        for logical_id, rule in _resources(translated, "AWS::Events::Rule").items()
        if any(t["Arn"] == function_arn for t in rule["Properties"]["Targets"])
    ]
    assert len(rules) == 1, f"expected one rule targeting {FUNCTION_ID}, found {rules}"
    return rules[0]


def _with_packaged_artifacts(template: dict[str, Any]) -> dict[str, Any]:
    """Replace local CodeUri/ContentUri by S3 locations, as `sam package` does.

    samtranslator only accepts S3 URIs; the local paths are checked separately.
    """
    packaged = copy.deepcopy(template)
    for logical_id, resource in packaged["Resources"].items():
        props = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(props.get(key), str) and not props[key].startswith("s3://"):
                props[key] = f"s3://fixed-ip-artifacts/{logical_id}.zip"
    return packaged


# -------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def sam_template() -> dict[str, Any]:
    return yaml_parse(TEMPLATE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def translated(sam_template: dict[str, Any]) -> dict[str, Any]:
    with pytest.MonkeyPatch.context() as mp:
        # samtranslator resolves AWS::Region/AWS::Partition from a boto3 session: give it a
        # region, and keep botocore away from the instance metadata service.
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
        # A profile that does not exist here would make boto3.Session() raise.
        mp.delenv("AWS_PROFILE", raising=False)
        return transform(
            _with_packaged_artifacts(sam_template),
            {},
            _OfflinePolicyLoader(),  # type: ignore[arg-type]
            # Keep resource Metadata (checkov suppressions) on the generated resources.
            passthrough_metadata=True,
        )


@pytest.fixture(scope="module")
def translated_path(translated: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "translated.json"
    path.write_text(json.dumps(translated, indent=1), encoding="utf-8")
    return path


def _clean_env() -> dict[str, str]:
    """The environment without AWS credentials or checkov/Bridgecrew settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BC_", "CKV_"))}


@pytest.fixture(scope="module")
def checkov_report(translated_path: Path) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "checkov.main",
        "--file",
        str(translated_path),
        "--framework",
        "cloudformation",
        "--output",
        "json",
        # No Prisma Cloud downloads (guidelines, policies): the test runs offline.
        "--skip-download",
    ]
    env = {
        **_clean_env(),
        # Do not fetch the check-id mappings from the Bridgecrew API.
        "BC_SKIP_MAPPING": "TRUE",
    }
    proc = subprocess.run(  # noqa: S603 - fixed argument list, no shell
        command,
        capture_output=True,
        text=True,
        env=env,
        cwd=translated_path.parent,
        timeout=300,
        check=False,
    )
    # 0: all passed, 1: some failed; anything else is a crash.
    assert proc.returncode in (0, 1), f"checkov crashed ({proc.returncode}):\n{proc.stderr}"
    report = json.loads(proc.stdout)
    reports = report if isinstance(report, list) else [report]
    (cfn,) = [r for r in reports if r.get("check_type") == "cloudformation"]
    return cfn


# ---------------------------------------------------------------------- translation


def test_translation_produces_the_expected_resources(translated: dict[str, Any]) -> None:
    types = {k: v["Type"] for k, v in translated["Resources"].items()}
    assert types[FUNCTION_ID] == "AWS::Lambda::Function"
    assert types[DOCUMENT_ID] == "AWS::SSM::Document"
    assert types[QUEUE_ID] == "AWS::SQS::Queue"
    assert types[HOOK_ID] == "AWS::AutoScaling::LifecycleHook"
    assert types[LOG_GROUP_ID] == "AWS::Logs::LogGroup"
    assert "AWS::Lambda::LayerVersion" in types.values()
    assert "AWS::Lambda::EventInvokeConfig" in types.values()
    assert "AWS::Events::Rule" in types.values()
    assert not [t for t in types.values() if t.startswith("AWS::Serverless::")]


def test_local_artifact_paths_exist(sam_template: dict[str, Any]) -> None:
    function = sam_template["Resources"][FUNCTION_ID]["Properties"]
    layer = sam_template["Resources"][LAYER_ID]["Properties"]
    code_dir = ROOT / function["CodeUri"]
    layer_dir = ROOT / layer["ContentUri"]
    assert code_dir.is_dir(), code_dir
    assert (layer_dir / "requirements.txt").is_file()
    assert (layer_dir / "fixed_ip").is_dir()

    module, handler = function["Handler"].split(".")
    source = code_dir / f"{module}.py"
    assert source.is_file(), f"handler module {source} is missing"
    # A module-level def, or a name bound by assignment (e.g. a decorated alias).
    body = ast.parse(source.read_text(encoding="utf-8")).body
    names = {n.name for n in body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
    names |= {
        target.id
        for node in body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    assert handler in names, f"{source} defines no {handler}"


# ------------------------------------------------------------------- function contract


def test_function_runtime_and_packaging(translated: dict[str, Any]) -> None:
    function = translated["Resources"][FUNCTION_ID]["Properties"]
    assert function["Runtime"] == "python3.13"
    assert function["Architectures"] == ["arm64"]
    assert function["Handler"] == "app.lambda_handler"
    assert function["TracingConfig"] == {"Mode": "Active"}
    assert function["MemorySize"] == 256
    assert function["Timeout"] == {"Ref": "FunctionTimeoutSeconds"}

    (layer_ref,) = function["Layers"]
    layer = translated["Resources"][layer_ref["Ref"]]
    assert layer["Type"] == "AWS::Lambda::LayerVersion"
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    assert layer["Metadata"]["BuildMethod"] == "python3.13"


def test_function_logs_to_its_own_log_group(translated: dict[str, Any]) -> None:
    function = translated["Resources"][FUNCTION_ID]["Properties"]
    assert function["LoggingConfig"]["LogGroup"] == {"Ref": LOG_GROUP_ID}
    log_group = translated["Resources"][LOG_GROUP_ID]["Properties"]
    assert log_group["RetentionInDays"] == {"Ref": "LogRetentionInDays"}
    assert _param_default(translated, "LogRetentionInDays") == 30


def test_parameter_defaults(translated: dict[str, Any]) -> None:
    defaults = {name: _param_default(translated, name) for name in PARAMETER_DEFAULTS}
    assert defaults == PARAMETER_DEFAULTS
    params = translated["Parameters"]
    assert params["DeviceIndex"]["MinValue"] == 1
    assert sorted(params["OnHostnameFailure"]["AllowedValues"]) == ["ABANDON", "CONTINUE"]
    # The document's Mode parameter accepts exactly these.
    assert params["OsConfiguration"]["AllowedValues"] == ["configure", "verify", "skip"]
    heartbeat = params["HookHeartbeatTimeout"]
    # AWS allows 30..7200; below 120 the controller's 60 s heartbeats would not keep up.
    assert (heartbeat["MinValue"], heartbeat["MaxValue"]) == (120, 7200)


def test_environment_matches_the_code_contract(translated: dict[str, Any]) -> None:
    env = translated["Resources"][FUNCTION_ID]["Properties"]["Environment"]["Variables"]
    expected: dict[str, Any] = {
        **ENV_LITERALS,
        **{name: {"Ref": param} for name, param in ENV_FROM_PARAMETER.items()},
        "FIXED_IP_DOCUMENT": {"Ref": DOCUMENT_ID},
        # Set only when LocalEndpointUrl is given (sam local invoke against local-aws).
        "AWS_ENDPOINT_URL": {
            "Fn::If": ["UseLocalEndpoint", {"Ref": "LocalEndpointUrl"}, {"Ref": "AWS::NoValue"}]
        },
    }
    assert env == expected
    assert translated["Parameters"]["LocalEndpointUrl"]["Default"] == ""


PARAMETER_SETTINGS = {
    "DeviceIndex": "device_index",
    "SsmWaitSeconds": "ssm_wait_seconds",
    "CommandTimeoutSeconds": "command_timeout_seconds",
    "LostLaunchGraceSeconds": "lost_launch_grace_seconds",
    "LeakGraceSeconds": "leak_grace_seconds",
    "MaxHealthyPercent": "max_healthy_percent",
}


@pytest.mark.parametrize(("parameter", "field"), sorted(PARAMETER_SETTINGS.items()))
def test_parameter_ranges_fit_what_the_code_accepts(
    translated: dict[str, Any], parameter: str, field: str
) -> None:
    """A value CloudFormation accepts must never be a ConfigurationError at run time."""
    from fixed_ip.settings import Settings

    param = translated["Parameters"][parameter]
    bounds = {
        type(m).__name__: getattr(m, type(m).__name__.lower())
        for m in Settings.model_fields[field].metadata
    }
    assert "MinValue" in param and "MaxValue" in param, parameter
    assert param["MinValue"] >= bounds.get("Ge", bounds.get("Gt", float("-inf")))
    assert param["MaxValue"] <= bounds["Le"]
    for value in (param["MinValue"], param["MaxValue"], param["Default"]):
        Settings.model_validate({"document": "doc", field: value})


def test_timeouts_nest(translated: dict[str, Any]) -> None:
    """SSM wait + command < function timeout < hook heartbeat timeout (defaults)."""
    ssm_budget = _param_default(translated, "SsmWaitSeconds") + _param_default(
        translated, "CommandTimeoutSeconds"
    )
    function_timeout = _param_default(translated, "FunctionTimeoutSeconds")
    heartbeat = _param_default(translated, "HookHeartbeatTimeout")
    assert ssm_budget < function_timeout < heartbeat


# ------------------------------------------------------------------ events and failures


def test_rule_matches_launch_lifecycle_actions_by_hook_prefix(translated: dict[str, Any]) -> None:
    _, rule = _launch_rule(translated)
    props = rule["Properties"]
    assert "EventBusName" not in props  # the default bus, where Auto Scaling sends events
    pattern = props["EventPattern"]
    assert pattern["source"] == ["aws.autoscaling"]
    assert pattern["detail-type"] == ["EC2 Instance-launch Lifecycle Action"]
    assert pattern["detail"]["LifecycleHookName"] == [{"prefix": {"Ref": "HookNamePrefix"}}]
    assert pattern["detail"]["LifecycleTransition"] == ["autoscaling:EC2_INSTANCE_LAUNCHING"]


def test_rule_target_retries_and_dead_letters(translated: dict[str, Any]) -> None:
    _, rule = _launch_rule(translated)
    (target,) = rule["Properties"]["Targets"]
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [QUEUE_ID, "Arn"]}}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1


@pytest.mark.parametrize("function", [FUNCTION_ID, "TerminateFunction"])
def test_failed_invocations_go_to_the_queue(translated: dict[str, Any], function: str) -> None:
    (config,) = [
        c
        for c in _resources(translated, "AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == {"Ref": function}
    ]
    props = config["Properties"]
    assert props["MaximumRetryAttempts"] == 2
    assert 60 <= props["MaximumEventAgeInSeconds"] <= 21600
    queue_arn = {"Fn::GetAtt": [QUEUE_ID, "Arn"]}
    assert props["DestinationConfig"]["OnFailure"]["Destination"] == queue_arn
    # SAM grants the function's role SendMessage on the destination queue.
    send = _statements_for(translated, "sqs:SendMessage")
    assert any(s.get("Resource") == queue_arn for s in send)


def test_failed_events_queue(translated: dict[str, Any]) -> None:
    queue = translated["Resources"][QUEUE_ID]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_only_the_rules_may_dead_letter_into_the_queue(translated: dict[str, Any]) -> None:
    rule_id, _ = _launch_rule(translated)
    (policy,) = _resources(translated, "AWS::SQS::QueuePolicy").values()
    assert policy["Properties"]["Queues"] == [{"Ref": QUEUE_ID}]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    (allow,) = [s for s in statements if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "events.amazonaws.com"}
    assert _as_list(allow["Action"]) == ["sqs:SendMessage"]
    assert allow["Condition"]["ArnEquals"]["aws:SourceArn"] == [
        {"Fn::GetAtt": [rule_id, "Arn"]},
        {"Fn::GetAtt": ["TerminateFunctionTerminateLifecycleAction", "Arn"]},
    ]


# -------------------------------------------------------------------------- SSM document

SCRIPT = ROOT / "instance" / "fixed-ip-configure.sh"


def _document(translated: dict[str, Any]) -> dict[str, Any]:
    props = translated["Resources"][DOCUMENT_ID]["Properties"]
    assert props["DocumentType"] == "Command"
    return props["Content"]


def _pattern(translated: dict[str, Any], name: str) -> re.Pattern[str]:
    return re.compile(_document(translated)["parameters"][name]["allowedPattern"])


def _script(translated: dict[str, Any]) -> str:
    (step,) = _document(translated)["mainSteps"]
    return "\n".join(step["inputs"]["runCommand"])


def test_document_carries_the_script_file(translated: dict[str, Any]) -> None:
    """template.yaml embeds instance/fixed-ip-configure.sh (CloudFormation wants the
    document inline): the copy deployed is the file linted and tested. `make document`
    rewrites the copy."""
    assert _script(translated) == SCRIPT.read_text(encoding="utf-8"), "run `make document`"


def _sync_module() -> Any:
    from importlib.util import module_from_spec, spec_from_file_location

    spec = spec_from_file_location("sync_document", ROOT / "instance" / "sync_document.py")
    assert spec and spec.loader
    module = module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_make_document_rewrites_only_the_script_block() -> None:
    """`make document` (instance/sync_document.py) puts a changed script into the template
    so that the parsed document carries exactly it, and changes nothing else."""
    template = TEMPLATE.read_text(encoding="utf-8")
    changed = SCRIPT.read_text(encoding="utf-8") + '\n\techo "a new last line"\n'
    updated = _sync_module().embed(template, changed)
    parsed, original = yaml_parse(updated), yaml_parse(template)
    steps = parsed["Resources"][DOCUMENT_ID]["Properties"]["Content"]["mainSteps"]
    assert steps[0]["inputs"]["runCommand"] == [changed]
    steps[0]["inputs"]["runCommand"] = original["Resources"][DOCUMENT_ID]["Properties"]["Content"][
        "mainSteps"
    ][0]["inputs"]["runCommand"]
    assert parsed == original
    # And back: the file's own text gives the template byte for byte.
    assert _sync_module().embed(updated, SCRIPT.read_text(encoding="utf-8")) == template


# The contract with the controller (which sends them) and the script (which reads them).
DOCUMENT_PARAMETERS = {
    "Address",
    "MacAddress",
    "SubnetCidr",
    "DeviceIndex",
    "HostName",
    "Mode",
    "ExecutionTimeout",
}


def test_document_parameters(translated: dict[str, Any]) -> None:
    content = _document(translated)
    assert content["schemaVersion"] == "2.2"
    params = content["parameters"]
    assert set(params) == DOCUMENT_PARAMETERS
    for name, spec in params.items():
        assert spec["type"] == "String"
        assert spec.get("allowedPattern"), f"{name} has no allowedPattern"
        if name != "ExecutionTimeout":
            # Passed as SSM_<Name>, never pasted into the script by current agents.
            assert spec.get("interpolationType") == "ENV_VAR", name
            assert f"SSM_{name}" in _script(translated)
    # Required (no default): what the controller always knows. Optional: these defaults.
    assert {n: p.get("default") for n, p in params.items() if "default" in p} == {
        "HostName": "",
        "Mode": "configure",
        "ExecutionTimeout": "60",
    }


def test_document_fits_the_ssm_size_limit(translated: dict[str, Any]) -> None:
    # SSM refuses Command document content over 64 KB; keep room to grow.
    assert len(json.dumps(_document(translated)).encode()) < 48 * 1024


@pytest.mark.parametrize(
    ("name", "accepted", "refused"),
    [
        (
            "Address",
            ["10.0.0.4", "172.31.255.254", "192.168.0.10", "100.64.0.1"],
            ["10.0.0.256", "010.0.0.4", "10.0.0", "10.0.0.4/32", "10.0.0.4 ", "a.b.c.d"],
        ),
        (
            "MacAddress",
            ["0a:1b:2c:3d:4e:5f", "02:00:00:00:00:01"],
            ["0A:1B:2C:3D:4E:5F", "0a-1b-2c-3d-4e-5f", "0a:1b:2c:3d:4e", "0a:1b:2c:3d:4e:5f:60"],
        ),
        (
            "SubnetCidr",
            ["10.0.0.0/24", "10.0.0.0/16", "10.0.0.16/28", "172.31.32.0/20"],
            ["10.0.0.0/15", "10.0.0.0/29", "10.0.0.0", "10.0.0.0/024", "10.0.0.0/24;x"],
        ),
        ("DeviceIndex", ["1", "9", "10", "31"], ["0", "32", "01", "-1", "1 "]),
        ("Mode", ["configure", "verify", "skip"], ["", "Configure", "apply", "skip;x"]),
    ],
)
def test_parameter_patterns(
    translated: dict[str, Any], name: str, accepted: list[str], refused: list[str]
) -> None:
    pattern = _pattern(translated, name)
    for value in accepted:
        assert pattern.fullmatch(value), f"{name} refuses {value!r}"
    for value in refused:
        # re.search mirrors the most permissive use of the pattern (a find, not a full match).
        assert pattern.search(value) is None, f"{name} accepts {value!r}"


@pytest.mark.parametrize(
    "name",
    [
        "",  # no host name
        "server-a1",
        "web-01.example.internal",
        "a",
        "A1",
        "x" * 63,
        "a" * 30 + "." + "b" * 33,
        "0x7f.example",  # hex-looking labels are fine when the name is not all numbers
        "10-0-0-1",
        "1a",
        "server.1a",
        "localhost2",
        "my.localhost",
    ],
)
def test_hostname_pattern_accepts(translated: dict[str, Any], name: str) -> None:
    assert _pattern(translated, "HostName").fullmatch(name)


@pytest.mark.parametrize(
    "name",
    [
        "a;reboot",
        "$(id)",
        "`id`",
        "a b",
        'a"b',
        "a'b",
        "a\nb",
        "a" * 300,
        "-bad",
        "bad-",
        "a..b",
        ".a",
        "a.",
        "x" * 64,  # a label of 64 characters
        "a" * 30 + "." + "b" * 34,  # 65 characters: over the Linux limit
        ".".join(["a" * 63] * 4),  # 255 characters
        "server_a1",
        # Addresses in disguise: resolvers and inet_aton take these as addresses.
        "10.0.0.1",
        "2130706433",
        "0",
        "127.1",
        "server.01",  # an all-numeric last label
        "0x7f000001",
        "0x7f.0x1",
        "0X7F.0.0.1",
        "localhost",
        "LocalHost",
    ],
)
def test_hostname_pattern_rejects(translated: dict[str, Any], name: str) -> None:
    assert _pattern(translated, "HostName").search(name) is None


def test_document_script(translated: dict[str, Any]) -> None:
    content = _document(translated)
    (step,) = content["mainSteps"]
    assert step["action"] == "aws:runShellScript"
    assert step["precondition"] == {"StringEquals": ["platformType", "Linux"]}
    assert step["inputs"]["timeoutSeconds"] == "{{ ExecutionTimeout }}"
    script = _script(translated)
    assert script.startswith("#!/bin/bash\n")
    assert "set -Eeuo pipefail" in script
    assert "FIXED_IP_RESULT " in script
    # Every document parameter pasted into the script (by agents older than ENV_VAR
    # interpolation) is declared with an allowedPattern and used inside double quotes.
    declared = content["parameters"]
    pasted = set()
    for match in re.finditer(r"(.)\{\{\s*(\w+)\s*\}\}(.)", script):
        before, name, after = match.groups()
        pasted.add(name)
        assert name in declared, f"undeclared parameter {name}"
        assert declared[name].get("allowedPattern"), f"{name} has no allowedPattern"
        assert (before, after) == ('"', '"'), f"{{{{ {name} }}}} is not double-quoted"
    assert pasted == DOCUMENT_PARAMETERS - {"ExecutionTimeout"}
    # No other double brace: the agent would take it for a parameter.
    assert script.count("{{") == len(pasted)


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash not installed")
def test_document_script_is_valid_bash(translated: dict[str, Any], tmp_path: Path) -> None:
    script = tmp_path / "_script.sh"
    script.write_text(_script(translated) + "\n", encoding="utf-8")
    proc = subprocess.run(  # noqa: S603 - fixed argument list, no shell
        [shutil.which("bash") or "bash", "-n", str(script)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


# ------------------------------------------------------------------------------- IAM


def test_no_mutating_action_on_any_resource(translated: dict[str, Any]) -> None:
    offenders = []
    for logical_id, statement in _iam_statements(translated):
        if statement["Effect"] != "Allow":
            continue
        actions = _as_list(statement["Action"])
        assert all("*" not in a for a in actions), f"{logical_id}: wildcard action {actions}"
        if "*" in _as_list(statement["Resource"]):
            mutating = [a for a in actions if not a.split(":", 1)[1].startswith(READ_ONLY_PREFIXES)]
            if mutating:
                offenders.append((logical_id, mutating))
    assert not offenders, f"mutating actions allowed on Resource '*': {offenders}"


@pytest.mark.parametrize(
    ("function", "own"),
    [
        (FUNCTION_ID, ["LaunchPermissions"]),
        # It hands a released address to a waiting instance through the launch path.
        ("TerminateFunction", ["ReleasePermissions", "LaunchPermissions"]),
        ("SweeperFunction", ["LaunchPermissions", "ReleasePermissions"]),
    ],
)
def test_function_roles_have_only_the_stacks_policies(
    translated: dict[str, Any], function: str, own: list[str]
) -> None:
    role = translated["Resources"][f"{function}Role"]["Properties"]
    arns = role.get("ManagedPolicyArns", [])
    names = {arn.rsplit("/", 1)[-1] for arn in arns if isinstance(arn, str)}
    # AWS managed: only what SAM adds, logs and X-Ray (Tracing: Active).
    assert names <= {"AWSLambdaBasicExecutionRole", "AWSXrayWriteOnlyAccess"}
    assert [a for a in arns if not isinstance(a, str)] == [{"Ref": p} for p in own]


def test_attach_is_limited_to_pool_enis_and_managed_instances(translated: dict[str, Any]) -> None:
    statements = _statements_for(translated, "ec2:AttachNetworkInterface")
    by_resource = {_resource_text(s["Resource"]).rsplit(":", 1)[-1]: s for s in statements}
    assert set(by_resource) == {"network-interface/*", "instance/*"}

    pool_key = _param_default(translated, "PoolTagKey")
    eni = by_resource["network-interface/*"]
    # Only ENIs of the pools the stack serves (PoolNames, default "*": any pool).
    assert eni["Condition"] == {"StringLike": {f"aws:ResourceTag/{pool_key}": {"Ref": "PoolNames"}}}
    # CloudFormation cannot put a parameter in a condition key, so the key is literal and
    # the parameter may only take that value.
    assert translated["Parameters"]["PoolTagKey"]["AllowedValues"] == [pool_key]

    instance = by_resource["instance/*"]
    assert instance["Condition"] == {
        "StringLike": {"aws:ResourceTag/aws:autoscaling:groupName": {"Ref": "ManagedGroupPattern"}}
    }


def test_create_tags_is_limited_to_host_name_tags_on_managed_instances(
    translated: dict[str, Any],
) -> None:
    (statement,) = _statements_for(translated, "ec2:CreateTags")
    assert _resource_text(statement["Resource"]).endswith(":instance/*")
    condition = statement["Condition"]
    assert condition["ForAllValues:StringEquals"]["aws:TagKeys"] == [
        {"Ref": "HostNameTagKey"},
        "Name",
    ]
    assert condition["Null"] == {"aws:TagKeys": "false"}
    assert condition["StringLike"] == {
        "aws:ResourceTag/aws:autoscaling:groupName": {"Ref": "ManagedGroupPattern"}
    }


@pytest.mark.parametrize(
    "action", ["autoscaling:CompleteLifecycleAction", "autoscaling:RecordLifecycleActionHeartbeat"]
)
def test_lifecycle_actions_are_limited_to_managed_groups(
    translated: dict[str, Any], action: str
) -> None:
    statements = _statements_for(translated, action)
    assert statements
    for statement in statements:
        assert _resource_text(statement["Resource"]).endswith(
            ":autoScalingGroup:*:autoScalingGroupName/${ManagedGroupPattern}"
        )


def test_send_command_is_limited_to_the_document_and_managed_instances(
    translated: dict[str, Any],
) -> None:
    statements = _statements_for(translated, "ssm:SendCommand")
    by_resource = {_resource_text(s["Resource"]).rsplit(":", 1)[-1]: s for s in statements}
    assert set(by_resource) == {f"document/${{{DOCUMENT_ID}}}", "instance/*"}
    assert "Condition" not in by_resource[f"document/${{{DOCUMENT_ID}}}"]
    assert by_resource["instance/*"]["Condition"] == {
        "StringLike": {"ssm:resourceTag/aws:autoscaling:groupName": {"Ref": "ManagedGroupPattern"}}
    }


# ---------------------------------------------------------------------- lifecycle hook


def test_launch_hook(translated: dict[str, Any]) -> None:
    hook = translated["Resources"][HOOK_ID]
    assert hook["Condition"] == "HasGroup"
    props = hook["Properties"]
    assert props["LifecycleTransition"] == "autoscaling:EC2_INSTANCE_LAUNCHING"
    assert props["DefaultResult"] == "ABANDON"
    assert props["LifecycleHookName"] == {"Fn::Sub": "${HookNamePrefix}-launch"}
    assert props["HeartbeatTimeout"] == {"Ref": "HookHeartbeatTimeout"}
    assert _param_default(translated, "HookHeartbeatTimeout") > _param_default(
        translated, "FunctionTimeoutSeconds"
    )
    assert props["NotificationMetadata"]["Fn::If"][2] == {"Ref": "AWS::NoValue"}
    # The hook starts gating launches only once the rule can deliver them.
    rule_id, _ = _launch_rule(translated)
    assert rule_id in _as_list(hook.get("DependsOn", []))


def test_outputs(translated: dict[str, Any]) -> None:
    assert {
        "LaunchFunctionName",
        "LaunchFunctionArn",
        "FixedIpLayerArn",
        "ConfigureDocumentName",
        "FailedEventsQueueUrl",
        "FailedEventsQueueArn",
        "LaunchRuleName",
        "LaunchRuleArn",
        "LaunchFunctionLogGroupName",
    } <= set(translated["Outputs"])


# ------------------------------------------------------------------- cfn-lint, checkov


def _cfn_lint(path: Path) -> list[Any]:
    from cfnlint.api import lint_file

    matches = lint_file(path, config={"regions": ["us-east-1"]})
    for match in matches:
        print(f"cfn-lint {path.name}: {match}")
    return [m for m in matches if m.rule.id.startswith("E")]


@pytest.mark.slow
def test_cfn_lint_translated_template(translated_path: Path) -> None:
    errors = _cfn_lint(translated_path)
    assert not errors, "\n".join(str(e) for e in errors)


@pytest.mark.slow
def test_cfn_lint_sam_template() -> None:
    errors = _cfn_lint(TEMPLATE)
    assert not errors, "\n".join(str(e) for e in errors)


def _suppressions(sam_template: dict[str, Any]) -> dict[tuple[str, str], str]:
    """(resource, check id) -> reason, from checkov skips in the SAM template."""
    found = {}
    for logical_id, resource in sam_template["Resources"].items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            found[(logical_id, skip["id"])] = skip.get("comment", "")
    return found


def test_checkov_suppressions_are_justified(sam_template: dict[str, Any]) -> None:
    suppressions = _suppressions(sam_template)
    assert not {check for _, check in suppressions} & IAM_CHECKS
    unexplained = [key for key, reason in suppressions.items() if len(reason.strip()) < 20]
    assert not unexplained, f"checkov skips without a reason: {unexplained}"


@pytest.mark.slow
def test_checkov(checkov_report: dict[str, Any]) -> None:
    results = checkov_report["results"]
    failed = [(c["check_id"], c["resource"], c["check_name"]) for c in results["failed_checks"]]
    for check in failed:
        print("checkov FAILED {} on {}: {}".format(*check))
    for c in results.get("skipped_checks", []):
        print(f"checkov skipped {c['check_id']} on {c['resource']}")
    assert not results.get("parsing_errors")
    assert not failed, "checkov failed checks:\n" + "\n".join(
        "{} on {}: {}".format(*check) for check in failed
    )

    skipped = {c["check_id"] for c in results.get("skipped_checks", [])}
    assert not skipped & IAM_CHECKS
    # The IAM checks actually ran on the controller's role (and passed).
    passed_on_role = {
        c["check_id"]
        for c in results["passed_checks"]
        if c["resource"] == f"AWS::IAM::Role.{FUNCTION_ID}Role"
    }
    assert passed_on_role >= IAM_CHECKS, f"not evaluated: {IAM_CHECKS - passed_on_role}"
