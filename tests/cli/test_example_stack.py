"""examples/seed-environment.yaml: the same offline checks as template.yaml (cfn-lint with
no errors, checkov with no failed check unless suppressed with a reason), and the
properties the walkthrough relies on: the article's six ENIs (the same table as
examples/pool-seed.yaml), kept on deletion; the group 2/2/6 gated from its first instance
by hooks that match the controller's defaults."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from samtranslator.yaml_helper import yaml_parse

from fixed_ip_cli.spec import load_spec
from tests.cli.test_spec import SEED_SPEC
from tests.helpers import ROOT, run_captured

STACK = ROOT / "examples" / "seed-environment.yaml"
CONTROLLER = ROOT / "template.yaml"
IAM_CHECKS = {f"CKV_AWS_{n}" for n in (60, 61, 107, 108, 109, 110, 111)}


@pytest.fixture(scope="module")
def stack() -> dict[str, Any]:
    return yaml_parse(STACK.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def controller() -> dict[str, Any]:
    return yaml_parse(CONTROLLER.read_text(encoding="utf-8"))


def of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def tags(resource: dict[str, Any]) -> dict[str, Any]:
    return {t["Key"]: t["Value"] for t in resource["Properties"].get("Tags", [])}


# ------------------------------------------------------------------------- the pool


def test_the_six_enis_are_the_seed_table_and_are_retained(stack: dict[str, Any]) -> None:
    enis = of_type(stack, "AWS::EC2::NetworkInterface")
    subnet_letter = {"SubnetA": "a", "SubnetC": "c"}
    found = {}
    for eni in enis.values():
        assert eni["DeletionPolicy"] == "Retain"
        assert eni["UpdateReplacePolicy"] == "Retain"
        props = eni["Properties"]
        t = tags(eni)
        assert t["fixed-ip:pool"] == {"Ref": "PoolName"}
        assert props["GroupSet"] == [{"Ref": "PoolSecurityGroup"}]
        letter = subnet_letter[props["SubnetId"]["Ref"]]
        found[(f"fixed-ip-example-{letter}", props["PrivateIpAddress"])] = (
            t["HostName"],
            t["Name"],
        )
    spec = load_spec(SEED_SPEC)
    assert found == {(s.ref, str(a.ip)): (a.host_name, a.name) for s, a in spec.addresses}
    assert stack["Parameters"]["PoolName"]["Default"] == spec.pool


def test_subnets_match_the_seed_and_the_pool_spec(stack: dict[str, Any]) -> None:
    res = stack["Resources"]
    assert res["Vpc"]["Properties"]["CidrBlock"] == "10.0.0.0/16"
    assert res["SubnetA"]["Properties"]["CidrBlock"] == "10.0.0.0/24"
    assert res["SubnetC"]["Properties"]["CidrBlock"] == "10.0.1.0/24"
    assert res["SubnetA"]["Properties"]["AvailabilityZone"] == {
        "Fn::Select": [0, {"Fn::GetAZs": ""}]
    }
    assert res["SubnetC"]["Properties"]["AvailabilityZone"] == {
        "Fn::Select": [1, {"Fn::GetAZs": ""}]
    }
    # examples/pool-seed.yaml finds them by these Name tags (EnvironmentName's default)
    env = stack["Parameters"]["EnvironmentName"]["Default"]
    spec = load_spec(SEED_SPEC)
    assert spec.vpc == env
    assert tags(res["Vpc"])["Name"] == {"Ref": "EnvironmentName"}
    assert tags(res["SubnetA"])["Name"] == {"Fn::Sub": "${EnvironmentName}-a"}
    assert tags(res["SubnetC"])["Name"] == {"Fn::Sub": "${EnvironmentName}-c"}
    assert sorted(s.ref for s in spec.subnets) == [f"{env}-a", f"{env}-c"]


# ------------------------------------------------------------------------ the group


def test_group_is_2_2_6_and_waits_for_the_pool(stack: dict[str, Any]) -> None:
    (group,) = of_type(stack, "AWS::AutoScaling::AutoScalingGroup").values()
    props = group["Properties"]
    assert (props["MinSize"], props["DesiredCapacity"], props["MaxSize"]) == ("2", "2", "6")
    assert props["VPCZoneIdentifier"] == [{"Ref": "SubnetA"}, {"Ref": "SubnetC"}]
    enis = set(of_type(stack, "AWS::EC2::NetworkInterface"))
    assert enis <= set(group["DependsOn"])
    # replacements free the address before taking it: no spare in a pool of max size
    assert props["InstanceMaintenancePolicy"]["MaxHealthyPercentage"] == 100


def test_hooks_are_declared_on_the_group_and_match_the_controller(
    stack: dict[str, Any], controller: dict[str, Any]
) -> None:
    (group,) = of_type(stack, "AWS::AutoScaling::AutoScalingGroup").values()
    hooks = {
        h["LifecycleTransition"]: h for h in group["Properties"]["LifecycleHookSpecificationList"]
    }
    launch = hooks["autoscaling:EC2_INSTANCE_LAUNCHING"]
    assert launch["LifecycleHookName"] == {"Fn::Sub": "${HookNamePrefix}-launch"}
    assert launch["DefaultResult"] == "ABANDON"
    assert launch["NotificationMetadata"] == {"Fn::Sub": '{"pool": "${PoolName}"}'}
    json.loads(launch["NotificationMetadata"]["Fn::Sub"].replace("${PoolName}", "web"))
    params = controller["Parameters"]
    assert launch["HeartbeatTimeout"] > params["FunctionTimeoutSeconds"]["Default"]
    assert launch["HeartbeatTimeout"] == params["HookHeartbeatTimeout"]["Default"]
    terminate = hooks["autoscaling:EC2_INSTANCE_TERMINATING"]
    assert terminate["LifecycleHookName"] == {"Fn::Sub": "${HookNamePrefix}-terminate"}
    assert terminate["DefaultResult"] == "CONTINUE"
    # the same prefix as the controller's rules by default
    assert stack["Parameters"]["HookNamePrefix"]["Default"] == params["HookNamePrefix"]["Default"]


def test_instances_amazon_linux_2023_ssm_imdsv2(stack: dict[str, Any]) -> None:
    image = stack["Parameters"]["ImageId"]
    assert image["Type"] == "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>"
    assert image["Default"].startswith("/aws/service/ami-amazon-linux-latest/al2023-ami-")
    (template,) = of_type(stack, "AWS::EC2::LaunchTemplate").values()
    data = template["Properties"]["LaunchTemplateData"]
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert "UserData" not in data  # the controller does the work, not a boot script
    assert all(m["Ebs"]["Encrypted"] for m in data["BlockDeviceMappings"])
    (role,) = of_type(stack, "AWS::IAM::Role").values()
    (policy,) = role["Properties"]["ManagedPolicyArns"]
    assert policy["Fn::Sub"].endswith(":iam::aws:policy/AmazonSSMManagedInstanceCore")
    assert "Policies" not in role["Properties"]  # no EC2 permission on the instances


def test_nothing_admits_inbound_traffic_from_the_internet(stack: dict[str, Any]) -> None:
    for group in of_type(stack, "AWS::EC2::SecurityGroup").values():
        for rule in group["Properties"].get("SecurityGroupIngress", []):
            assert rule.get("CidrIp") == "10.0.0.0/16", rule
        for rule in group["Properties"].get("SecurityGroupEgress", []):
            assert rule["CidrIp"] == "10.0.0.0/16" or rule.get("FromPort") == 443, rule


# ------------------------------------------------------------ cfn-lint and checkov


@pytest.mark.slow
def test_cfn_lint() -> None:
    from cfnlint.api import lint_file

    matches = lint_file(STACK, config={"regions": ["us-east-1", "ap-northeast-1"]})
    for match in matches:
        print(f"cfn-lint {STACK.name}: {match}")
    assert not [m for m in matches if m.rule.id.startswith("E")]


def test_checkov_suppressions_are_justified(stack: dict[str, Any]) -> None:
    for logical_id, resource in stack["Resources"].items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert skip["id"] not in IAM_CHECKS, logical_id
            assert len(skip.get("comment", "").strip()) >= 20, f"{logical_id}: {skip['id']}"


@pytest.mark.slow
def test_checkov(tmp_path: Path) -> None:
    # The same offline run as tests/template: no downloads, no Bridgecrew mapping API.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BC_", "CKV_"))}
    env["BC_SKIP_MAPPING"] = "TRUE"
    argv = [sys.executable, "-m", "checkov.main", "--file", str(STACK)]
    options = ["--framework", "cloudformation", "--output", "json", "--skip-download"]
    proc = run_captured([*argv, *options], cwd=tmp_path, env=env, timeout=300)
    assert proc.returncode in (0, 1), f"checkov crashed ({proc.returncode}):\n{proc.stderr}"
    report = json.loads(proc.stdout)
    (cfn,) = [
        r
        for r in (report if isinstance(report, list) else [report])
        if r.get("check_type") == "cloudformation"
    ]
    results = cfn["results"]
    failed = [(c["check_id"], c["resource"], c["check_name"]) for c in results["failed_checks"]]
    assert not results.get("parsing_errors")
    assert not failed, failed
    # the IAM checks ran on the instance role (and passed)
    passed = {
        c["check_id"] for c in results["passed_checks"] if c["resource"].endswith("InstanceRole")
    }
    assert passed >= IAM_CHECKS
    assert "CKV_AWS_79" in {c["check_id"] for c in results["passed_checks"]}  # IMDSv2
