"""The controller around the use case: decision lines, EMF metrics, refusals, errors."""

from __future__ import annotations

import json

import pytest

from fixed_ip.controller import LaunchController, run_invocation
from fixed_ip.errors import ConfigurationError, OutOfTime
from fixed_ip.launch import Deps, LaunchUseCase
from fixed_ip.observability import PowertoolsObserver
from fixed_ip.settings import Settings
from tests.fakes import FakeCloud
from tests.helpers import LogCapture, launch_event, load_event

TOKEN = "5a1b2c3d-0000-4000-8000-00000000beef"
IID = "i-0123456789abcdef0"


def setup(cloud: FakeCloud, **settings):
    s = Settings(document="doc", **settings)
    use_case = LaunchUseCase(
        Deps(compute=cloud, lifecycle=cloud, commands=cloud, clock=cloud.clock), s
    )
    logs, emf = LogCapture(), []
    observer = PowertoolsObserver(logs.logger, sink=emf.append)
    return LaunchController(use_case, s, cloud.clock), observer, logs, emf


def invoke(cloud, event, remaining_ms=300_000, **settings):
    controller, observer, logs, emf = setup(cloud, **settings)
    result = run_invocation(event, remaining_ms, observer, lambda: controller)
    return result, logs, [json.loads(e) for e in emf]


@pytest.fixture
def cloud():
    c = FakeCloud()
    c.add_instance(IID, group="web-asg")
    c.add_eni("10.0.0.4", "server-a1", pool="web-asg")
    return c


def metric_names(emf):
    return {m["Name"] for blob in emf for m in blob["_aws"]["CloudWatchMetrics"][0]["Metrics"]}


def test_success_logs_one_final_line_with_every_field_and_emits_metrics(cloud):
    result, logs, emf = invoke(cloud, launch_event(IID, "web-asg", TOKEN))
    assert result["result"] == "CONTINUE" and result["ip"] == "10.0.0.4"
    [final] = logs.decisions("lifecycle_completed")
    for key, value in {
        "instance_id": IID,
        "group": "web-asg",
        "hook": "fixed-ip-launch",
        "pool": "web-asg",
        "az": "az-a",
        "ip": "10.0.0.4",
        "host_name": "server-a1",
        "result": "CONTINUE",
        "reason": "ok",
    }.items():
        assert final[key] == value, key
    assert final["eni_id"].startswith("eni-") and final["duration_ms"] >= 0
    [blob] = emf
    assert blob["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "FixedIp"
    assert blob["Pool"] == "web-asg" and blob["service"] == "fixed-ip"
    assert {"Claims", "Continues", "SsmWaitSeconds"} <= metric_names(emf)


def test_token_never_appears_in_logs_or_metrics(cloud):
    cloud.active.discard(IID)  # completion answers "not active", whose AWS text has the token
    _, logs, emf = invoke(cloud, launch_event(IID, "web-asg", TOKEN))
    everything = logs.stream.getvalue() + json.dumps(emf)
    assert TOKEN not in everything
    assert logs.decisions("lifecycle_not_active")


def test_pool_exhausted_abandons_with_metric_and_warning(cloud):
    for eni in cloud.enis.values():
        eni.instance_id = "i-0000000000000099"
    result, logs, emf = invoke(
        cloud, launch_event(IID, "web-asg", TOKEN), on_pool_exhausted="ABANDON"
    )
    assert (result["result"], result["reason"]) == ("ABANDON", "pool_exhausted")
    [final] = logs.decisions("lifecycle_completed")
    assert final["level"] == "WARNING"
    assert {"Abandons", "PoolExhausted"} <= metric_names(emf)


def test_malformed_event_is_refused_with_one_line_and_no_aws_call(cloud):
    result, logs, emf = invoke(cloud, load_event("invalid/missing-token.json"))
    assert result["result"] == "REFUSED" and "LifecycleActionToken" in result["detail"]
    [line] = logs.lines()
    assert line["decision"] == "event_refused" and line["reason"] == "invalid_event"
    assert cloud.calls == []
    assert metric_names(emf) == {"InvalidEvents"}


def test_transient_error_is_logged_and_raised_for_lambda_to_retry(cloud):
    cloud.agent_online_at[IID] = None
    with pytest.raises(OutOfTime):
        invoke(cloud, launch_event(IID, "web-asg", TOKEN), remaining_ms=30_000)
    assert "complete" not in cloud.calls


def test_unexpected_aws_error_is_logged_with_its_code_and_raised(cloud):
    from botocore.exceptions import ClientError

    def throttled(**_):
        raise ClientError({"Error": {"Code": "RequestLimitExceeded"}}, "AttachNetworkInterface")

    cloud.attach = throttled
    controller, observer, logs, emf = setup(cloud)
    with pytest.raises(ClientError):
        run_invocation(launch_event(IID, "web-asg", TOKEN), 300_000, observer, lambda: controller)
    [line] = logs.decisions("error")
    assert line["aws_error"] == "RequestLimitExceeded" and line["instance_id"] == IID
    assert "Errors" in metric_names([json.loads(e) for e in emf])


def test_bad_configuration_is_reported_and_raised():
    logs, emf = LogCapture(), []
    observer = PowertoolsObserver(logs.logger, sink=emf.append)

    def broken():
        return Settings.from_env({"FIXED_IP_DEVICE_INDEX": "zero"})

    with pytest.raises(ConfigurationError):
        run_invocation(load_event("launch.json"), 300_000, observer, broken)
    [line] = logs.decisions("bad_configuration")
    assert "FIXED_IP_DEVICE_INDEX" in line["detail"]


def test_misconfigured_hook_metadata_abandons_at_once(cloud):
    event = launch_event(IID, "web-asg", TOKEN, NotificationMetadata='{"pol": "web"}')
    result, logs, emf = invoke(cloud, event)
    assert (result["result"], result["reason"]) == ("ABANDON", "invalid_metadata")
    assert cloud.completed == [(IID, "ABANDON")] and cloud.mutations() == ["complete"]
    [line] = logs.decisions("lifecycle_completed")
    assert "pol" in line["detail"] and line["instance_id"] == IID
    assert {"InvalidEvents", "Abandons"} <= metric_names(emf)
    # By Pool (the group's name standing in), so the Abandons alarm sees it.
    [blob] = emf
    assert blob["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Pool", "service"]]
    assert blob["Pool"] == "web-asg"


def test_dimensioned_observer_scopes_metrics_and_keeps_the_log_location():
    from fixed_ip.ports import DimensionedObserver

    logs, emf = LogCapture(), []
    inner = PowertoolsObserver(logs.logger, sink=emf.append)
    scoped = DimensionedObserver(inner, {"Pool": "web"})
    scoped.metric("Claims")
    scoped.metric("PoolFree", 3, dimensions={"Pool": "web", "AZ": "az-a"})
    scoped.decision("eni_claimed", eni_id="eni-1")  # this line is the location
    inner.flush()
    blobs = {
        tuple(json.loads(e)["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]): json.loads(e)
        for e in emf
    }
    assert blobs[("Pool", "service")]["Claims"] == [1.0]
    assert blobs[("AZ", "Pool", "service")]["PoolFree"] == [3.0]
    [line] = logs.decisions("eni_claimed")
    assert line["location"].startswith("test_dimensioned_observer_scopes_metrics")
