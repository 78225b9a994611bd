"""The one builder of lifecycle events (fixed_ip_local.events) agrees with the event files
that `sam local invoke -e` uses and with what the simulated Auto Scaling delivers."""

from __future__ import annotations

import pytest

from fixed_ip_local.events import LAUNCHING, TERMINATING, lifecycle_event, scheduled_event
from tests.helpers import FILE_EVENT_TIME, launch_event, load_event


@pytest.mark.parametrize("name", ["launch.json", "launch-pool-metadata.json"])
def test_the_event_files_are_what_the_builder_makes(name):
    on_file = load_event(name)
    detail = on_file["detail"]
    built = lifecycle_event(
        LAUNCHING,
        instance_id=detail["EC2InstanceId"],
        group=detail["AutoScalingGroupName"],
        hook=detail["LifecycleHookName"],
        token=detail["LifecycleActionToken"],
        at=FILE_EVENT_TIME,
        metadata=detail.get("NotificationMetadata"),
    )
    assert built == on_file


def test_launch_event_is_the_file_event_readdressed():
    event = launch_event("i-0aaaaaaaaaaaaaaaa", "db-asg", "tok-1")
    expected = load_event("launch.json")
    expected["detail"].update(
        EC2InstanceId="i-0aaaaaaaaaaaaaaaa",
        AutoScalingGroupName="db-asg",
        LifecycleActionToken="tok-1",
    )
    expected["resources"] = event["resources"]
    assert event == expected
    assert event["resources"][0].endswith(":autoScalingGroupName/db-asg")


def test_terminate_events_go_from_the_group_to_ec2_after_the_metadata():
    event = lifecycle_event(
        TERMINATING, instance_id="i-1", group="web", hook="h", token="t", metadata="{}"
    )
    assert event["detail-type"] == "EC2 Instance-terminate Lifecycle Action"
    # Metadata comes before Origin, as in AWS's examples (test_moto_patches checks all keys).
    assert list(event["detail"])[-3:] == ["NotificationMetadata", "Origin", "Destination"]
    assert (event["detail"]["Origin"], event["detail"]["Destination"]) == (
        "AutoScalingGroup",
        "EC2",
    )


def test_an_unknown_transition_is_refused_by_name():
    with pytest.raises(ValueError, match="autoscaling:EC2_INSTANCE_PENDING"):
        lifecycle_event(
            "autoscaling:EC2_INSTANCE_PENDING", instance_id="i-1", group="g", hook="h", token="t"
        )


def test_scheduled_event_is_what_the_sweeper_rule_sends():
    event = scheduled_event("eu-west-1")
    assert (event["source"], event["detail-type"], event["detail"]) == (
        "aws.events",
        "Scheduled Event",
        {},
    )
    assert event["region"] == "eu-west-1"
