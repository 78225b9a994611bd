"""The simulated SSM agent answers what instance/fixed-ip-configure.sh would print: its
last stdout line is `FIXED_IP_RESULT {json}` computed from the simulated world (which ENI
is attached where, with which address, on which distribution), the command ends Success
when ok and Failed otherwise, and the instance's OS view says what it holds.

Each test fails without the agent (moto answers Success with empty output for every
command and keeps no OS)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fixed_ip_local import moto_patches
from tests.instance.netns import RESULT_KEYS

REGION = "ap-northeast-1"
AZ = "ap-northeast-1a"
DOC = "fixed-ip-ConfigureDocument"
OLD_DOC = "fixed-ip-HostnameDocument"
OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
# The contract's parameters (the os-script brief), each with its allowedPattern.
PARAMETERS = {
    "Address": {"type": "String", "allowedPattern": rf"^{OCTET}(\.{OCTET}){{3}}$"},
    "MacAddress": {"type": "String", "allowedPattern": r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$"},
    "SubnetCidr": {
        "type": "String",
        "allowedPattern": rf"^{OCTET}(\.{OCTET}){{3}}/(1[6-9]|2[0-8])$",
    },
    "DeviceIndex": {"type": "String", "allowedPattern": r"^([1-9]|[12][0-9]|3[01])$"},
    "HostName": {
        "type": "String",
        "default": "",
        "allowedPattern": r"^$|^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9-]+)*$",
    },
    "Mode": {
        "type": "String",
        "default": "configure",
        "allowedPattern": r"^(configure|verify|skip)$",
    },
    "ExecutionTimeout": {"type": "String", "default": "60", "allowedPattern": r"^[1-9][0-9]{0,3}$"},
}


def _document(ssm: Any, name: str, parameters: dict[str, Any]) -> None:
    content = {
        "schemaVersion": "2.2",
        "description": "test copy of the stack's document",
        "parameters": parameters,
        "mainSteps": [
            {
                "action": "aws:runShellScript",
                "name": "configure",
                "inputs": {"runCommand": ["true"]},
            }
        ],
    }
    ssm.create_document(
        Name=name, Content=json.dumps(content), DocumentType="Command", DocumentFormat="JSON"
    )


class Box:
    """One VPC subnet, the two documents, and helpers to launch instances and pool ENIs."""

    def __init__(self, session: Any) -> None:
        self.ec2, self.ssm = session.client("ec2"), session.client("ssm")
        vpc = self.ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        self.cidr = "10.0.0.0/24"
        self.subnet = self.ec2.create_subnet(VpcId=vpc, CidrBlock=self.cidr, AvailabilityZone=AZ)[
            "Subnet"
        ]["SubnetId"]
        _document(self.ssm, DOC, PARAMETERS)
        _document(self.ssm, OLD_DOC, {"HostName": PARAMETERS["HostName"] | {"default": None}})

    def instance(self) -> str:
        return self.ec2.run_instances(
            ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=self.subnet
        )["Instances"][0]["InstanceId"]

    def eni(self, ip: str, attach_to: str | None = None) -> dict[str, str]:
        eni = self.ec2.create_network_interface(SubnetId=self.subnet, PrivateIpAddress=ip)
        eni_id = eni["NetworkInterface"]["NetworkInterfaceId"]
        if attach_to:
            self.ec2.attach_network_interface(
                NetworkInterfaceId=eni_id, InstanceId=attach_to, DeviceIndex=1
            )
        return {"id": eni_id, "mac": eni["NetworkInterface"]["MacAddress"], "ip": ip}

    def run(self, instance: str, eni: dict[str, str], **overrides: str) -> dict[str, Any]:
        """Send the configure document as the controller does; return the invocation."""
        parameters = {
            "Address": eni["ip"],
            "MacAddress": eni["mac"],
            "SubnetCidr": self.cidr,
            "DeviceIndex": "1",
            "HostName": "server-a1",
            "Mode": "configure",
            "ExecutionTimeout": "60",
        } | overrides
        command = self.ssm.send_command(
            InstanceIds=[instance],
            DocumentName=DOC,
            Parameters={k: [v] for k, v in parameters.items()},
        )["Command"]
        return self.ssm.get_command_invocation(CommandId=command["CommandId"], InstanceId=instance)


def result_line(invocation: dict[str, Any]) -> dict[str, Any]:
    last = invocation["StandardOutputContent"].rstrip("\n").splitlines()[-1]
    prefix, _, payload = last.partition(" ")
    assert prefix == "FIXED_IP_RESULT"
    report = json.loads(payload)
    assert set(report) == RESULT_KEYS
    return report


@pytest.fixture
def box(aws) -> Box:
    return Box(aws)


def test_amazon_linux_2023_answers_on_ens6_with_the_enis_address(box):
    instance = box.instance()
    eni = box.eni("10.0.0.4", attach_to=instance)

    invocation = box.run(instance, eni)

    assert (invocation["Status"], invocation["ResponseCode"]) == ("Success", 0)
    report = result_line(invocation)
    assert report["ok"] is True
    assert (report["manager"], report["interface"], report["address"]) == (
        "ec2-net-utils",
        "ens6",
        "10.0.0.4",
    )
    assert report["address_present"] and report["rule_present"] and report["table_route_present"]
    assert (report["host_name"], report["host_name_ok"]) == ("server-a1", True)
    assert "Amazon Linux 2023" in report["message"]
    assert moto_patches.os_hostname(instance) == "server-a1"
    view = moto_patches.instance_os(instance)
    assert view["summary"] == "ens6 10.0.0.4 rule ok"
    assert view["report"] == report


def test_netplan_writes_once_then_changes_nothing(box):
    instance = box.instance()
    moto_patches.set_instance_os(instance, "ubuntu-24.04")
    eni = box.eni("10.0.0.5", attach_to=instance)

    first = result_line(box.run(instance, eni))
    second = result_line(box.run(instance, eni))

    assert (first["ok"], first["manager"], first["interface"]) == (True, "netplan", "ens6")
    assert (first["changed"], first["persisted"]) == (True, True)
    assert (second["ok"], second["changed"], second["persisted"]) == (True, False, True)
    assert "table 1001" in second["message"]


def test_rhel_names_the_interface_eth1(box):
    instance = box.instance()
    moto_patches.set_instance_os(instance, "rhel-9")
    eni = box.eni("10.0.0.6", attach_to=instance)

    report = result_line(box.run(instance, eni))

    assert (report["ok"], report["manager"], report["interface"]) == (
        True,
        "networkmanager",
        "eth1",
    )
    info = box.ssm.describe_instance_information(
        Filters=[{"Key": "InstanceIds", "Values": [instance]}]
    )["InstanceInformationList"][0]
    assert (info["PlatformName"], info["ComputerName"]) == ("Red Hat Enterprise Linux", "server-a1")


def test_an_unknown_distribution_fails_naming_it_and_the_command_fails(box):
    instance = box.instance()
    moto_patches.set_instance_os(instance, "unknown")
    eni = box.eni("10.0.0.4", attach_to=instance)

    invocation = box.run(instance, eni)

    assert (invocation["Status"], invocation["ResponseCode"]) == ("Failed", 1)
    report = result_line(invocation)
    assert report["ok"] is False
    assert (report["manager"], report["interface"]) == ("none", "eth1")  # as the script says
    assert not (report["address_present"] or report["rule_present"])
    assert "Gentoo Linux has none of amazon-ec2-net-utils" in report["message"]
    assert "missing: address 10.0.0.4 on eth1" in report["message"]
    assert "Gentoo Linux" in invocation["StandardErrorContent"]
    # The script goes on to the host name after the address problem, as the real one does.
    assert report["host_name_ok"] is True
    assert moto_patches.instance_os(instance)["summary"].startswith("eth1 10.0.0.4 FAILED")


def test_an_eni_not_attached_to_the_instance_has_no_interface(box):
    instance, other = box.instance(), box.instance()
    elsewhere = box.eni("10.0.0.7", attach_to=other)
    loose = box.eni("10.0.0.8")

    for eni in (elsewhere, loose):
        invocation = box.run(instance, eni)
        report = result_line(invocation)
        assert invocation["Status"] == "Failed"
        assert (report["ok"], report["interface"], report["host_name_ok"]) == (False, None, None)
        assert report["message"] == (
            f"no interface with MAC {eni['mac']} appeared within 25s on Amazon Linux 2023"
        )
    assert moto_patches.os_hostname(instance) is None


def test_an_address_the_eni_does_not_hold_is_not_present(box):
    instance = box.instance()
    moto_patches.set_instance_os(instance, "ubuntu-24.04")
    eni = box.eni("10.0.0.4", attach_to=instance)

    report = result_line(box.run(instance, eni, Address="10.0.0.9"))

    assert (report["ok"], report["address_present"]) == (False, False)
    assert "missing: address 10.0.0.9 on ens6" in report["message"]


def test_verify_believes_only_what_is_configured(box):
    ubuntu, amazon = box.instance(), box.instance()
    moto_patches.set_instance_os(ubuntu, "ubuntu-24.04")
    on_ubuntu = box.eni("10.0.0.4", attach_to=ubuntu)
    on_amazon = box.eni("10.0.0.5", attach_to=amazon)

    before = box.run(ubuntu, on_ubuntu, Mode="verify")
    configured = result_line(box.run(ubuntu, on_ubuntu))
    after = result_line(box.run(ubuntu, on_ubuntu, Mode="verify"))
    by_itself = result_line(box.run(amazon, on_amazon, Mode="verify"))

    assert before["Status"] == "Failed"
    assert result_line(before)["message"].startswith(
        "on Ubuntu 24.04.1 LTS (netplan, Mode=verify) missing: address 10.0.0.4 on ens6"
    )
    assert configured["ok"] and after["ok"] and not after["changed"]
    # amazon-ec2-net-utils configured the hot-plugged ENI without fixed-ip.
    assert by_itself["ok"] and by_itself["address_present"]


def test_skip_checks_nothing_and_still_sets_the_host_name(box):
    instance = box.instance()
    moto_patches.set_instance_os(instance, "unknown")
    eni = box.eni("10.0.0.4")  # not even attached

    invocation = box.run(instance, eni, Mode="skip", HostName="server-c1")

    report = result_line(invocation)
    assert invocation["Status"] == "Success"
    assert (report["ok"], report["mode"], report["interface"]) == (True, "skip", None)
    assert (
        report["message"]
        == "Mode=skip: the address was neither configured nor checked on Gentoo Linux"
    )
    assert moto_patches.os_hostname(instance) == "server-c1"
    assert moto_patches.instance_os(instance)["summary"] == "skipped (Mode=skip)"


def test_no_host_name_sets_none(box):
    instance = box.instance()
    eni = box.eni("10.0.0.4", attach_to=instance)

    report = result_line(box.run(instance, eni, HostName=""))

    assert (report["ok"], report["host_name"], report["host_name_ok"]) == (True, None, None)
    assert moto_patches.os_hostname(instance) is None


def test_the_primary_interface_is_refused(box):
    instance = box.instance()
    described = box.ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]
    primary = described["Instances"][0]["NetworkInterfaces"][0]
    eni = {"mac": primary["MacAddress"], "ip": primary["PrivateIpAddress"]}

    report = result_line(box.run(instance, eni))

    assert report["ok"] is False
    assert "carries the main table's default route" in report["message"]


def test_a_forced_agent_failure_prints_nothing_and_changes_nothing(box):
    instance = box.instance()
    eni = box.eni("10.0.0.4", attach_to=instance)
    moto_patches.set_command_outcome(instance, "TimedOut")

    invocation = box.run(instance, eni)

    assert invocation["Status"] == "TimedOut"
    assert invocation["StandardOutputContent"] == ""
    assert moto_patches.instance_os(instance)["summary"] == "not configured by fixed-ip"
    assert moto_patches.os_hostname(instance) is None


def test_the_old_host_name_document_still_sets_the_host_name(box):
    instance = box.instance()
    command = box.ssm.send_command(
        InstanceIds=[instance], DocumentName=OLD_DOC, Parameters={"HostName": ["server-a2"]}
    )["Command"]

    invocation = box.ssm.get_command_invocation(CommandId=command["CommandId"], InstanceId=instance)

    assert invocation["Status"] == "Success"
    assert "FIXED_IP_RESULT" not in invocation["StandardOutputContent"]
    assert moto_patches.os_hostname(instance) == "server-a2"


def test_queued_distributions_go_to_the_next_launches_only(box):
    moto_patches.queue_instance_os("unknown")
    first, second = box.instance(), box.instance()

    assert moto_patches.instance_os(first)["distribution"] == "Gentoo Linux"
    assert moto_patches.instance_os(second)["distribution"] == "Amazon Linux 2023"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: moto_patches.queue_instance_os("windows"), "not 'windows'"),
        (lambda: moto_patches.queue_instance_os("rhel-9", count=0), "count must be at least 1"),
    ],
)
def test_bad_knobs_are_refused_by_name_and_change_nothing(box, call, message):
    with pytest.raises(ValueError, match=message):
        call()
    assert moto_patches.instance_os(box.instance())["distribution"] == "Amazon Linux 2023"
