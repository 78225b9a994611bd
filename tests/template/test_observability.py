"""The alarms, dashboard and saved queries of template.yaml against what the code really
emits: metric names and dimension sets from real EMF output, log fields and decisions
from real log lines (controller and sweeper runs on in-memory fakes)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from fixed_ip.controller import LaunchController, SweeperController, run_invocation
from fixed_ip.launch import Deps, LaunchUseCase
from fixed_ip.observability import NAMESPACE, PowertoolsObserver
from fixed_ip.settings import Settings
from fixed_ip.sweeper import SweeperUseCase
from fixed_ip_local.lambda_runner import load_template
from tests.fakes import FakeCloud
from tests.helpers import LogCapture, launch_event

SELECT = re.compile(r"SELECT (?P<stat>\w+)\((?P<metric>\w+)\) FROM SCHEMA\((?P<schema>[^)]*)\)")


@pytest.fixture(scope="module")
def emitted() -> tuple[dict[str, frozenset[str]], list[dict[str, Any]]]:
    """{metric name: dimension names} and the log lines of real runs covering claims,
    exhaustion, SSM waits and a sweeper pass with capacity figures."""
    cloud = FakeCloud()
    cloud.add_group("web-asg", max_size=4)
    for n in range(3):
        cloud.add_eni(f"10.0.0.{n + 4}", f"server-a{n}", pool="web-asg")
    cloud.add_eni("10.0.0.9", "$(id)", pool="web-asg")  # refused, never used
    stolen: list[str] = []

    def outsider_wins_first_race(eni_id: str, instance_id: str) -> None:
        if not stolen:
            stolen.append(eni_id)
            cloud.enis[eni_id].instance_id = "i-00000000000000ff"

    cloud.add_instance("i-0000000000000001", group="web-asg")
    cloud.add_instance("i-0000000000000002", group="web-asg")
    cloud.add_instance("i-0000000000000003", group="web-asg")
    settings = Settings(document="doc")
    deps = Deps(compute=cloud, lifecycle=cloud, commands=cloud, clock=cloud.clock)
    logs, blobs = LogCapture(), []
    cloud.attach_hook = outsider_wins_first_race
    launch = LaunchController(LaunchUseCase(deps, settings), settings, cloud.clock)
    # a lost race, two claims, the pool exhausted, a duplicate, a malformed event
    for n in (1, 2, 3, 1):
        iid = f"i-000000000000000{n}"
        obs = PowertoolsObserver(logs.logger, sink=blobs.append)
        run_invocation(launch_event(iid, "web-asg", f"tok-{n}"), 300_000, obs, lambda: launch)
    obs = PowertoolsObserver(logs.logger, sink=blobs.append)
    run_invocation({"detail": {}}, 300_000, obs, lambda: launch)
    sweeper = SweeperController(
        SweeperUseCase(deps, settings, LaunchUseCase(deps, settings)), settings, cloud.clock
    )
    obs = PowertoolsObserver(logs.logger, sink=blobs.append)
    run_invocation({}, 300_000, obs, lambda: sweeper)
    dims: dict[str, frozenset[str]] = {}
    for raw in blobs:
        blob = json.loads(raw)
        (directive,) = blob["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == NAMESPACE
        (dimension_set,) = directive["Dimensions"]
        for metric in directive["Metrics"]:
            dims[metric["Name"]] = frozenset(dimension_set)
    return dims, logs.lines()


def _template() -> dict[str, Any]:
    return load_template()


def _alarms() -> dict[str, dict[str, Any]]:
    return {
        k: v["Properties"]
        for k, v in _template()["Resources"].items()
        if v["Type"] == "AWS::CloudWatch::Alarm"
    }


def _check_select(expression: str, emitted_dims: dict[str, frozenset[str]]) -> str:
    match = SELECT.search(expression)
    assert match, expression
    namespace, *dimensions = [x.strip() for x in match["schema"].split(",")]
    assert namespace == NAMESPACE
    metric = match["metric"]
    assert metric in emitted_dims, f"{metric} is never emitted by the code"
    assert frozenset(dimensions) == emitted_dims[metric], (metric, dimensions)
    return metric


def test_namespace_is_the_same_everywhere():
    env = _template()["Globals"]["Function"]["Environment"]["Variables"]
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == NAMESPACE


def test_the_expected_alarms_exist():
    assert set(_alarms()) == {
        "PoolExhaustedAlarm",
        "AbandonsAlarm",
        "ShortfallAlarm",
        "FunctionErrorsAlarm",
        "FailedEventsAlarm",
        "DuplicateHostNamesAlarm",
        "InstancesWithoutEniAlarm",
        "SweepErrorsAlarm",
        "WaitingForAddressAlarm",
    }


@pytest.mark.parametrize(
    ("alarm", "metric"),
    [
        ("PoolExhaustedAlarm", "PoolExhausted"),
        ("AbandonsAlarm", "Abandons"),
        ("ShortfallAlarm", "PoolShortfall"),
        ("WaitingForAddressAlarm", "WaitingForAddress"),
    ],
)
def test_pool_alarms_query_metrics_the_code_emits(emitted, alarm, metric):
    props = _alarms()[alarm]
    [query] = [m for m in props["Metrics"] if m.get("ReturnData")]
    assert _check_select(query["Expression"], emitted[0]) == metric
    assert props["ComparisonOperator"] == "GreaterThanThreshold" and props["Threshold"] == 0
    assert props["TreatMissingData"] == "notBreaching"


def test_error_alarm_covers_every_function():
    props = _alarms()["FunctionErrorsAlarm"]
    functions = {
        m["MetricStat"]["Metric"]["Dimensions"][0]["Value"]["Ref"]
        for m in props["Metrics"]
        if "MetricStat" in m
    }
    declared = {
        k for k, v in _template()["Resources"].items() if v["Type"] == "AWS::Serverless::Function"
    }
    assert functions == declared


def test_failed_events_alarm_watches_the_queue():
    props = _alarms()["FailedEventsAlarm"]
    assert props["Dimensions"][0]["Value"] == {"Fn::GetAtt": ["FailedEventsQueue", "QueueName"]}
    assert props["MetricName"] == "ApproximateNumberOfMessagesVisible"


def test_every_alarm_notifies_the_topic_when_one_is_configured():
    for name, props in _alarms().items():
        assert props["AlarmActions"]["Fn::If"][0] == "HasAlarmActions", name


def test_dashboard_widgets_query_metrics_the_code_emits(emitted):
    body = _template()["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    widgets = json.loads(body.replace("${AWS::Region}", "ap-northeast-1"))["widgets"]
    shown = {
        _check_select(line[0]["expression"], emitted[0])
        for widget in widgets
        for line in widget["properties"]["metrics"]
    }
    assert {
        "PoolFree",
        "PoolInUse",
        "Claims",
        "ClaimConflicts",
        "Abandons",
        "SsmWaitSeconds",
    } <= shown


FIELD = re.compile(r"\b([a-z_]+)\b")
INSIGHTS_WORDS = {
    "fields",
    "filter",
    "sort",
    "asc",
    "desc",
    "stats",
    "count",
    "as",
    "by",
    "in",
    "and",
    "limit",
    "ispresent",
    "events",
}


def _queries() -> dict[str, dict[str, Any]]:
    return {
        v["Properties"]["Name"]: v["Properties"]
        for v in _template()["Resources"].values()
        if v["Type"] == "AWS::Logs::QueryDefinition"
    }


def test_the_three_saved_queries_exist():
    assert set(_queries()) == {
        "fixed-ip/everything that happened to an instance",
        "fixed-ip/claims and failures per pool",
        "fixed-ip/slowest launches",
    }


@pytest.mark.parametrize("name", sorted(_queries()))
def test_saved_queries_use_fields_and_decisions_the_code_logs(emitted, name):
    lines = emitted[1]
    logged_fields = {k for line in lines for k in line}
    logged_decisions = {line.get("decision") for line in lines}
    query = _queries()[name]["QueryString"]
    without_strings = re.sub(r'"[^"]*"', "", query)
    used = {f for f in FIELD.findall(without_strings) if not f.startswith("i_")} - INSIGHTS_WORDS
    assert used <= logged_fields, used - logged_fields
    for decision in re.findall(r'"([a-z_]+)"', query):
        assert decision in logged_decisions | {
            "eni_refused",
            "event_refused",
            "claim_conflict",
            "lifecycle_not_active",
        }, decision
