"""`make demo`: the seed article's scenario through the real controller, on the local
simulated AWS. Exit status 1 when any invariant of docs/design.md section 4 breaks at any step."""

from __future__ import annotations

import functools
import io
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import boto3
from moto import mock_aws

from fixed_ip.capacity import refresh_headroom
from fixed_ip.models import ManagedGroup, PoolEni
from fixed_ip_local import moto_patches
from fixed_ip_local.invariants import pool_enis
from fixed_ip_local.simulation import Simulation, StepReport
from fixed_ip_local.world import build_world

REGION = "ap-northeast-1"


class StdoutRouter(io.TextIOBase):
    """The function prints EMF metric blobs and JSON log lines to stdout, as on Lambda.
    Here they are split off: metrics to a list, log lines to a file (the demo's
    "CloudWatch Logs"), everything else to the terminal."""

    def __init__(self, real: TextIO, emf: list[dict[str, Any]], log_file: TextIO) -> None:
        self.real, self.emf, self.log_file = real, emf, log_file
        self._buffer = ""
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._lock:
            self._buffer += text
            while "\n" in self._buffer:
                line, self._buffer = self._buffer.split("\n", 1)
                self._route(line + "\n")
        return len(text)

    def _route(self, line: str) -> None:
        if line.startswith("{") and '"_aws"' in line:
            self.emf.append(json.loads(line))
            self.log_file.write(line)
        elif line.startswith('{"level"'):
            self.log_file.write(line)
        else:
            self.real.write(line)

    def flush(self) -> None:
        self.real.flush()
        self.log_file.flush()


def table(report: StepReport) -> str:
    head = ("INSTANCE", "AZ", "LIFECYCLE", "FIXED IP", "HOST NAME (OS)", "ENI")
    rows = [(r.instance_id, r.az, r.state, r.ip, r.host_name, r.eni_id) for r in report.rows]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=False)]
    lines = [
        "  ".join(str(x).ljust(w) for x, w in zip(line, widths, strict=True)).rstrip()
        for line in [head, *rows]
    ]
    return "\n".join(lines)


def summary(report: StepReport) -> str:
    abandoned = len(report.abandoned)
    reasons = sorted({reason for _, reason in report.abandoned})
    parts = []
    if report.launches:
        parts += [
            f"{report.launches} launches: {report.continued} CONTINUE, {abandoned} ABANDON"
            + (f" ({', '.join(reasons)})" if reasons else ""),
            f"attach attempts {report.attach_attempts}, conflicts {report.conflicts}",
        ]
    if report.releases:
        parts.append(f"{report.releases} terminations: {report.releases} ENIs released")
    if report.waiting:
        parts.append(
            f"{len(report.waiting)} waiting in Pending:Wait for an address (policy WAIT, "
            "no relaunch)"
        )
    if report.relaunches:
        parts.append(f"{report.relaunches} relaunch(es) of abandoned launches")
    if report.gave_up:
        parts.append(f"{report.gave_up} instance(s) still missing at the end of the period")
    shown = ("Claims", "ClaimConflicts", "Continues", "Abandons", "PoolExhausted", "Releases")
    metrics = " ".join(f"{k}={report.metrics[k]:g}" for k in shown if k in report.metrics)
    if "SsmWaitSeconds" in report.metrics and report.continued:
        metrics += f" SsmWait(avg)={report.metrics['SsmWaitSeconds'] / report.continued:.2f}s"
    parts.append(f"metrics: {metrics or 'none'}")
    status = "invariants OK" if not report.violations else "INVARIANTS BROKEN"
    return f"controller: {'; '.join(parts)}\n{status} ({report.seconds:.1f}s)"


def expectation_problems(report: StepReport, desired: int, capacity: int) -> list[str]:
    """What the scenario expects beyond the invariants: while the pool can hold the group,
    every launch gets a fixed IP at the first try; beyond it, the extra launches wait in
    Pending:Wait for an address (policy WAIT): nothing is abandoned or relaunched."""
    problems = []
    if report.abandoned or report.gave_up or report.relaunches:
        problems.append(
            f"UNEXPECTED: {len(report.abandoned)} launch(es) abandoned, "
            f"{report.relaunches} relaunched (policy WAIT)"
        )
    if len(report.waiting) != max(0, desired - capacity):
        problems.append(
            f"UNEXPECTED: {len(report.waiting)} instance(s) waiting for an address, expected "
            f"{max(0, desired - capacity)}"
        )
    in_service = sum(1 for r in report.rows if r.state == "InService")
    if in_service != min(desired, capacity):
        problems.append(
            f"UNEXPECTED: {in_service} instances InService, expected {min(desired, capacity)}"
        )
    return problems


def release_step(sim: Simulation, n: int, out: TextIO) -> int:
    """A scale-in in the waiting instance's AZ: the release hands it the address at once."""
    title = "scale in by one in that AZ: the release hands its address to the waiting one"
    waiting = sim.waiting_ids()
    rows = sim.rows()
    waiter = next((r for r in rows if r.instance_id in waiting), None)
    victim = next(
        (r for r in rows if waiter and r.az == waiter.az and r.state == "InService"), None
    )
    if waiter is None or victim is None:
        print(f"== step {n}: {title} ==\n  UNEXPECTED: no instance waits for an address\n")
        return 1
    report = sim.terminate(victim.instance_id, decrement=True, title=title)
    print(f"== step {n}: {title} ==")
    print(
        f"terminate {victim.instance_id} ({victim.ip} {victim.host_name}); "
        f"{waiter.instance_id} waits in {waiter.az}"
    )
    print(table(report))
    problems = [f"VIOLATION: {v}" for v in report.violations]
    served = [(iid, ip, ms) for iid, ip, ms in report.served if iid == waiter.instance_id]
    if served:
        iid, _ip, ms = served[0]
        print(
            f"release path: {victim.ip} released and handed to {iid}, CONTINUE {ms:.0f} ms "
            "after the release (no sweeper pass)"
        )
    if not served or served[0][1] != victim.ip:
        problems.append("UNEXPECTED: the waiting instance did not get the released address")
    if report.waiting or report.relaunches or report.abandoned:
        problems.append("UNEXPECTED: still waiting, relaunched or abandoned after the release")
    print("invariants OK" if not problems else "")
    for problem in problems:
        print(f"  {problem}")
    print()
    del out
    return len(problems)


def refresh_step(sim: Simulation, n: int, out: TextIO) -> int:
    """An instance refresh of the whole group, terminate-first: every address kept. The
    launch-first order is checked first, as `fixed-ip doctor` does before a refresh."""
    title = "instance refresh of the whole group (terminate-first, MinHealthy 90%, MaxHealthy 100%)"
    print(f"== step {n}: {title} ==")
    ec2 = sim.session.client("ec2")
    raw = sim.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[sim.world.group])
    group = raw["AutoScalingGroups"][0]
    managed = ManagedGroup(
        group["AutoScalingGroupName"],
        int(group["MaxSize"]),
        tuple(group["AvailabilityZones"]),
        (),
        (),
    )
    enis = [
        PoolEni(
            e["NetworkInterfaceId"],
            e["PrivateIpAddress"],
            e["AvailabilityZone"],
            e["SubnetId"],
            e["VpcId"],
            e["Status"],
            None,
        )
        for e in pool_enis(ec2, sim.world.pool)
    ]
    for check in refresh_headroom(managed, sim.world.pool, enis, 150):
        print(f"  doctor, launch-first at 150%: {check.advice()}")
    result = sim.refresh(min_healthy=90, max_healthy=100, title=title)
    report = result.step
    print(table(report))
    print(
        f"refresh: {result.replaced} of {result.total} instances replaced, "
        f"{len(report.abandoned)} abandoned, {report.relaunches} relaunched, "
        f"{len(report.served)} replacement(s) served by a release; addresses kept: "
        f"{'yes' if result.addresses_kept else 'NO'} ({report.seconds:.1f}s)"
    )
    problems = [f"VIOLATION: {v}" for v in report.violations]
    if result.stalled or result.replaced != result.total or not result.addresses_kept:
        problems.append(f"UNEXPECTED: refresh incomplete or addresses lost ({result.stalled})")
    if report.abandoned or report.relaunches:
        problems.append("UNEXPECTED: abandons or relaunches during the refresh")
    print("invariants OK" if not problems else "")
    for problem in problems:
        print(f"  {problem}")
    print()
    del out
    return len(problems)


def sweeper_step(sim: Simulation, n: int, out: TextIO) -> int:
    """A lost launch event and a leaked ENI, then one sweeper pass repairs both."""
    title = "a lost launch event and a leaked ENI, one sweeper pass"
    rows = {r.instance_id for r in sim.rows()}
    desired = len(rows) + 1
    sim.drop_next_events(1)
    sim.scale(desired, title=title)
    [lost] = [r for r in sim.rows() if r.instance_id not in rows]
    leak_az = next(az for az in sorted(sim.world.subnets) if az != lost.az)
    stranded, eni = sim.strand_eni(leak_az)
    print(f"== step {n}: {title} ==")
    print(
        f"EventBridge lost the launch event of {lost.instance_id} ({lost.az}): it waits in "
        f"{lost.state} without an address"
    )
    print(f"{eni} ({leak_az}) is still attached to {stranded}, shut down an hour ago")
    mark = len(sim.logs.records)
    result = sim.sweep()
    found = {r["decision"]: r for r in sim.logs.records[mark:]}
    report = sim.scale(desired, title=title)
    print(table(report))
    finished = found.get("lost_launch_finished", {})
    released = found.get("leaked_eni_released", {})
    print(
        f"sweeper: finished {result['lost_launches_finished']} lost launch "
        f"({finished.get('instance_id')} -> {finished.get('ip')} {finished.get('host_name')}, "
        f"{finished.get('result')}); released {result['leaked_enis_released']} leaked ENI "
        f"({released.get('eni_id')} {released.get('ip')})"
    )
    for cap in (r for r in sim.logs.records[mark:] if r.get("decision") == "pool_capacity"):
        print(
            f"  pool {cap['pool']} {cap['az']}: {cap['free']} free, {cap['in_use']} in use, "
            f"the group may need {cap['need']} (max size + 10% headroom): shortfall "
            f"{cap['shortfall']}"
        )
    problems = [f"VIOLATION: {v}" for v in report.violations]
    if result["lost_launches_finished"] != 1 or result["leaked_enis_released"] != 1:
        problems.append("UNEXPECTED: the sweeper did not repair both")
    if any(r.state != "InService" for r in report.rows):
        problems.append("UNEXPECTED: an instance is not InService after the sweep")
    print("invariants OK" if not problems else "")
    for problem in problems:
        print(f"  {problem}")
    print()
    del out
    return len(problems)


def steps(capacity: int) -> list[tuple[str, int, int]]:
    """(title, desired, max size): the seed's scenario for a pool of `capacity` ENIs."""
    return [
        ("start with desired 2", 2, capacity),
        ("scale out to 3 (the article's own check)", 3, capacity),
        (f"burst to {capacity} at once", capacity, capacity),
        (
            f"ask for {capacity + 1}: one more than the pool holds, the extra launch waits",
            capacity + 1,
            capacity + 1,
        ),
    ]


def later_steps(capacity: int) -> list[tuple[str, int, int]]:
    """After the release and refresh steps."""
    return [
        ("scale in to 2", 2, capacity),
        ("scale out to 4 again: addresses come back", 4, capacity),
    ]


def scale_step(
    sim: Simulation, n: int, title: str, desired: int, max_size: int, capacity: int
) -> int:
    report = sim.scale(desired, max_size=max_size, title=title)
    print(f"== step {n}: {title} ==")
    print(table(report))
    print(summary(report))
    problems = [f"VIOLATION: {v}" for v in report.violations]
    problems += expectation_problems(report, desired, capacity)
    for problem in problems:
        print(f"  {problem}")
    print()
    return len(problems)


def _story(sim: Simulation, capacity: int, out: TextIO) -> int:
    """The steps in order; the first one that breaks an invariant (or does not go as
    expected) ends the demo: what follows would build on a broken state."""

    def restore_max() -> int:
        sim.autoscaling.update_auto_scaling_group(
            AutoScalingGroupName=sim.world.group, MaxSize=capacity
        )
        return 0

    plan: list[Callable[[int], int]] = [
        *(
            functools.partial(_scale, sim, title, desired, max_size, capacity)
            for title, desired, max_size in steps(capacity)
        ),
        lambda n: release_step(sim, n, out) or restore_max(),
        lambda n: refresh_step(sim, n, out),
        *(
            functools.partial(_scale, sim, title, desired, max_size, capacity)
            for title, desired, max_size in later_steps(capacity)
        ),
        lambda n: sweeper_step(sim, n, out),
    ]
    for n, step in enumerate(plan, start=1):
        broken = step(n)
        if broken:
            out.write(f"stopping after step {n}: it did not go as the controller promises\n")
            return broken
    return 0


def _scale(sim: Simulation, title: str, desired: int, max_size: int, capacity: int, n: int) -> int:
    return scale_step(sim, n, title, desired, max_size, capacity)


def run(
    *,
    per_az: int = 3,
    azs: int = 2,
    out: TextIO | None = None,
    log_path: Path | None = None,
) -> int:
    out = out or sys.stdout
    log_path = log_path or Path(".demo/controller.log")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    os.environ["AWS_DEFAULT_REGION"] = os.environ["AWS_REGION"] = REGION
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        os.environ.pop(key, None)
    emf: list[dict[str, Any]] = []
    started = time.monotonic()
    broken = 0
    real_stdout = sys.stdout
    with open(log_path, "w") as log_file, mock_aws():
        sys.stdout = StdoutRouter(out, emf, log_file)
        try:
            moto_patches.apply()
            session = boto3.Session(region_name=REGION)
            # Group and pool `web`, as in examples/ and `make local-aws`.
            world = build_world(
                session,
                group="web",
                per_az=per_az,
                azs=azs,
                max_size=per_az * azs,
                terminate_hook=True,
            )
            print(
                f"fixed-ip demo on a local AWS (moto + fidelity patches), region {REGION}\n"
                f"pool {world.pool!r}: {len(world.enis)} ENIs in {azs} AZs; group "
                f"{world.group!r} max {per_az * azs} with hooks {world.hook!r} "
                "(DefaultResult ABANDON) and 'fixed-ip-terminate'\n"
            )
            sim = Simulation(session, world, emf_sink=emf)
            try:
                broken = _story(sim, per_az * azs, out)
            finally:
                sim.close()
        finally:
            sys.stdout = real_stdout
    total = time.monotonic() - started
    verdict = (
        "all invariants and expectations held"
        if not broken
        else f"{broken} invariant violation(s) or unexpected result(s)"
    )
    out.write(
        f"demo finished in {total:.1f}s: {verdict}. Controller logs and EMF metrics, one JSON "
        f"line each as in CloudWatch Logs: {log_path}\n"
    )
    return 0 if not broken else 1
