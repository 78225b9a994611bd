"""`fixed-ip pool apply` on moto: plan, create, idempotence, drift, prune, refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from fixed_ip_cli.errors import EXIT_AWS, EXIT_FAILED, EXIT_OK, EXIT_USAGE
from tests.cli.conftest import Run, Vpc, refuse_call
from tests.cli.test_spec import SEED_SPEC

SEED = str(SEED_SPEC)


def pool_enis(aws: Any, pool: str = "web") -> dict[str, dict[str, Any]]:
    """ip -> ENI (with its tags as a dict)."""
    enis = aws.client("ec2").describe_network_interfaces(
        Filters=[{"Name": "tag:fixed-ip:pool", "Values": [pool]}]
    )["NetworkInterfaces"]
    return {
        e["PrivateIpAddress"]: {**e, "tags": {t["Key"]: t["Value"] for t in e["TagSet"]}}
        for e in enis
    }


def plan_rows(out: str) -> dict[str, list[str]]:
    """ip -> the plan line's words, from the text output."""
    rows = {}
    for line in out.splitlines():
        words = line.split()
        if words and words[0] in {"create", "retag", "unchanged", "drift", "remove"}:
            rows[words[3]] = words
    return rows


def write(tmp_path: Path, data: dict[str, Any], name: str = "pool.yaml") -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return str(path)


def seed_data() -> dict[str, Any]:
    return yaml.safe_load(SEED_SPEC.read_text())


# ----------------------------------------------------------------- create and idempotence


def test_dry_run_prints_the_plan_and_changes_nothing(aws, seed_vpc: Vpc, run: Run) -> None:
    result = run("pool", "apply", SEED, "--dry-run")
    assert result.code == EXIT_OK, result.err
    rows = plan_rows(result.out)
    assert sorted(rows) == ["10.0.0.4", "10.0.0.5", "10.0.0.6", "10.0.1.4", "10.0.1.5", "10.0.1.6"]
    assert {r[0] for r in rows.values()} == {"create"}
    assert rows["10.0.0.4"][1:5] == [
        "ap-northeast-1a",
        seed_vpc.subnets["fixed-ip-example-a"],
        "10.0.0.4",
        "server-a1",
    ]
    assert "plan: 6 to create, 0 to retag, 0 unchanged, 0 drift" in result.out
    assert "dry run: nothing changed; 6 change(s) pending" in result.out
    assert pool_enis(aws) == {}


def test_apply_creates_the_seed_pool_then_changes_nothing(aws, seed_vpc: Vpc, run: Run) -> None:
    first = run("pool", "apply", SEED)
    assert first.code == EXIT_OK, first.err
    assert "applied: 6 created, 0 retagged, 0 removed" in first.out
    # progress on stderr, one line per change
    assert first.err.count("] create ") == 6
    assert "[6/6] create 10.0.1.6 server-c3: created eni-" in first.err

    enis = pool_enis(aws)
    assert sorted(enis) == ["10.0.0.4", "10.0.0.5", "10.0.0.6", "10.0.1.4", "10.0.1.5", "10.0.1.6"]
    a1 = enis["10.0.0.4"]
    assert a1["tags"] == {"fixed-ip:pool": "web", "HostName": "server-a1", "Name": "AZ-a_ENI1"}
    assert a1["SubnetId"] == seed_vpc.subnets["fixed-ip-example-a"]
    assert a1["Description"] == "fixed-ip pool web: server-a1"
    assert enis["10.0.1.6"]["AvailabilityZone"] == "ap-northeast-1c"

    second = run("pool", "apply", SEED)
    assert second.code == EXIT_OK, second.err
    assert "plan: 0 to create, 0 to retag, 6 unchanged, 0 drift" in second.out
    assert "nothing to change" in second.out
    assert pool_enis(aws) == enis  # same ENIs, same tags
    assert run("pool", "apply", SEED, "--check").code == EXIT_OK


def test_subnets_by_id_without_vpc(aws, seed_vpc: Vpc, run: Run, tmp_path: Path) -> None:
    data = seed_data()
    del data["vpc"]
    for entry in data["subnets"]:
        entry["subnet"] = seed_vpc.subnets[entry["subnet"]]
    result = run("pool", "apply", write(tmp_path, data), "-q")
    assert result.code == EXIT_OK, result.err
    assert result.err == ""  # --quiet: no progress
    assert len(pool_enis(aws)) == 6


def test_json_output(aws, seed_vpc: Vpc, run: Run) -> None:
    result = run("pool", "apply", SEED, "--output", "json")
    assert result.code == EXIT_OK, result.err
    doc = json.loads(result.out)
    assert doc["counts"] == {"create": 6, "retag": 0, "unchanged": 0, "drift": 0, "remove": 0}
    assert doc["applied"] == {"created": 6, "retagged": 0, "removed": 0, "skipped": []}
    assert all(item["eni_id"].startswith("eni-") for item in doc["plan"])
    again = json.loads(run("pool", "apply", SEED, "-o", "json").out)
    assert again["counts"]["unchanged"] == 6 and again["applied"] is None


# ---------------------------------------------------------------------- drift and retag


def test_changed_host_names_are_retagged(aws, seed_vpc: Vpc, run: Run, tmp_path: Path) -> None:
    assert run("pool", "apply", SEED, "-q").code == EXIT_OK
    data = seed_data()
    data["subnets"][0]["addresses"][0]["host_name"] = "web-a1"
    del data["subnets"][0]["addresses"][1]["name"]  # no name: the Name tag is left alone
    path = write(tmp_path, data)

    check = run("pool", "apply", path, "--check")
    assert check.code == EXIT_FAILED
    rows = plan_rows(check.out)
    assert rows["10.0.0.4"][0] == "retag"
    assert "HostName: server-a1 -> web-a1" in check.out
    assert rows["10.0.0.5"][0] == "unchanged"
    assert pool_enis(aws)["10.0.0.4"]["tags"]["HostName"] == "server-a1"  # --check changed nothing

    result = run("pool", "apply", path)
    assert result.code == EXIT_OK
    assert "applied: 0 created, 1 retagged, 0 removed" in result.out
    enis = pool_enis(aws)
    assert enis["10.0.0.4"]["tags"]["HostName"] == "web-a1"
    assert enis["10.0.0.5"]["tags"]["Name"] == "AZ-a_ENI2"
    assert run("pool", "apply", path, "--check").code == EXIT_OK


def test_retag_of_an_attached_eni_says_the_instance_keeps_its_name(
    aws, seed_vpc: Vpc, run: Run, tmp_path: Path
) -> None:
    assert run("pool", "apply", SEED, "-q").code == EXIT_OK
    instance = attach_instance(aws, seed_vpc, pool_enis(aws)["10.0.0.4"]["NetworkInterfaceId"])
    data = seed_data()
    data["subnets"][0]["addresses"][0]["host_name"] = "web-a1"
    result = run("pool", "apply", write(tmp_path, data), "--dry-run")
    assert f"attached to {instance}, which keeps server-a1 until it is replaced" in result.out


def attach_instance(aws: Any, vpc: Vpc, eni_id: str, az: str = "ap-northeast-1a") -> str:
    ec2 = aws.client("ec2")
    instance = ec2.run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=vpc.instance_subnets[az]
    )["Instances"][0]["InstanceId"]
    ec2.attach_network_interface(NetworkInterfaceId=eni_id, InstanceId=instance, DeviceIndex=1)
    return instance


def test_removed_addresses_are_drift_until_pruned_and_attached_ones_are_never_deleted(
    aws, seed_vpc: Vpc, run: Run, tmp_path: Path
) -> None:
    assert run("pool", "apply", SEED, "-q").code == EXIT_OK
    enis = pool_enis(aws)
    holder = attach_instance(aws, seed_vpc, enis["10.0.0.6"]["NetworkInterfaceId"])
    data = seed_data()
    data["subnets"][0]["addresses"] = data["subnets"][0]["addresses"][:1]  # keep 10.0.0.4
    path = write(tmp_path, data)

    result = run("pool", "apply", path)
    assert result.code == EXIT_OK
    rows = plan_rows(result.out)
    assert rows["10.0.0.5"][0] == "drift" and rows["10.0.0.6"][0] == "drift"
    assert "not in the spec (available); kept: --prune deletes it once available" in result.out
    assert f"not in the spec (attached to {holder})" in result.out
    assert "nothing to change; 2 drift item(s) left as they are" in result.out
    assert len(pool_enis(aws)) == 6
    assert run("pool", "apply", path, "--check").code == EXIT_FAILED

    pruned = run("pool", "apply", path, "--prune")
    assert pruned.code == EXIT_OK, pruned.err
    rows = plan_rows(pruned.out)
    assert rows["10.0.0.5"][0] == "remove"
    assert rows["10.0.0.6"][0] == "drift"
    assert f"attached to {holder}: prune never deletes an attached ENI" in pruned.out
    assert "applied: 0 created, 0 retagged, 1 removed" in pruned.out
    assert sorted(pool_enis(aws)) == ["10.0.0.4", "10.0.0.6", "10.0.1.4", "10.0.1.5", "10.0.1.6"]


def test_prune_rechecks_before_deleting(aws, seed_vpc: Vpc, monkeypatch) -> None:
    """An ENI claimed between the plan and the delete is kept."""
    from fixed_ip_cli.apply import apply_plan
    from fixed_ip_cli.pool import build_plan
    from fixed_ip_cli.render import Progress
    from fixed_ip_cli.spec import parse_spec

    ec2 = aws.client("ec2")
    data = seed_data()
    full = parse_spec(data)
    apply_plan(ec2, build_plan(ec2, full), Progress(enabled=False))
    data["subnets"][0]["addresses"] = data["subnets"][0]["addresses"][:1]
    plan = build_plan(ec2, parse_spec(data), prune=True)
    assert [i.ip for i in plan.changes] == ["10.0.0.5", "10.0.0.6"]
    attach_instance(aws, seed_vpc, pool_enis(aws)["10.0.0.5"]["NetworkInterfaceId"])
    result = apply_plan(ec2, plan, Progress(enabled=False))
    assert result.removed == 1
    (skipped,) = result.skipped
    assert "10.0.0.5" in skipped and "in-use" in skipped


def test_an_extra_eni_with_a_host_name_from_the_spec_is_flagged(
    aws, seed_vpc: Vpc, run: Run, tmp_path: Path
) -> None:
    assert run("pool", "apply", SEED, "-q").code == EXIT_OK
    data = seed_data()
    data["subnets"][0]["addresses"][2] = {"ip": "10.0.0.9", "host_name": "server-a3"}
    result = run("pool", "apply", write(tmp_path, data), "--dry-run")
    assert plan_rows(result.out)["10.0.0.9"][0] == "create"
    assert (
        "its host name server-a3 is also given to 10.0.0.9 in the spec: two instances could get "
        "the same name" in result.out
    )


def test_security_group_drift_is_reported_with_the_fix(
    aws, seed_vpc: Vpc, run: Run, tmp_path: Path
) -> None:
    ec2 = aws.client("ec2")
    group = ec2.create_security_group(GroupName="pool", Description="pool ENIs", VpcId=seed_vpc.id)[
        "GroupId"
    ]
    assert run("pool", "apply", SEED, "-q").code == EXIT_OK
    data = seed_data()
    data["security_groups"] = [group]
    result = run("pool", "apply", write(tmp_path, data), "--check")
    assert result.code == EXIT_FAILED
    assert "plan: 0 to create, 0 to retag, 0 unchanged, 6 drift" in result.out
    assert f"--groups {group})" in result.out
    # New ENIs get the spec's groups.
    data["subnets"][0]["addresses"].append({"ip": "10.0.0.10", "host_name": "server-a4"})
    assert run("pool", "apply", write(tmp_path, data), "-q").code == EXIT_OK
    groups = [g["GroupId"] for g in pool_enis(aws)["10.0.0.10"]["Groups"]]
    assert groups == [group]


# --------------------------------------------------------------------------- refusals


def refused(run: Run, path: str) -> str:
    result = run("pool", "apply", path)
    assert result.code == EXIT_USAGE, result.out + result.err
    assert result.out == ""  # no plan printed
    assert "Traceback" not in result.err
    return result.err


@pytest.mark.parametrize(
    ("ip", "expected"),
    [
        ("10.0.1.7", "10.0.1.7 is outside subnet-"),
        ("10.0.0.0", "10.0.0.0 is reserved by AWS"),
        ("10.0.0.1", "10.0.0.1 is reserved by AWS"),
        ("10.0.0.3", "10.0.0.3 is reserved by AWS"),
        ("10.0.0.255", "10.0.0.255 is reserved by AWS"),
    ],
)
def test_addresses_outside_or_reserved_are_refused(
    aws, seed_vpc: Vpc, run: Run, tmp_path: Path, ip: str, expected: str
) -> None:
    data = seed_data()
    data["subnets"][0]["addresses"][1]["ip"] = ip
    err = refused(run, write(tmp_path, data))
    assert "addresses do not fit their subnets" in err
    assert f"subnets[0].addresses[1].ip: {expected}" in err
    assert "use 10.0.0.4 to 10.0.0.254" in err
    assert pool_enis(aws) == {}  # nothing created, not even the valid addresses


def test_an_address_used_by_a_non_pool_interface_is_refused(
    aws, seed_vpc: Vpc, run: Run, tmp_path: Path
) -> None:
    ec2 = aws.client("ec2")
    other = ec2.create_network_interface(
        SubnetId=seed_vpc.subnets["fixed-ip-example-c"],
        PrivateIpAddress="10.0.1.5",
        Description="database",
    )["NetworkInterface"]["NetworkInterfaceId"]
    err = refused(run, SEED)
    assert (
        f"subnets[1].addresses[1].ip: 10.0.1.5 in {seed_vpc.subnets['fixed-ip-example-c']} "
        f"(fixed-ip-example-c) is already used by {other} (available, 'database'), which is not "
        "a pool web ENI: choose another address, or adopt it: aws ec2 create-tags --resources "
        f"{other} --tags Key=fixed-ip:pool,Value=web Key=HostName,Value=server-c2"
    ) in err
    assert pool_enis(aws) == {}


def test_an_address_held_by_another_pool_is_refused(aws, seed_vpc: Vpc, run: Run, tmp_path) -> None:
    data = seed_data()
    data["pool"] = "db"
    data["subnets"] = data["subnets"][:1]
    data["subnets"][0]["addresses"] = [{"ip": "10.0.0.4", "host_name": "db-1"}]
    assert run("pool", "apply", write(tmp_path, data, "db.yaml"), "-q").code == EXIT_OK
    err = refused(run, SEED)
    assert "10.0.0.4 in subnet-" in err and "(pool db, available" in err
    assert "adopt" not in err  # it belongs to another pool


def test_unknown_and_ambiguous_subnets(aws, seed_vpc: Vpc, run: Run, tmp_path: Path) -> None:
    data = seed_data()
    data["subnets"][0]["subnet"] = "subnet-0000000000000000f"
    data["subnets"][1]["subnet"] = "nowhere"
    err = refused(run, write(tmp_path, data))
    assert "subnets[0].subnet: no subnet subnet-0000000000000000f in VPC fixed-ip-example" in err
    assert "subnets[1].subnet: no subnet whose Name tag is nowhere" in err

    ec2 = aws.client("ec2")
    other_vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    twin = ec2.create_subnet(
        VpcId=other_vpc,
        CidrBlock="10.1.0.0/24",
        AvailabilityZone="ap-northeast-1a",
        TagSpecifications=[
            {"ResourceType": "subnet", "Tags": [{"Key": "Name", "Value": "fixed-ip-example-a"}]}
        ],
    )["Subnet"]["SubnetId"]
    data = seed_data()
    del data["vpc"]
    err = refused(run, write(tmp_path, data))
    assert "subnets[0].subnet: 2 subnets are named fixed-ip-example-a" in err
    assert twin in err and "give the subnet id, or `vpc:` in the spec" in err
    # with vpc: the name is unambiguous again
    assert run("pool", "apply", SEED, "--dry-run").code == EXIT_OK


def test_unknown_vpc(aws, seed_vpc: Vpc, run: Run, tmp_path: Path) -> None:
    data = seed_data()
    data["vpc"] = "elsewhere"
    err = refused(run, write(tmp_path, data))
    assert "vpc: no VPC whose Name tag is elsewhere in region ap-northeast-1" in err


def test_the_same_subnet_twice_by_id_and_name(aws, seed_vpc: Vpc, run: Run, tmp_path) -> None:
    data = seed_data()
    data["subnets"][1]["subnet"] = seed_vpc.subnets["fixed-ip-example-a"]
    err = refused(run, write(tmp_path, data))
    assert "already listed at subnets[0] as fixed-ip-example-a; merge the two entries" in err


def test_an_invalid_spec_fails_before_any_aws_call(run: Run, tmp_path: Path) -> None:
    """No moto here: a bad spec must not need credentials or a region."""
    data = seed_data()
    data["subnets"][0]["addresses"][0]["host_name"] = "a;reboot"
    err = refused(run, write(tmp_path, data))
    assert err.startswith("error: ")
    assert "1 problem in the pool spec (nothing was changed)" in err
    assert "  - subnets[0].addresses[0].host_name: host name 'a;reboot'" in err


def test_aws_errors_are_one_line_with_exit_3(aws, seed_vpc: Vpc, run: Run, monkeypatch) -> None:
    refuse_call(
        monkeypatch,
        "ec2",
        "CreateNetworkInterface",
        "UnauthorizedOperation",
        "You are not authorized",
    )
    result = run("pool", "apply", SEED, "-q")
    assert result.code == EXIT_AWS
    assert "Traceback" not in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert "UnauthorizedOperation" in result.err
    assert "fix: allow CreateNetworkInterface for your credentials" in result.err
    assert "0 of 6 changes were made; fix the cause and run the same command again" in result.err
