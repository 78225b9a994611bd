"""Issue 11 item 1 on the LaunchFunction of template.yaml (moto + fidelity patches, errors
injected at the HTTP layer): an AWS error that will never succeed ends the launch on the
first delivery, ABANDON, with a specific reason and the AWS code in the log line."""

from __future__ import annotations

import pytest

from tests.faults.checks import action_of, held, lifecycle_state
from tests.faults.test_faults import assert_sound, pending


@pytest.mark.parametrize(
    ("operation", "code", "reason"),
    [
        ("ec2:AttachNetworkInterface", "AttachmentLimitExceeded", "attachment_limit_exceeded"),
        ("ec2:AttachNetworkInterface", "UnauthorizedOperation", "access_denied"),
        ("ec2:AttachNetworkInterface", "SomeCodeNobodyForesaw", "aws_error"),
        ("ec2:CreateTags", "UnauthorizedOperation", "access_denied"),
        ("ssm:SendCommand", "AccessDeniedException", "access_denied"),
    ],
)
def test_item1_definitive_error_abandons_on_the_first_delivery(
    aws, events, make_runner, plan, operation, code, reason
):
    world, [iid] = pending(aws, events)
    plan.fail(operation, code, f"{code} said AWS", times=None)
    runner = make_runner()
    result = runner.invoke(events[0])  # returns: no exception for Lambda to retry
    assert (result["result"], result["reason"]) == ("ABANDON", reason)
    assert result["aws_error"] == code and code in result["detail"]
    assert plan.requests(operation) == 1  # neither botocore nor the controller retried
    [final] = runner.logs.decisions("lifecycle_completed")
    assert (final["reason"], final["aws_error"], final["instance_id"]) == (reason, code, iid)
    assert runner.logs.decisions("error") == []
    assert action_of(iid)["result"] == "ABANDON"
    assert held(aws, world.pool) == {}  # abandoned: terminated, its ENI (if any) free
    assert_sound(aws, world)


def test_item1_device_index_refused_abandons_with_the_code_in_the_line(
    aws, events, make_runner, plan
):
    """InvalidParameterValue for the device index (seen free on every re-read): the claim
    gives up in the first delivery, and the line names the AWS code."""
    world, [iid] = pending(aws, events)
    plan.fail("ec2:AttachNetworkInterface", "InvalidParameterValue", times=None)
    result = make_runner().invoke(events[0])
    assert (result["result"], result["reason"]) == ("ABANDON", "attach_refused")
    assert result["aws_error"] == "InvalidParameterValue"
    assert action_of(iid)["result"] == "ABANDON"
    assert_sound(aws, world)


def test_item1_server_error_with_an_unknown_code_is_still_retried(aws, events, make_runner, plan):
    """Any 5xx is worth retrying, whatever its code: raised for Lambda, nothing completed."""
    world, [iid] = pending(aws, events)
    plan.fail("ec2:AttachNetworkInterface", "SomeNewOutage", status=503, times=None)
    runner = make_runner()
    with pytest.raises(Exception, match="SomeNewOutage"):
        runner.invoke(events[0])
    assert lifecycle_state(aws, iid) == "Pending:Wait"
    assert action_of(iid)["state"] == "active"  # left for the retried event
    assert_sound(aws, world)


def test_item4_pool_tag_on_the_primary_is_not_the_fixed_address(aws, events, make_runner):
    """A launch template that tags network interfaces put the pool tag on the primary
    ENI: the launch still claims a real pool ENI at device index 1, and the terminate
    path leaves the primary alone."""
    world, [iid] = pending(aws, events)
    ec2 = aws.client("ec2")
    [instance] = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"]
    [primary] = [
        ni["NetworkInterfaceId"]
        for ni in instance["NetworkInterfaces"]
        if ni["Attachment"]["DeviceIndex"] == 0
    ]
    ec2.create_tags(Resources=[primary], Tags=[{"Key": "fixed-ip:pool", "Value": world.pool}])
    result = make_runner().invoke(events[0])
    assert (result["result"], result["resumed"], result["attach_attempts"]) == (
        "CONTINUE",
        False,
        1,
    )
    assert result["eni_id"] != primary
    attachment = ec2.describe_network_interfaces(NetworkInterfaceIds=[result["eni_id"]])[
        "NetworkInterfaces"
    ][0]["Attachment"]
    assert (attachment["InstanceId"], attachment["DeviceIndex"]) == (iid, 1)
