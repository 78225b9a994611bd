"""EC2 adapter: instances and pool ENIs."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from fixed_ip.error_codes import definitive, error_code
from fixed_ip.errors import AttachRejected, EniGone, EniInUse, InstanceGone, InstanceNotReady
from fixed_ip.models import Instance, Interface, PoolEni
from fixed_ip.ports import Compute

GROUP_TAG = "aws:autoscaling:groupName"


def _tags(items: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in items or []}


# EC2 writes e.g. "User initiated (2026-11-26 06:00:00 GMT)" when it changes the state
# (a timestamp, not an error message; moto writes UTC for GMT).
_TRANSITION_TIME = re.compile(r"\((\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) (?:GMT|UTC)\)")


def _transition_time(reason: str | None) -> datetime | None:
    match = _TRANSITION_TIME.search(reason or "")
    if not match:
        return None
    return datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


class Ec2Compute(Compute):
    def __init__(self, client: Any, *, hostname_tag_key: str = "HostName") -> None:
        self.client = client
        self.hostname_tag_key = hostname_tag_key
        # A subnet's IPv4 CIDR never changes: one DescribeSubnets per subnet and container.
        self._cidrs: dict[str, str] = {}

    def describe_instance(self, instance_id: str) -> Instance | None:
        try:
            resp = self.client.describe_instances(InstanceIds=[instance_id])
        except ClientError as exc:
            if error_code(exc) in {"InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed"}:
                return None
            raise
        for reservation in resp.get("Reservations", []):
            for raw in reservation.get("Instances", []):
                if raw.get("InstanceId") == instance_id:
                    return self._instance(raw)
        return None

    def describe_instances(self, instance_ids: list[str]) -> list[Instance]:
        found: list[Instance] = []
        # Filtering by instance-id (not InstanceIds=) so ids EC2 has forgotten are simply
        # left out instead of failing the whole call.
        paginator = self.client.get_paginator("describe_instances")
        for start in range(0, len(instance_ids), 200):
            chunk = instance_ids[start : start + 200]
            for page in paginator.paginate(Filters=[{"Name": "instance-id", "Values": chunk}]):
                for reservation in page.get("Reservations", []):
                    found.extend(self._instance(raw) for raw in reservation.get("Instances", []))
        return found

    def _instance(self, raw: dict[str, Any]) -> Instance:
        interfaces = tuple(
            Interface(
                eni_id=ni["NetworkInterfaceId"],
                device_index=int(ni.get("Attachment", {}).get("DeviceIndex", 0)),
            )
            for ni in raw.get("NetworkInterfaces", [])
        )
        tags = _tags(raw.get("Tags"))
        return Instance(
            instance_id=raw["InstanceId"],
            state=raw.get("State", {}).get("Name", "unknown"),
            az=raw.get("Placement", {}).get("AvailabilityZone", ""),
            vpc_id=raw.get("VpcId"),
            group=tags.get(GROUP_TAG),
            interfaces=interfaces,
            launch_time=raw.get("LaunchTime"),
            state_changed_at=_transition_time(raw.get("StateTransitionReason")),
            host_name=tags.get(self.hostname_tag_key),
        )

    def list_pool_enis(self, *, tag_key: str, pool: str, az: str, vpc_id: str) -> list[PoolEni]:
        # Server-side filters keep the read to this pool in this AZ and VPC; pagination
        # covers pools larger than a page. (moto ignores MaxResults; AWS honours it.)
        filters = [
            {"Name": f"tag:{tag_key}", "Values": [pool]},
            {"Name": "availability-zone", "Values": [az]},
        ]
        if vpc_id:
            filters.append({"Name": "vpc-id", "Values": [vpc_id]})
        return self._enis(filters)

    def _eni(self, raw: dict[str, Any]) -> PoolEni:
        tags = _tags(raw.get("TagSet"))
        attachment = raw.get("Attachment") or {}
        instance_id = attachment.get("InstanceId")
        return PoolEni(
            eni_id=raw["NetworkInterfaceId"],
            ip=raw.get("PrivateIpAddress", ""),
            az=raw.get("AvailabilityZone", ""),
            subnet_id=raw.get("SubnetId", ""),
            vpc_id=raw.get("VpcId", ""),
            status=raw.get("Status", "unknown"),
            host_name=tags.get(self.hostname_tag_key),
            mac=raw.get("MacAddress"),
            instance_id=instance_id,
            device_index=attachment.get("DeviceIndex") if instance_id else None,
            attachment_id=attachment.get("AttachmentId") if instance_id else None,
            tags=tags,
            attached_at=attachment.get("AttachTime") if instance_id else None,
        )

    def attach(self, *, eni_id: str, instance_id: str, device_index: int) -> str:
        try:
            resp = self.client.attach_network_interface(
                NetworkInterfaceId=eni_id, InstanceId=instance_id, DeviceIndex=device_index
            )
        except ClientError as exc:
            code = error_code(exc)
            ctx = {"eni_id": eni_id, "instance_id": instance_id, "aws_error": code}
            if code == "InvalidNetworkInterface.InUse":
                raise EniInUse(f"{eni_id} is already attached", **ctx) from exc
            if code == "InvalidNetworkInterfaceID.NotFound":
                raise EniGone(f"{eni_id} no longer exists", **ctx) from exc
            if code == "InvalidInstanceID.NotFound":
                raise InstanceGone(f"{instance_id} no longer exists", **ctx) from exc
            if code == "IncorrectInstanceState":
                # Pending (not yet attachable) or leaving: the caller re-reads the state.
                raise InstanceNotReady(f"{instance_id} cannot take an ENI now", **ctx) from exc
            if code == "InvalidParameterValue":
                raise AttachRejected(f"attach of {eni_id} to {instance_id} refused", **ctx) from exc
            refused = definitive(
                exc, f"attach of {eni_id} to {instance_id} at device index {device_index}"
            )
            if refused is not None:
                # e.g. AttachmentLimitExceeded, UnauthorizedOperation: ABANDON at once.
                raise refused from exc
            raise
        return str(resp.get("AttachmentId", ""))

    def _enis(self, filters: list[dict[str, Any]]) -> list[PoolEni]:
        paginator = self.client.get_paginator("describe_network_interfaces")
        return [
            self._eni(raw)
            for page in paginator.paginate(Filters=filters, PaginationConfig={"PageSize": 1000})
            for raw in page.get("NetworkInterfaces", [])
        ]

    def enis_of_instance(self, instance_id: str, *, tag_key: str) -> list[PoolEni]:
        return self._enis(
            [
                {"Name": "attachment.instance-id", "Values": [instance_id]},
                {"Name": "tag-key", "Values": [tag_key]},
            ]
        )

    def describe_enis(self, eni_ids: list[str]) -> list[PoolEni]:
        if not eni_ids:
            return []
        return self._enis([{"Name": "network-interface-id", "Values": eni_ids}])

    def list_pool(self, *, tag_key: str, pool: str) -> list[PoolEni]:
        return self._enis([{"Name": f"tag:{tag_key}", "Values": [pool]}])

    def subnet_vpcs(self, subnet_ids: list[str]) -> dict[str, str]:
        if not subnet_ids:
            return {}
        # A filter, not SubnetIds=: a deleted subnet is left out instead of failing.
        paginator = self.client.get_paginator("describe_subnets")
        return {
            s["SubnetId"]: s["VpcId"]
            for page in paginator.paginate(Filters=[{"Name": "subnet-id", "Values": subnet_ids}])
            for s in page.get("Subnets", [])
        }

    def detach(self, attachment_id: str) -> bool:
        try:
            self.client.detach_network_interface(AttachmentId=attachment_id)
        except ClientError as exc:
            if error_code(exc) == "InvalidAttachmentID.NotFound":
                return False  # already detached (a duplicate event, or EC2 did it)
            raise
        return True

    def tag_instance(self, instance_id: str, tags: dict[str, str]) -> None:
        self.client.create_tags(
            Resources=[instance_id], Tags=[{"Key": k, "Value": v} for k, v in tags.items()]
        )

    def subnet_cidr(self, subnet_id: str) -> str:
        if subnet_id not in self._cidrs:
            resp = self.client.describe_subnets(SubnetIds=[subnet_id])
            self._cidrs[subnet_id] = str(resp["Subnets"][0]["CidrBlock"])
        return self._cidrs[subnet_id]
