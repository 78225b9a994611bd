"""What the operator commands print in text mode (JSON is their data as it is)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from fixed_ip_cli.enis import POOL_TAG
from fixed_ip_cli.render import since, table


def format_plan(plan: Any, region: str) -> str:
    spec = plan.spec
    head = f"pool {spec.pool} in {region}: {len(spec.addresses)} addresses in "
    head += f"{len(plan.subnets)} subnet(s) from {spec.source}"
    rows = [
        (i.action, i.az, i.subnet_id, i.ip, i.host_name, i.eni_id, i.detail) for i in plan.items
    ]
    body = table(("ACTION", "AZ", "SUBNET", "IP", "HOST NAME", "ENI", "DETAIL"), rows)
    counts = plan.counts()
    summary = (
        f"plan: {counts['create']} to create, {counts['retag']} to retag, "
        f"{counts['unchanged']} unchanged, {counts['drift']} drift"
        + (f", {counts['remove']} to remove" if plan.prune else "")
    )
    return f"{head}\n{body}\n{summary}"


def apply_outcome(plan: Any, result: Any, *, dry: bool, check: bool) -> str:
    drift = plan.counts()["drift"]
    drift_note = f"; {drift} drift item(s) left as they are (see DETAIL)" if drift else ""
    if dry:
        verdict = "in sync" if plan.in_sync else f"{len(plan.changes)} change(s) pending"
        drifted = f", {drift} drift (see DETAIL)" if drift else ""
        return f"{'check' if check else 'dry run'}: nothing changed; {verdict}{drifted}"
    if result is None:
        return f"nothing to change{drift_note}"
    skipped = f", {len(result.skipped)} skipped" if result.skipped else ""
    lines = [
        f"applied: {result.created} created, {result.retagged} retagged, "
        f"{result.removed} removed{skipped}{drift_note}"
    ]
    lines += [f"  skipped {s}" for s in result.skipped]
    return "\n".join(lines)


def format_status(status: dict[str, Any], region: str | None) -> str:
    if not status["pools"]:
        return (
            f"no ENI of any pool in {region} (ENIs are pool members by their tag {POOL_TAG}; "
            "create them with `fixed-ip pool apply SPEC.yaml`)"
        )
    blocks = []
    head = ("IP", "HOST NAME", "STATE", "INSTANCE", "LIFECYCLE", "GROUP", "SINCE", "ENI")
    for entry in status["pools"]:
        total = sum(az["total"] for az in entry["azs"])
        in_use = sum(az["in_use"] for az in entry["azs"])
        free = sum(az["free"] for az in entry["azs"])
        blocks.append(f"pool {entry['pool']}: {total} ENIs, {in_use} in use, {free} free")
        for az in entry["azs"]:
            invalid = az["invalid_host_name"]
            refused = f", {invalid} refused (invalid host name)" if invalid else ""
            rows = [
                (
                    r["ip"],
                    r["host_name"] if r["host_name_valid"] else f"{r['host_name']!r} INVALID",
                    r["state"],
                    r["instance_id"],
                    r["lifecycle_state"],
                    r["group"],
                    since(r["attached_since"]),
                    r["eni_id"],
                )
                for r in az["enis"]
            ]
            blocks.append(
                f"  {az['az']}: {az['in_use']} in use, {az['free']} free{refused}\n"
                + table(head, rows, indent="    ")
            )
    return "\n".join(blocks)


def format_checks(checks: list[Any], group: str, region: str | None, stack: str | None) -> str:
    width = max(len(c.id) for c in checks)
    pad = " " * (6 + width + 2)
    lines = [
        f"doctor: group {group} in {region}" + (f", controller stack {stack}" if stack else "")
    ]
    for c in checks:
        lines.append(f"{c.status.upper():<4}  {c.id:<{width}}  {c.message}")
        lines += [f"{pad}- {d}" for d in c.details]
        if c.fix and c.status != "pass":
            lines.append(f"{pad}fix: {c.fix}")
    counts = Counter(c.status for c in checks)
    lines.append(
        f"{len(checks)} checks: {counts['pass']} pass, {counts['warn']} warn, "
        f"{counts['fail']} fail, {counts['skip']} skip"
    )
    return "\n".join(lines)
