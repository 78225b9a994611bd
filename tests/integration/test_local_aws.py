"""`make local-aws` + `fixed-ip invoke`: the stand-in for `sam local invoke`, run as a
separate process against the simulated AWS served on a loopback port."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import boto3
import pytest

from fixed_ip_local import local_aws
from tests.helpers import EVENTS, ROOT, free_port, run_captured


@pytest.fixture
def served(tmp_path):
    server = local_aws.start(port=free_port(), pending=1, out_dir=tmp_path / "events")
    yield server
    server.stop()


def invoke(server, event_file) -> dict:
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": server.endpoint,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_REGION": "ap-northeast-1",
    }
    argv = [sys.executable, "-m", "fixed_ip_local.cli", "invoke", "LaunchFunction"]
    proc = run_captured([*argv, "-e", str(event_file)], cwd=ROOT, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    lines = [json.loads(x) for x in proc.stdout.splitlines() if x.startswith("{")]
    # stdout carries what CloudWatch would: the JSON log lines, the EMF blob, the result
    assert any(x.get("decision") for x in lines) and any("_aws" in x for x in lines)
    return lines[-1]


@pytest.mark.slow
def test_invoke_claims_an_eni_for_the_pending_instance(served):
    [event_file] = served.event_files
    result = invoke(served, event_file)
    assert result["result"] == "CONTINUE" and result["decision"] == "lifecycle_completed"
    ec2 = boto3.client(
        "ec2",
        endpoint_url=served.endpoint,
        region_name="ap-northeast-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    iid = json.loads(event_file.read_text())["detail"]["EC2InstanceId"]
    enis = ec2.describe_network_interfaces(
        Filters=[
            {"Name": "attachment.instance-id", "Values": [iid]},
            {"Name": "tag-key", "Values": ["fixed-ip:pool"]},
        ]
    )["NetworkInterfaces"]
    assert [e["PrivateIpAddress"] for e in enis] == [result["ip"]]


@pytest.mark.slow
def test_invoke_with_the_repository_sample_event(served):
    # events/launch.json names an instance this AWS does not know: ABANDON, and AWS
    # answers that no such action is active (nothing else changes).
    result = invoke(served, EVENTS / "launch.json")
    assert (result["result"], result["reason"]) == ("ABANDON", "instance_gone")
    assert result["decision"] == "lifecycle_not_active"


def test_invoke_reports_an_unknown_function(tmp_path):
    proc = subprocess.run(  # noqa: S603
        [
            sys.executable,
            "-m",
            "fixed_ip_local.cli",
            "invoke",
            "NoSuchFunction",
            "-e",
            str(EVENTS / "launch.json"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2 and "no function 'NoSuchFunction'" in proc.stderr
    assert "LaunchFunction" in proc.stderr
