"""The instance step (issue 12): the controller CONTINUEs only when the instance's own
verification says the fixed address is configured; a pool ENI without a host-name tag
serves its address."""

from __future__ import annotations

import json

import pytest

from fixed_ip.errors import CommandFailed, HostnameFailed, OsAddressFailed
from fixed_ip.launch import ABANDON, CONTINUE
from fixed_ip.os_config import OsConfig, judge, parse_report
from tests.fakes import FakeCloud
from tests.unit.test_launch import run

IID = "i-0000000000000001"
CONFIG = OsConfig("10.0.0.4", "02:00:00:00:00:04", "10.0.0.0/24", 1, "server-a1", "configure")


def line(**fields) -> str:
    base = {
        "ok": True,
        "mode": "configure",
        "manager": "netplan",
        "interface": "ens6",
        "address": "10.0.0.4",
        "address_present": True,
        "rule_present": True,
        "table_route_present": True,
        "host_name": "server-a1",
        "host_name_ok": True,
        "persisted": True,
        "changed": True,
        "message": "configured",
    }
    return "noise\nFIXED_IP_RESULT " + json.dumps({**base, **fields}) + "\n"


@pytest.fixture
def cloud() -> FakeCloud:
    c = FakeCloud()
    c.add_instance(IID)
    c.add_eni("10.0.0.4", "server-a1")
    return c


def test_the_document_is_sent_what_the_eni_and_its_subnet_say(cloud):
    out, obs = run(cloud)
    assert out.result == CONTINUE
    [(instance_id, config)] = cloud.commands.values()
    eni = cloud.held_by(IID)[0]
    assert (instance_id, config.address, config.mac) == (IID, "10.0.0.4", eni.mac)
    assert (config.subnet_cidr, config.device_index, config.mode) == ("10.0.0.0/24", 1, "configure")
    assert config.parameters(60) == {
        "Address": ["10.0.0.4"],
        "MacAddress": [eni.mac],
        "SubnetCidr": ["10.0.0.0/24"],
        "DeviceIndex": ["1"],
        "HostName": ["server-a1"],
        "Mode": ["configure"],
        "ExecutionTimeout": ["60"],
    }
    [configured] = [x for x in obs.lines if x["decision"] == "os_configured"]
    assert configured["os"] == "ens6 10.0.0.4 rule ok table ok"
    assert configured["interface"] == "ens6" and configured["eni_id"] == eni.eni_id


def test_address_reported_missing_abandons_os_address_failed_with_the_script_message(cloud):
    cloud.os_fault[IID] = "unsupported: Gentoo has neither netplan nor NetworkManager"
    out, _ = run(cloud, on_hostname_failure="CONTINUE")
    assert (out.result, out.reason) == (ABANDON, "os_address_failed")
    assert "Gentoo has neither netplan" in out.detail and "10.0.0.4" in out.detail
    assert cloud.completed == [(IID, ABANDON)]
    assert IID not in cloud.os_hostname


def test_eni_without_host_name_tag_serves_its_address(cloud):
    cloud.enis.clear()
    bare = cloud.add_eni("10.0.0.9", None)
    out, obs = run(cloud)
    assert (out.result, out.reason, out.host_name) == (CONTINUE, "ok", None)
    assert bare.instance_id == IID
    assert "tag_instance" not in cloud.calls and cloud.instances[IID].tags == {}
    assert IID not in cloud.os_hostname
    [(_, config)] = cloud.commands.values()
    assert config.host_name is None and config.parameters(60)["HostName"] == [""]
    [note] = [x for x in obs.lines if x["decision"] == "no_host_name"]
    assert note["eni_id"] == bare.eni_id and "HostName" in note["reason"]


def test_verify_mode_only_asks_the_instance_to_check(cloud):
    out, _ = run(cloud, os_configuration="verify")
    [(_, config)] = cloud.commands.values()
    assert out.result == CONTINUE and config.mode == "verify"


def test_skip_mode_without_host_name_runs_nothing_on_the_instance(cloud):
    cloud.enis.clear()
    cloud.add_eni("10.0.0.9", None)
    out, obs = run(cloud, os_configuration="skip")
    assert out.result == CONTINUE and not cloud.commands
    assert "send_configure" not in cloud.calls and "os_setup_skipped" in obs.decisions()


@pytest.mark.parametrize(("policy", "result"), [("ABANDON", ABANDON), ("CONTINUE", CONTINUE)])
def test_host_name_failure_with_the_address_verified_follows_the_policy(cloud, policy, result):
    cloud.hostname_fault[IID] = "hostnamectl: Access denied"
    out, _ = run(cloud, on_hostname_failure=policy)
    assert (out.result, out.reason) == (result, "host_name_failed")
    assert "Access denied" in out.detail


def test_success_without_a_verification_line_is_not_believed():
    with pytest.raises(OsAddressFailed, match="without a verification line"):
        judge(CONFIG, "Success", parse_report("fixed-ip: hostname set\n"), "i-1")


@pytest.mark.parametrize(
    "output",
    [
        "FIXED_IP_RESULT {not json",
        'FIXED_IP_RESULT ["a list"]',
        'FIXED_IP_RESULT {"mode": "configure"}',  # no "ok"
        'FIXED_IP_RESULT {"ok": "yes please", "mode": "configure"}',
    ],
)
def test_malformed_verification_lines_prove_nothing(output):
    assert parse_report(output) is None
    with pytest.raises(OsAddressFailed):
        judge(CONFIG, "Success", parse_report(output), "i-1")


@pytest.mark.parametrize(
    "fields",
    [
        {"address_present": False},
        {"rule_present": False},
        {"table_route_present": False},
        {"address": "10.0.0.5"},  # another address configured: not ours
    ],
)
def test_each_missing_piece_of_the_address_fails_it(fields):
    report = parse_report(line(**fields))
    with pytest.raises(OsAddressFailed):
        judge(CONFIG, "Success", report, "i-1")


def test_the_last_result_line_counts():
    output = line(address_present=False) + line()
    assert judge(CONFIG, "Success", parse_report(output), "i-1").address_present


def test_a_failed_status_with_an_ok_line_is_not_believed():
    with pytest.raises(CommandFailed):
        judge(CONFIG, "Failed", parse_report(line()), "i-1")


def test_host_name_not_confirmed_is_a_host_name_failure():
    with pytest.raises(HostnameFailed) as caught:
        judge(CONFIG, "Success", parse_report(line(host_name_ok=None)), "i-1")
    assert caught.value.only_host_name


def test_the_instance_message_in_a_log_line_is_bounded():
    with pytest.raises(OsAddressFailed) as caught:
        judge(CONFIG, "Failed", parse_report(line(address_present=False, message="x" * 5000)), "i")
    assert len(str(caught.value)) < 700
