"""`make demo`: the seed article's scenario through the real controller, on the local
simulated AWS, told for someone who has never seen the project: every step says what was
asked and what happened, and is checked (docs/design.md section 4's invariants, and what
the step promises). Exit status 1 when a step breaks either; the demo stops there, since
what follows would build on a broken state."""

from __future__ import annotations

import io
import json
import logging
import os
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import boto3
from moto import mock_aws

from fixed_ip.capacity import refresh_headroom
from fixed_ip.models import ManagedGroup, PoolEni
from fixed_ip_local import moto_patches
from fixed_ip_local.invariants import pool_enis
from fixed_ip_local.lambda_runner import detach_logs, load_template
from fixed_ip_local.moto_patches.instance_os import DISTRIBUTIONS
from fixed_ip_local.simulation import Row, Simulation, StepReport
from fixed_ip_local.world import HOSTNAME_TAG, build_world

REGION = "ap-northeast-1"
WIDTH = 100  # the demo's lines are wrapped to this
# The launch-first refresh `fixed-ip doctor` warns about before the terminate-first one runs.
LAUNCH_FIRST_PERCENT = 150
# The distribution of the instance whose OS cannot configure its address (step "OS").
UNMANAGED_OS = "unknown"


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


def route_function_logs(sim: Simulation, router: StdoutRouter, after: TextIO) -> Callable[[], None]:
    """Point the functions' log handler at this run's router; the returned callable points
    it at `after`. Powertools binds its handler to the sys.stdout of the moment the
    function is first imported: in a process that runs the demo twice (the tests do), the
    second run's log lines went to the first run's file, closed by then."""
    logger = logging.getLogger(sim.runner.module.logger.name)
    handlers = [h for h in logger.handlers if type(h) is logging.StreamHandler]
    before = [h.stream for h in handlers]
    for handler in handlers:
        handler.setStream(router)

    def restore() -> None:
        for handler, stream in zip(handlers, before, strict=True):
            # A router (this run's or an earlier one's) is no place to write afterwards.
            handler.setStream(after if isinstance(stream, StdoutRouter) else stream)

    return restore


# --- Printing --------------------------------------------------------------------------


def say(text: str, indent: str = "") -> None:
    """One sentence of the story, wrapped; continuation lines indented two more."""
    print(
        textwrap.fill(
            text,
            WIDTH,
            initial_indent=indent,
            subsequent_indent=indent + "  ",
            break_on_hyphens=False,
            break_long_words=False,
        )
    )


def os_cell(row: Row) -> str:
    # An instance the controller has not configured yet (waiting) shows nothing, like its
    # address and host name.
    return "-" if row.os == "not configured by fixed-ip" else row.os


def table(report: StepReport) -> str:
    """Who holds which address. OS: what the instance's own check reported."""
    head = ("INSTANCE", "AZ", "LIFECYCLE", "FIXED IP", "HOST NAME", "OS")
    rows = [(r.instance_id, r.az, r.state, r.ip, r.host_name, os_cell(r)) for r in report.rows]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=False)]
    lines = [
        "  ".join(str(x).ljust(w) for x, w in zip(line, widths, strict=True)).rstrip()
        for line in [head, *rows]
    ]
    return "\n".join(lines)


def counted(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def template_default(parameter: str) -> str:
    """A parameter's default in template.yaml: the demo runs with the defaults."""
    return str(load_template()["Parameters"][parameter]["Default"])


def controller_line(report: StepReport) -> str:
    """The controller's decisions and the CloudWatch metrics it published in the step."""
    parts = []
    if report.launches:
        reasons = sorted({reason for _, reason in report.abandoned})
        parts.append(
            f"{report.continued} CONTINUE, {len(report.abandoned)} ABANDON"
            + (f" ({', '.join(reasons)})" if reasons else "")
            + f"; {counted(report.attach_attempts, 'attach', 'attaches')}, "
            f"{counted(report.conflicts, 'lost race')}"
        )
    if report.waiting:
        parts.append(f"{len(report.waiting)} left waiting (no answer yet, heartbeats sent)")
    if report.releases:
        parts.append(f"{counted(report.releases, 'ENI')} released")
    shown = ("Claims", "ClaimConflicts", "Continues", "Abandons", "PoolExhausted", "Releases")
    metrics = " ".join(f"{k}={report.metrics[k]:g}" for k in shown if k in report.metrics)
    parts.append(f"CloudWatch metrics {metrics or 'none'}")
    return f"controller: {'; '.join(parts)}"


def verdict(report: StepReport, problems: list[str]) -> int:
    """The step's last lines: the invariants, then anything not as the step promised."""
    problems = [f"VIOLATION: {v}" for v in report.violations] + problems
    status = "INVARIANTS BROKEN" if report.violations else "invariants OK"
    print(f"{status} ({report.seconds:.1f}s)")
    for problem in problems:
        print(f"  {problem}")
    print()
    return len(problems)


def in_service(report: StepReport) -> list[Row]:
    return [r for r in report.rows if r.state == "InService"]


def os_problems(report: StepReport) -> list[str]:
    """Every InService instance's own check says its fixed address answers."""
    return [
        f"UNEXPECTED: {r.instance_id} is InService but its OS reports {r.os!r}"
        for r in in_service(report)
        if not r.os.endswith("rule ok")
    ]


# --- The story --------------------------------------------------------------------------


@dataclass
class Demo:
    sim: Simulation
    capacity: int  # the pool's addresses, and the group's max size

    @property
    def group(self) -> str:
        return self.sim.world.group

    def released_ips(self, mark: int) -> list[str]:
        return sorted(
            r.get("ip", "?")
            for r in self.sim.logs.records[mark:]
            if r.get("decision") == "eni_detached" and r.get("function_name") == "TerminateFunction"
        )

    def scale_out(self, n: int, title: str, desired: int, asked: list[str]) -> int:
        """A scale-out the pool can hold: every new instance InService with its address."""
        report = self.sim.scale(desired, title=title)
        print(f"== step {n}: {title} ==")
        for line in asked:
            say(line)
        print(table(report))
        if report.continued == 1:
            say(
                "result: the new instance got a free address of its AZ, configured in its "
                "OS, and went InService."
            )
        else:
            say(
                f"result: {report.continued} new instances, each with a free address of its AZ "
                "configured in its OS, went InService."
            )
        say(controller_line(report))
        problems = os_problems(report)
        if report.abandoned or report.relaunches or report.gave_up or report.waiting:
            problems.append(
                f"UNEXPECTED: {len(report.abandoned)} abandoned, {report.relaunches} "
                f"relaunched, {len(report.waiting)} waiting: the pool holds {desired}"
            )
        if len(in_service(report)) != desired:
            problems.append(f"UNEXPECTED: {len(in_service(report))} InService, not {desired}")
        return verdict(report, problems)

    def beyond_the_pool(self, n: int) -> int:
        """One instance more than the pool holds: it waits for an address (policy WAIT)."""
        desired = self.capacity + 1
        title = f"ask for {desired} instances: one more than the pool's {self.capacity} addresses"
        report = self.sim.scale(desired, max_size=desired, title=title)
        print(f"== step {n}: {title} ==")
        bound = int(template_default("WaitForAddressSeconds"))
        say(
            f"Raise max size and desired capacity to {desired}. The new instance finds no free "
            f"address in its AZ. The policy is WAIT (OnPoolExhausted's default): it stays in "
            f"Pending:Wait for the next address released there (up to {bound // 60} minutes), "
            "rather than go InService without one or be abandoned and relaunched in a loop."
        )
        print(table(report))
        waiting = [r for r in report.rows if r.instance_id in report.waiting]
        where = ", ".join(f"{r.instance_id} in {r.az}" for r in waiting) or "none"
        say(
            f"result: {len(in_service(report))} InService with their addresses; waiting for "
            f"an address: {where}. PoolExhausted=1 sets off the stack's pool-exhausted alarm."
        )
        say(controller_line(report))
        problems = os_problems(report)
        if report.abandoned or report.relaunches:
            problems.append(
                f"UNEXPECTED: {len(report.abandoned)} launch(es) abandoned, "
                f"{report.relaunches} relaunched (policy WAIT)"
            )
        if len(waiting) != 1:
            problems.append(f"UNEXPECTED: {len(waiting)} instance(s) waiting, expected 1")
        if len(in_service(report)) != self.capacity:
            problems.append(
                f"UNEXPECTED: {len(in_service(report))} InService, expected {self.capacity}"
            )
        return verdict(report, problems)

    def release_to_waiter(self, n: int) -> int:
        """A scale-in in the waiting instance's AZ: the release hands it the address at once."""
        waiting = self.sim.waiting_ids()
        rows = self.sim.rows()
        waiter = next((r for r in rows if r.instance_id in waiting), None)
        victim = next(
            (r for r in rows if waiter and r.az == waiter.az and r.state == "InService"), None
        )
        if waiter is None or victim is None:
            title = "scale in by one where an instance waits"
            print(f"== step {n}: {title} ==\n  UNEXPECTED: no instance waits for an address\n")
            return 1
        title = f"scale in by one in {victim.az}: its address goes to the waiting instance"
        report = self.sim.terminate(victim.instance_id, decrement=True, title=title)
        print(f"== step {n}: {title} ==")
        say(
            f"Terminate {victim.instance_id} ({victim.ip} {victim.host_name}) and lower "
            f"desired capacity to {self.capacity}; {waiter.instance_id} still waits in "
            f"{waiter.az}."
        )
        print(table(report))
        problems = os_problems(report)
        served = [s for s in report.served if s[0] == waiter.instance_id]
        if served:
            iid, ip, ms = served[0]
            say(
                f"result: the terminate hook released {victim.ip} and handed it straight "
                f"to {iid}: CONTINUE {ms:.0f} ms after the release, InService with {ip}; "
                "no sweeper pass needed."
            )
        if not served or served[0][1] != victim.ip:
            problems.append("UNEXPECTED: the waiting instance did not get the released address")
        if report.waiting or report.relaunches or report.abandoned:
            problems.append("UNEXPECTED: still waiting, relaunched or abandoned after the release")
        say(controller_line(report))
        # The extra instance is served: the group goes back to the pool's size.
        self.sim.autoscaling.update_auto_scaling_group(
            AutoScalingGroupName=self.group, MaxSize=self.capacity
        )
        print(f"(max size back to {self.capacity})")
        return verdict(report, problems)

    def refresh(self, n: int) -> int:
        """An instance refresh of the whole group, terminate-first: every address kept. The
        launch-first order is checked first, as `fixed-ip doctor` does before a refresh."""
        title = "replace every instance: an instance refresh, terminate-first"
        print(f"== step {n}: {title} ==")
        say(
            "As for a new AMI, with MinHealthyPercentage 90 and MaxHealthyPercentage 100: "
            "Auto Scaling terminates one instance at a time and launches its replacement, "
            "which must get the address the old one held."
        )
        for line in self.doctor_lines():
            say(line)
        say(
            "Terminate-first, as here, needs no spare address: each replacement reuses the "
            "one its predecessor released."
        )
        result = self.sim.refresh(min_healthy=90, max_healthy=100, title=title)
        report = result.step
        print(table(report))
        say(
            f"result: {result.replaced} of {result.total} instances replaced, "
            f"{len(report.served)} replacement(s) served by their predecessor's release, "
            f"{len(report.abandoned)} abandoned, {report.relaunches} relaunched; addresses "
            f"kept: {'yes' if result.addresses_kept else 'NO'}."
        )
        problems = os_problems(report)
        if result.stalled or result.replaced != result.total or not result.addresses_kept:
            problems.append(f"UNEXPECTED: refresh incomplete or addresses lost ({result.stalled})")
        if report.abandoned or report.relaunches:
            problems.append("UNEXPECTED: abandons or relaunches during the refresh")
        return verdict(report, problems)

    def doctor_lines(self) -> list[str]:
        """What `fixed-ip doctor` says of a launch-first refresh of this group and pool."""
        ec2 = self.sim.session.client("ec2")
        raw = self.sim.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[self.group])
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
            for e in pool_enis(ec2, self.sim.world.pool)
        ]
        checks = refresh_headroom(managed, self.sim.world.pool, enis, LAUNCH_FIRST_PERCENT)
        # One line per distinct figure: a pool spread evenly says it once for every AZ.
        alike: dict[tuple[int, int, int], list[str]] = {}
        for c in checks:
            if not c.ok:
                alike.setdefault((c.need, c.addresses, c.missing), []).append(c.az)
        if not alike:
            return [
                f"fixed-ip doctor: the pool could carry a launch-first refresh too "
                f"(MaxHealthyPercentage {LAUNCH_FIRST_PERCENT})."
            ]
        return [
            f"fixed-ip doctor warns about the other order: a launch-first refresh "
            f"(MaxHealthyPercentage {LAUNCH_FIRST_PERCENT}) starts new instances before the "
            f"old ones leave and may run {need} in {' and in '.join(azs)}, which "
            f"{'has' if len(azs) == 1 else 'each have'} {addresses} addresses: "
            f"{missing} short."
            for (need, addresses, missing), azs in alike.items()
        ]

    def scale_in(self, n: int, desired: int) -> int:
        title = f"scale in to {desired}"
        mark = len(self.sim.logs.records)
        report = self.sim.scale(desired, title=title)
        print(f"== step {n}: {title} ==")
        say(
            f"Desired capacity {desired}. The terminate hook holds each leaving instance in "
            "Terminating:Wait until the controller has taken its ENI back."
        )
        print(table(report))
        released = self.released_ips(mark)
        say(
            f"result: {counted(report.releases, 'instance')} terminated; their addresses are "
            f"free again for the next launches: {', '.join(released) or 'none'}."
        )
        say(controller_line(report))
        problems = os_problems(report)
        if len(report.rows) != desired or report.releases != len(released):
            problems.append(f"UNEXPECTED: {len(report.rows)} instances left, not {desired}")
        return verdict(report, problems)

    def os_fails(self, n: int, desired: int) -> int:
        """The new instance's OS cannot configure its address: ABANDON os_address_failed,
        and Auto Scaling's replacement gets an address (the same one, in the same AZ)."""
        title = f"scale out to {desired}, and the new instance's OS cannot configure its address"
        before = {r.instance_id for r in self.sim.rows()}
        mark = len(self.sim.logs.records)
        self.sim.fail_os_next(1, UNMANAGED_OS)
        report = self.sim.scale(desired, title=title)
        print(f"== step {n}: {title} ==")
        dist = DISTRIBUTIONS[UNMANAGED_OS].name
        say(
            "An address attached in EC2 is not enough: it must answer inside the instance "
            "(interface up, and a routing rule so replies leave from it). The stack's SSM "
            "document configures that and checks it. The next instance runs "
            f"{dist}, whose network none of the tools the document knows manages "
            "(amazon-ec2-net-utils, netplan, NetworkManager, systemd-networkd)."
        )
        print(table(report))
        finals = {
            r["instance_id"]: r
            for r in self.sim.logs.records[mark:]
            if r.get("decision") == "lifecycle_completed"
            and r.get("function_name") == "LaunchFunction"
        }
        failed = [iid for iid, reason in report.abandoned if reason == "os_address_failed"]
        problems = os_problems(report)
        new = [r for r in in_service(report) if r.instance_id not in before]
        if len(failed) != 1 or len(report.abandoned) != 1:
            problems.append(
                f"UNEXPECTED: abandoned {report.abandoned}, expected one os_address_failed"
            )
        if len(new) != 1 or report.relaunches != 1:
            problems.append(
                f"UNEXPECTED: {len(new)} replacement(s) InService after "
                f"{report.relaunches} relaunch(es), expected 1"
            )
        if failed:
            line = finals.get(failed[0], {})
            view = moto_patches.instance_os(failed[0], region=REGION) or {}
            message = (view.get("report") or {}).get("message", "")
            # Short lines, broken where the sense breaks: the README quotes some of them.
            print(
                f"result: {failed[0]} ({view.get('distribution', '?')}) got {line.get('ip')} "
                f"{line.get('host_name')}; its OS check failed:\n"
                f"  {view.get('summary', '?')}. The script's message:"
            )
            say(message or "(none)", indent="    ")
            print(
                "The controller answered ABANDON os_address_failed, with that message in its "
                "log line:\n  the instance never went InService. Auto Scaling terminated it; "
                "its ENI went back to the pool."
            )
            if not message or message not in line.get("detail", ""):
                problems.append("UNEXPECTED: the controller's log line lacks the script's message")
            if new:
                same = new[0].ip == line.get("ip")
                print(
                    f"Auto Scaling's replacement {new[0].instance_id} got "
                    f"{'the same' if same else 'another'} address and went InService:\n"
                    f"  {new[0].ip} {new[0].host_name}, {new[0].os}."
                )
                if not same:
                    # One instance waits in that AZ: it takes the lowest free address,
                    # which the abandoned instance has just given back.
                    problems.append("UNEXPECTED: the replacement did not get the same address")
        say(controller_line(report))
        return verdict(report, problems)

    def sweeper(self, n: int) -> int:
        """A lost launch event and a leaked ENI, then one sweeper pass repairs both."""
        sim = self.sim
        title = "a lost launch event and a leaked ENI: one sweeper pass repairs both"
        rows = {r.instance_id for r in sim.rows()}
        desired = len(rows) + 1
        sim.drop_next_events(1)
        sim.scale(desired, title=title)
        [lost] = [r for r in sim.rows() if r.instance_id not in rows]
        leak_az = next(az for az in sorted(sim.world.subnets) if az != lost.az)
        stranded, eni = sim.strand_eni(leak_az)
        leaked_ip = next(
            e["PrivateIpAddress"]
            for e in pool_enis(sim.session.client("ec2"), sim.world.pool)
            if e["NetworkInterfaceId"] == eni
        )
        print(f"== step {n}: {title} ==")
        say(
            f"Scale out to {desired}, and EventBridge loses the new instance's launch event "
            f"(it delivers best-effort): {lost.instance_id} ({lost.az}) waits in {lost.state} "
            "with nobody to answer."
        )
        say(
            f"And a missed release: {leaked_ip} ({eni}, {leak_az}) is still attached to "
            f"{stranded}, an instance EC2 shut down an hour ago, so nobody can use it."
        )
        schedule = template_default("SweepSchedule")
        say(f"Then one pass of the sweeper, which the stack schedules at {schedule}:")
        mark = len(sim.logs.records)
        result = sim.sweep()
        found = {r["decision"]: r for r in sim.logs.records[mark:]}
        report = sim.scale(desired, title=title)
        print(table(report))
        finished = found.get("lost_launch_finished", {})
        released = found.get("leaked_eni_released", {})
        say(
            f"result: the sweeper finished "
            f"{counted(result['lost_launches_finished'], 'lost launch', 'lost launches')} "
            f"({finished.get('instance_id')} got {finished.get('ip')} "
            f"{finished.get('host_name')}, {finished.get('result')}) and released "
            f"{counted(result['leaked_enis_released'], 'leaked ENI')} ({released.get('ip')} "
            "is free again)."
        )
        problems = os_problems(report)
        if result["lost_launches_finished"] != 1 or result["leaked_enis_released"] != 1:
            problems.append("UNEXPECTED: the sweeper did not repair both")
        if any(r.state != "InService" for r in report.rows):
            problems.append("UNEXPECTED: an instance is not InService after the sweep")
        caps = [r for r in sim.logs.records[mark:] if r.get("decision") == "pool_capacity"]
        self.capacity_lines(caps)
        return verdict(report, problems)

    def capacity_lines(self, caps: list[dict[str, Any]]) -> None:
        """The sweeper's capacity figures, and where the need above max size / AZs comes
        from: the headroom Auto Scaling may take above the maximum."""
        if not caps:
            return
        say("Each pass also publishes the pool's capacity per AZ (metric PoolShortfall, alarmed):")
        for cap in caps:
            print(
                f"  {cap['az']}: {cap['free']} free, {cap['in_use']} in use, the group may "
                f"need {cap['need']}: shortfall {cap['shortfall']}"
            )
        azs = len(self.sim.world.subnets)
        even = -(-self.capacity // azs)  # the max size spread evenly, rounded up
        need = max(int(c["need"]) for c in caps)
        if need > even:
            percent = int(template_default("MaxHealthyPercent"))
            say(
                f"Why {need}, not max {self.capacity} / {azs} AZs = {even}: Auto Scaling may "
                f"exceed the maximum by {percent - 100}% while it rebalances AZs or replaces "
                f"instances launch-first (the stack's MaxHealthyPercent, {percent}), and the "
                "extra instance may land in either AZ. The article's pool is exact for its "
                "max size: one more address per AZ clears the shortfall."
            )


def plan(demo: Demo) -> list[Callable[[int], int]]:
    """The steps in order, for a pool of `demo.capacity` addresses (the group's max size)."""
    capacity = demo.capacity
    return [
        lambda n: demo.scale_out(
            n,
            "start the group with 2 instances",
            2,
            [
                "Desired capacity 2. Auto Scaling launches 2 instances; the launch hook holds "
                "each in Pending:Wait until the controller answers."
            ],
        ),
        lambda n: demo.scale_out(
            n,
            "scale out to 3 (the article's own test)",
            3,
            ["One more instance: it gets the next free address of its AZ."],
        ),
        lambda n: demo.scale_out(
            n,
            f"burst to {capacity} at once",
            capacity,
            [
                f"{capacity - 3} instances launch at the same moment. With the article's "
                "script they all took the lowest free address and all but one failed; here "
                "a claim is an attach, which only one instance can win, and a loser tries "
                "the next free ENI."
            ],
        ),
        demo.beyond_the_pool,
        demo.release_to_waiter,
        demo.refresh,
        lambda n: demo.scale_in(n, 2),
        lambda n: demo.os_fails(n, 3),
        demo.sweeper,
    ]


def _story(sim: Simulation, capacity: int, out: TextIO) -> int:
    """The steps in order; the first one that breaks an invariant (or does not go as
    expected) ends the demo: what follows would build on a broken state."""
    for n, step in enumerate(plan(Demo(sim, capacity)), start=1):
        broken = step(n)
        if broken:
            out.write(f"stopping after step {n}: it did not go as the controller promises\n")
            return broken
    return 0


def introduction(sim: Simulation, capacity: int) -> None:
    world = sim.world
    by_az: dict[str, list[tuple[str, str]]] = {}
    for eni in pool_enis(sim.session.client("ec2"), world.pool):
        tags = {t["Key"]: t["Value"] for t in eni.get("TagSet", [])}
        by_az.setdefault(eni["AvailabilityZone"], []).append(
            (eni["PrivateIpAddress"], tags.get(HOSTNAME_TAG, "-"))
        )
    print(
        f"fixed-ip demo: the article's scenario, run by the real controller (the functions of "
        f"template.yaml)\non a local AWS (moto + fidelity patches), region {REGION}.\n"
    )
    places = []
    for az, enis in sorted(by_az.items()):
        (first_ip, first_host), (last_ip, last_host) = min(enis), max(enis)
        places.append(f"{first_ip}-{last_ip} ({first_host} to {last_host}) in {az}")
    say(
        f"Pool {world.pool!r}: {capacity} ENIs, one fixed address and host name each: "
        f"{'; '.join(places)}."
    )
    say(
        f"Group {world.group!r}, max {capacity}: its launch hook {world.hook!r} holds each new "
        "instance in Pending:Wait until the controller has attached a free ENI of its AZ, set "
        "its host name, and the instance's OS has configured and verified the address; only "
        "then CONTINUE (InService). Otherwise ABANDON, and Auto Scaling replaces the instance "
        "(also the hook's default if nobody answers). The terminate hook "
        "'fixed-ip-terminate' gives the address back."
    )
    say(
        "Tables: FIXED IP and HOST NAME come from the instance's ENI (the host name as its OS "
        "has it); OS is the instance's own check: interface, address, and the routing rule "
        "that lets the address answer other subnets."
    )
    say(
        "After every step the demo checks AWS: no instance InService without its address, "
        "none held twice, none leaked. It stops at the first step that breaks one."
    )
    print()


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
        router = StdoutRouter(out, emf, log_file)
        sys.stdout = router
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
            sim = Simulation(session, world, emf_sink=emf)
            restore_logs = route_function_logs(sim, router, real_stdout)
            try:
                introduction(sim, per_az * azs)
                broken = _story(sim, per_az * azs, out)
            finally:
                restore_logs()
                detach_logs(sim.runner, sim.logs)
                sim.close()
        finally:
            sys.stdout = real_stdout
    total = time.monotonic() - started
    verdict_text = (
        "all invariants and expectations held"
        if not broken
        else f"{broken} invariant violation(s) or unexpected result(s)"
    )
    out.write(
        f"demo finished in {total:.1f}s: {verdict_text}. Controller logs and EMF metrics, one "
        f"JSON line each as in CloudWatch Logs: {log_path}\n"
    )
    return 0 if not broken else 1
