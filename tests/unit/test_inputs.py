"""Validation of everything that comes from outside: host names, hook metadata, events,
settings. Each refusal names what was wrong."""

from __future__ import annotations

import json

import pytest

from fixed_ip.errors import ConfigurationError, InvalidEvent, InvalidHostName
from fixed_ip.hostname import validate_hostname
from fixed_ip.inputs import launch_request, terminate_request
from fixed_ip.models import HookMetadata, parse_lifecycle_event
from fixed_ip.settings import Settings
from tests.helpers import invalid_event_names, load_event

SETTINGS = Settings(document="doc")


@pytest.mark.parametrize(
    "name", ["server-a1", "a", "web-01.example.internal", "1host", "x" * 63, "a." * 31 + "bc"]
)
def test_valid_host_names(name):
    assert validate_hostname(name) == name


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("a;reboot", "invalid label"),
        ("$(id)", "invalid label"),
        ("a" * 300, "300 characters"),
        ("a." * 32 + "b", "65 characters"),
        ("", "empty"),
        (None, "missing"),
        ("-lead", "invalid label"),
        ("trail-", "invalid label"),
        ("x" * 64, "invalid label"),
        ("a..b", "invalid label"),
        ("sp ace", "invalid label"),
        ("tab\tname", "invalid label"),
        ("new\nline", "invalid label"),
        ("ünï", "invalid label"),
        ("`uname`", "invalid label"),
    ],
)
def test_invalid_host_names_are_refused_with_the_reason(name, why):
    with pytest.raises(InvalidHostName, match=why):
        validate_hostname(name)


def test_documented_event_parses():
    event = parse_lifecycle_event(load_event("launch.json"))
    req = launch_request(event, SETTINGS)
    assert (req.instance_id, req.group, req.hook) == (
        "i-1234567890abcdef0",
        "web",
        "fixed-ip-launch",
    )
    assert req.pool == "web" and req.device_index == 1  # defaults: group name, index 1
    assert req.token not in repr(req)


def test_metadata_names_the_pool_and_device_index():
    event = load_event("launch-pool-metadata.json")
    event["detail"]["NotificationMetadata"] = json.dumps({"pool": "web", "device_index": 2})
    req = launch_request(parse_lifecycle_event(event), SETTINGS)
    assert (req.pool, req.device_index) == ("web", 2)


EXPECTED_REASON = {
    "bad-instance-id.json": "EC2InstanceId",
    "detail-not-object.json": "detail",
    "empty-object.json": "version",
    "metadata-bad-pool.json": "pool",
    "metadata-not-json.json": "not valid JSON",
    "metadata-not-object.json": "must be a JSON object",
    "metadata-unknown-key.json": "pol",
    "missing-token.json": "LifecycleActionToken",
    "not-json-object.json": "must be a JSON object",
    "terminate-action.json": "handles launch lifecycle actions",
    "unmanaged-hook.json": "not managed",
    "wrong-detail-type.json": "detail-type",
    "wrong-source.json": "source",
    # wrong types and values in the event itself (refused, no AWS call)
    "bad-time.json": "time: Input should be a valid datetime",
    "detail-array.json": "detail: Input should be a valid dictionary",
    "detail-type-wrong-case.json": "detail-type: Input should be",
    "hook-name-not-string.json": "detail.LifecycleHookName: Input should be a valid string",
    "hook-prefix-wrong-case.json": "'Fixed-IP-launch' is not managed",
    "launch-with-terminate-transition.json": (
        "Lifecycle Action' (autoscaling:EC2_INSTANCE_TERMINATING)"
    ),
    "missing-detail.json": "detail: Field required",
    "notification-metadata-not-string.json": (
        "detail.NotificationMetadata: Input should be a valid string"
    ),
    "null-event.json": "must be a JSON object, got NoneType",
    "resources-not-list.json": "resources: Input should be a valid list",
    "string-event.json": "must be a JSON object, got str",
    "transition-unknown.json": "detail.LifecycleTransition: Input should be",
    # a managed hook's metadata that cannot be served (ABANDONed at once, with the reason)
    "metadata-device-index-nan.json": "device_index: Input should be a valid integer",
    "metadata-device-index-not-integer.json": "device_index: Input should be a valid integer",
    "metadata-device-index-quoted.json": "device_index: Input should be a valid integer",
    "metadata-device-index-true.json": "device_index: Input should be a valid integer",
    "metadata-device-index-too-high.json": "device_index: Input should be less than or equal to 31",
    "metadata-device-index-zero.json": "device_index: Input should be greater than or equal to 1",
    "metadata-pool-empty.json": "pool: String should match pattern",
    "metadata-pool-too-long.json": "pool: String should have at most 255 characters",
    "metadata-trailing-garbage.json": "not valid JSON (Extra data",
}


def test_every_invalid_event_file_has_an_expected_reason():
    assert set(invalid_event_names()) == set(EXPECTED_REASON)


@pytest.mark.parametrize("name", invalid_event_names())
def test_invalid_events_are_refused_naming_the_problem(name):
    with pytest.raises(InvalidEvent) as info:
        launch_request(parse_lifecycle_event(load_event(f"invalid/{name}")), SETTINGS)
    assert EXPECTED_REASON[name] in str(info.value)
    assert "87654321-4321-4321-4321-210987654321" not in str(info.value)  # never the token


def test_empty_metadata_means_defaults():
    assert HookMetadata.from_notification("  ") == HookMetadata()
    assert HookMetadata.from_notification(None) == HookMetadata()


def test_group_name_that_cannot_be_a_pool_name_asks_for_metadata():
    event = load_event("launch.json")
    event["detail"]["AutoScalingGroupName"] = "web<asg>"
    with pytest.raises(InvalidEvent, match="NotificationMetadata"):
        launch_request(parse_lifecycle_event(event), SETTINGS)


@pytest.mark.parametrize(
    ("build", "file", "says"),
    [
        (launch_request, "terminate.json", "handles launch lifecycle actions"),
        (terminate_request, "launch.json", "handles terminate lifecycle actions"),
    ],
)
def test_each_function_refuses_the_other_transition_naming_it(build, file, says):
    event = parse_lifecycle_event(load_event(file))
    with pytest.raises(InvalidEvent, match=says) as info:
        build(event, SETTINGS)
    assert event.detail_type in str(info.value)


def test_a_managed_transition_of_an_unmanaged_hook_is_refused():
    event = parse_lifecycle_event(load_event("terminate.json"))
    with pytest.raises(InvalidEvent, match="is not managed"):
        terminate_request(event, Settings(document="doc", hook_prefix="other-"))


def test_settings_from_env_with_defaults():
    s = Settings.from_env({"FIXED_IP_DOCUMENT": "fixed-ip-SetHostname", "PATH": "/bin"})
    assert (s.pool_tag_key, s.hostname_tag_key, s.device_index) == ("fixed-ip:pool", "HostName", 1)
    assert s.on_hostname_failure == "ABANDON"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "FIXED_IP_DOCUMENT"),
        ({"FIXED_IP_DOCUMENT": "d", "FIXED_IP_DEVICE_INDEX": "0"}, "DEVICE_INDEX"),
        ({"FIXED_IP_DOCUMENT": "doc", "FIXED_IP_ON_HOSTNAME_FAILURE": "maybe"}, "FAILURE"),
        ({"FIXED_IP_DOCUMENT": "doc", "FIXED_IP_SSM_WAIT_SECONDS": "lots"}, "WAIT"),
    ],
)
def test_bad_settings_name_the_variable(env, named):
    with pytest.raises(ConfigurationError, match=named):
        Settings.from_env(env)
