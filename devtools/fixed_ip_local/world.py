"""Build a fixed-ip environment on whatever AWS boto3 points to (moto in tests and the
demo): the seed article's VPC, subnets, pool ENIs, a launch template, the stack's SSM
document (read from template.yaml) and an Auto Scaling group with a fixed-ip hook."""

from __future__ import annotations

import contextlib
import ipaddress
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fixed_ip_local.lambda_runner import load_template

POOL_TAG = "fixed-ip:pool"
HOSTNAME_TAG = "HostName"
DOCUMENT_NAME = "fixed-ip-ConfigureDocument"
HOOK_NAME = "fixed-ip-launch"
TERMINATE_HOOK_NAME = "fixed-ip-terminate"


# The seed article's table (DESIGN section 1).
@dataclass
class World:
    region: str
    vpc_id: str
    subnets: dict[str, str]  # az -> subnet id
    group: str
    pool: str
    hook: str = HOOK_NAME
    document: str = DOCUMENT_NAME
    enis: dict[str, str] = field(default_factory=dict)  # eni id -> host name

    def env(self) -> dict[str, str]:
        """The controller's environment for this world (as the template would set it)."""
        return {"FIXED_IP_DOCUMENT": self.document}


def create_document(ssm: Any, name: str = DOCUMENT_NAME) -> str:
    """Create the stack's host-name document from template.yaml's own content, so local
    runs validate parameters against the real `allowedPattern`."""
    content = load_template()["Resources"]["ConfigureDocument"]["Properties"]["Content"]
    with contextlib.suppress(ssm.exceptions.DocumentAlreadyExists):
        ssm.create_document(
            Name=name, Content=json.dumps(content), DocumentType="Command", DocumentFormat="JSON"
        )
    return name


def create_pool_eni(
    ec2: Any, subnet_id: str, ip: str, host_name: str, pool: str, name: str | None = None
) -> str:
    tags = [{"Key": POOL_TAG, "Value": pool}, {"Key": HOSTNAME_TAG, "Value": host_name}]
    if name:
        tags.append({"Key": "Name", "Value": name})
    eni = ec2.create_network_interface(
        SubnetId=subnet_id,
        PrivateIpAddress=ip,
        Description=f"fixed-ip pool {pool}: {host_name}",
        TagSpecifications=[{"ResourceType": "network-interface", "Tags": tags}],
    )
    return eni["NetworkInterface"]["NetworkInterfaceId"]


def build_world(
    session: Any,
    *,
    group: str = "web-asg",
    pool: str | None = None,
    per_az: int | Sequence[int] = 3,
    azs: int = 2,
    subnet_prefix: int = 24,
    min_size: int = 0,
    max_size: int = 6,
    hook: bool = True,
    heartbeat_timeout: int = 900,
    metadata: dict[str, Any] | None = None,
    terminate_hook: bool = False,
) -> World:
    """The seed environment, scaled by `per_az` ENIs in each of `azs` AZs (or a count per
    AZ). The group starts empty (desired 0) so every instance it launches is gated by the
    hook. `subnet_prefix` < 24 gives room for long relaunch runs: moto never gives a
    terminated instance's address back to its subnet."""
    region = session.region_name
    ec2 = session.client("ec2")
    pool = pool or group
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets: dict[str, str] = {}
    world = World(region=region, vpc_id=vpc_id, subnets=subnets, group=group, pool=pool)
    counts = [per_az] * azs if isinstance(per_az, int) else list(per_az)
    plan = _subnet_plan(region, azs, subnet_prefix)
    for (az, cidr, letter), count in zip(plan, counts, strict=True):
        subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=az)
        subnets[az] = subnet["Subnet"]["SubnetId"]
        hosts = list(ipaddress.ip_network(cidr).hosts())[3:]  # AWS reserves .0-.3
        for i in range(count):
            host_name = f"server-{letter}{i + 1}"
            eni_id = create_pool_eni(
                ec2, subnets[az], str(hosts[i]), host_name, pool, name=f"AZ-{letter}_ENI{i + 1}"
            )
            world.enis[eni_id] = host_name
    create_document(session.client("ssm"))
    template_id = ec2.create_launch_template(
        LaunchTemplateName=f"{group}-lt",
        LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "t3.micro"},
    )["LaunchTemplate"]["LaunchTemplateId"]
    autoscaling = session.client("autoscaling")
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=group,
        LaunchTemplate={"LaunchTemplateId": template_id, "Version": "$Latest"},
        MinSize=min_size,
        MaxSize=max_size,
        DesiredCapacity=0,
        VPCZoneIdentifier=",".join(subnets.values()),
    )
    if hook:
        params: dict[str, Any] = {
            "AutoScalingGroupName": group,
            "LifecycleHookName": HOOK_NAME,
            "LifecycleTransition": "autoscaling:EC2_INSTANCE_LAUNCHING",
            "HeartbeatTimeout": heartbeat_timeout,
            "DefaultResult": "ABANDON",
        }
        if metadata is not None:
            params["NotificationMetadata"] = json.dumps(metadata)
        autoscaling.put_lifecycle_hook(**params)
    if terminate_hook:
        autoscaling.put_lifecycle_hook(
            AutoScalingGroupName=group,
            LifecycleHookName=TERMINATE_HOOK_NAME,
            LifecycleTransition="autoscaling:EC2_INSTANCE_TERMINATING",
            HeartbeatTimeout=300,
            DefaultResult="CONTINUE",
        )
    return world


def _subnet_plan(region: str, azs: int, prefix: int = 24) -> list[tuple[str, str, str]]:
    """(AZ, CIDR, letter) of each subnet: the seed's /24s in ap-northeast-1 (a, c, then d),
    else AZs a, b, c...; larger subnets (`prefix` < 24) are laid out one after another."""
    letters = "acd" if region == "ap-northeast-1" else "abcdef"
    if azs > len(letters):
        raise ValueError(f"at most {len(letters)} AZs in {region}")
    step = 2 ** (24 - prefix)
    return [
        (f"{region}{letters[i]}", f"10.0.{step * i}.0/{prefix}", letters[i]) for i in range(azs)
    ]
