"""Issue 11 (hardening) on template.yaml: the SSM document refuses what the validator
refuses (item 6), the managed-group pattern reaches the code (item 2), the alarms on
duplicate host names and instances without their ENI (item 7), and IAM conditioned on
the pools the stack serves (item 9)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from samtranslator.yaml_helper import yaml_parse

from fixed_ip.controller import SweeperController, run_invocation
from fixed_ip.launch import Deps, LaunchUseCase
from fixed_ip.observability import PowertoolsObserver
from fixed_ip.settings import Settings
from fixed_ip.sweeper import SweeperUseCase
from tests.fakes import FakeCloud
from tests.helpers import LogCapture
from tests.template.test_observability import _check_select
from tests.template.test_template import TEMPLATE
from tests.unit.test_hardening import ADDRESS_SHAPED, LOOPBACK_NAMES, VALID_NAMES


def _sam() -> dict[str, Any]:
    return yaml_parse(TEMPLATE.read_text(encoding="utf-8"))


def _host_name_patterns() -> dict[str, re.Pattern[str]]:
    """The HostName allowedPattern of every SSM document of the stack, whatever the
    document resource is called."""
    found = {}
    for logical_id, resource in _sam()["Resources"].items():
        if resource["Type"] != "AWS::SSM::Document":
            continue
        params = resource["Properties"]["Content"].get("parameters", {})
        if "HostName" in params:
            found[logical_id] = re.compile(params["HostName"]["allowedPattern"])
    assert found, "no AWS::SSM::Document with a HostName parameter"
    return found


@pytest.mark.parametrize("name", ADDRESS_SHAPED + LOOPBACK_NAMES)
def test_item6_document_refuses_address_shaped_host_names(name):
    """As far as a pattern can: the same examples the validator refuses."""
    for logical_id, pattern in _host_name_patterns().items():
        assert not pattern.fullmatch(name), f"{logical_id} accepts {name!r}"


@pytest.mark.parametrize("name", VALID_NAMES)
def test_item6_document_accepts_valid_host_names(name):
    for logical_id, pattern in _host_name_patterns().items():
        assert pattern.fullmatch(name), f"{logical_id} refuses {name!r}"


def _statement(policy: str, sid: str) -> dict[str, Any]:
    doc = _sam()["Resources"][policy]["Properties"]["PolicyDocument"]
    [found] = [s for s in doc["Statement"] if s.get("Sid") == sid]
    return found


# --- Item 2 ----------------------------------------------------------------------------------


def test_item2_functions_get_the_managed_group_pattern():
    env = _sam()["Globals"]["Function"]["Environment"]["Variables"]
    assert env["FIXED_IP_MANAGED_GROUP_PATTERN"] == {"Ref": "ManagedGroupPattern"}
    default = _sam()["Parameters"]["ManagedGroupPattern"]["Default"]
    settings = Settings.from_env({"FIXED_IP_DOCUMENT": "doc",
                                  "FIXED_IP_MANAGED_GROUP_PATTERN": default})  # fmt: skip
    assert settings.manages("any-group")


# --- Item 7 ----------------------------------------------------------------------------------


def _sweeper_emission() -> dict[str, frozenset[str]]:
    """{metric: dimension names} of a real sweeper pass that finds an instance without its
    ENI, two instances sharing a host name, and a failing step."""
    cloud = FakeCloud()
    cloud.add_group("web-asg", max_size=4, azs=("az-a",))
    cloud.add_eni("10.0.0.4", "server-a1", pool="web-asg")
    for n in (1, 2):
        cloud.add_instance(f"i-000000000000000{n}", lifecycle="InService",
                           tags={"HostName": "server-a1"})  # fmt: skip
    leaked = cloud.add_eni("10.0.0.5", "server-a2", pool="web-asg")
    leaked.instance_id, leaked.device_index = "i-00000000000000dd", 1

    def broken(attachment_id: str) -> bool:
        raise RuntimeError("detach failed")

    cloud.detach = broken  # type: ignore[method-assign]
    settings = Settings(document="doc")
    deps = Deps(compute=cloud, lifecycle=cloud, commands=cloud, clock=cloud.clock)
    sweeper = SweeperController(
        SweeperUseCase(deps, settings, LaunchUseCase(deps, settings)), settings, cloud.clock
    )
    blobs: list[str] = []
    observer = PowertoolsObserver(LogCapture().logger, sink=blobs.append)
    run_invocation({}, 300_000, observer, lambda: sweeper)
    dims: dict[str, frozenset[str]] = {}
    for raw in blobs:
        (directive,) = json.loads(raw)["_aws"]["CloudWatchMetrics"]
        for metric in directive["Metrics"]:
            dims[metric["Name"]] = frozenset(directive["Dimensions"][0])
    return dims


@pytest.mark.parametrize(
    ("alarm", "metric"),
    [
        ("DuplicateHostNamesAlarm", "DuplicateHostNames"),
        ("InstancesWithoutEniAlarm", "InstancesWithoutEni"),
        ("SweepErrorsAlarm", "SweepErrors"),
    ],
)
def test_item7_alarms_watch_what_the_sweeper_emits(alarm, metric):
    props = _sam()["Resources"][alarm]["Properties"]
    [query] = [m for m in props["Metrics"] if m.get("ReturnData")]
    assert _check_select(query["Expression"], _sweeper_emission()) == metric
    assert props["ComparisonOperator"] == "GreaterThanThreshold" and props["Threshold"] == 0
    assert props["TreatMissingData"] == "notBreaching"
    # at least three sweeps (every 5 minutes by default) per evaluated period
    assert query["Period"] >= 900


# --- Item 9 ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "sid"),
    [("LaunchPermissions", "AttachPoolEnisOnly"), ("ReleasePermissions", "DetachPoolEnisOnly")],
)
def test_item9_attach_and_detach_name_the_pools_the_stack_serves(policy, sid):
    statement = _statement(policy, sid)
    assert statement["Condition"] == {
        "StringLike": {"aws:ResourceTag/fixed-ip:pool": {"Ref": "PoolNames"}}
    }


def test_item9_pool_names_default_keeps_todays_behaviour():
    param = _sam()["Parameters"]["PoolNames"]
    # "*" under StringLike matches every pool tag value (and, as before, requires the tag:
    # a missing key matches no StringLike pattern).
    assert param["Type"] == "CommaDelimitedList" and param["Default"] == "*"
