"""Carrying out a pool plan: create, retag, remove, with progress; stops at the first
AWS error, and running the same command again resumes (apply is idempotent)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from fixed_ip_cli.awsutil import aws_errors, error_code
from fixed_ip_cli.enis import CliEc2
from fixed_ip_cli.errors import AwsError
from fixed_ip_cli.pool import CHANGES, Plan, PlanItem
from fixed_ip_cli.render import Progress
from fixed_ip_cli.spec import PoolSpec


@dataclass
class ApplyResult:
    created: int = 0
    retagged: int = 0
    removed: int = 0
    skipped: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def apply_plan(ec2: Any, plan: Plan, progress: Progress) -> ApplyResult:
    """Carry out the plan's changes in order: create, retag, remove. Stops at the first AWS
    error; what was done stays done, and running apply again resumes (it is idempotent)."""
    result = ApplyResult()
    todo = sorted(plan.changes, key=lambda i: CHANGES.index(i.action))
    with progress.steps(len(todo), f"pool {plan.spec.pool}") as advance:
        for n, item in enumerate(todo, 1):
            step = f"[{n}/{len(todo)}] {item.action} {item.ip} {item.host_name or ''}".rstrip()
            try:
                advance(f"{step}: {_apply_item(ec2, plan, item, result)}")
            except AwsError as exc:
                raise AwsError(
                    f"{exc.message}. {n - 1} of {len(todo)} changes were made; fix the cause "
                    "and run the same command again (apply is idempotent)"
                ) from exc
    return result


def _apply_item(ec2: Any, plan: Plan, item: PlanItem, result: ApplyResult) -> str:
    """Carry out one change; what was done, for the progress line."""
    if item.action == "create":
        item.eni_id = _create(ec2, plan.spec, item)
        result.created += 1
        return f"created {item.eni_id} in {item.subnet_id}"
    if item.action == "retag":
        _retag(ec2, item)
        result.retagged += 1
        return f"tagged {item.eni_id}"
    skipped = _remove(ec2, item)
    if skipped:
        result.skipped.append(f"{item.eni_id} ({item.ip}): {skipped}")
        return f"skipped {item.eni_id}: {skipped}"
    result.removed += 1
    return f"deleted {item.eni_id}"


def _create(ec2: Any, spec: PoolSpec, item: PlanItem) -> str:
    params: dict[str, Any] = {
        "SubnetId": item.subnet_id,
        "PrivateIpAddress": item.ip,
        "Description": f"fixed-ip pool {spec.pool}: {item.host_name}",
        "TagSpecifications": [
            {
                "ResourceType": "network-interface",
                "Tags": [{"Key": k, "Value": v} for k, v in item.tags.items()],
            }
        ],
    }
    if spec.security_groups:
        params["Groups"] = list(spec.security_groups)
    with aws_errors(f"creating the ENI for {item.ip} ({item.host_name}) in {item.subnet_id}"):
        eni = ec2.create_network_interface(**params)
    return str(eni["NetworkInterface"]["NetworkInterfaceId"])


def _retag(ec2: Any, item: PlanItem) -> None:
    with aws_errors(f"tagging {item.eni_id} ({item.ip})"):
        ec2.create_tags(
            Resources=[item.eni_id], Tags=[{"Key": k, "Value": v} for k, v in item.tags.items()]
        )


def _remove(ec2: Any, item: PlanItem) -> str | None:
    """Delete an ENI that is still available; return why it was skipped otherwise."""
    with aws_errors(f"deleting {item.eni_id} ({item.ip})"):
        try:
            # Re-read just before deleting: the controller may have claimed it since the plan.
            current = CliEc2(ec2).describe_enis([item.eni_id])
            if not current:
                return "already deleted"
            eni = current[0]
            if not eni.free:
                return f"now {eni.status}, attached to {eni.instance_id}: kept"
            ec2.delete_network_interface(NetworkInterfaceId=item.eni_id)
        except ClientError as exc:
            code = error_code(exc)
            if code == "InvalidNetworkInterfaceID.NotFound":
                return "already deleted"
            if code == "InvalidNetworkInterface.InUse":
                return "attached meanwhile: kept"
            raise
    return None
