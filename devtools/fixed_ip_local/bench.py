"""`make bench`: figures for the controller, side by side with the seed's algorithm, on the
local simulated AWS (moto + the fidelity patches), through the real functions of
template.yaml. A development tool, not deployed.

    python -m fixed_ip_local.bench [--profile quick|full] [--output PATH]

Sections:
1. AWS API calls per launch (and per terminate, where a function handles terminate
   actions), uncontended, per service and operation, against the flow's minimum; and one
   launch throttled on its EC2 calls (botocore's real retries, real time).
2. Bursts: N instances launched at once into one AZ whose pool holds exactly N ENIs, and
   N+5 launches on N ENIs; the controller and the seed's algorithm (lowest available IP,
   attach, on failure the instance is abandoned and the group relaunches it), with ratios.
3. Pool scale: 2,000 ENIs over 3 AZs, Describe calls and items read per launch.
4. Cold start: the handler module against `import boto3` alone (fixed_ip_local.coldstart).
5. Deployment size: the function and the layer as `sam build` packages them for
   python3.13 arm64 (the layer's wheels downloaded from PyPI for that platform).
6. (full) the property-based tests with their long profile.

`full` is what `make bench` runs and writes docs/benchmarks.md; `quick` (small N, no
download, no property run) keeps this code from rotting in `make test`.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TextIO

ROOT = Path(__file__).resolve().parents[2]
REGION = "ap-northeast-1"
DEFAULT_OUTPUT = ROOT / "docs" / "benchmarks.md"

# The flow's minimum for one launch (docs/design.md section 2): find the instance, list the pool
# in its AZ, see who else is waiting, attach, tag, the subnet's CIDR (once per subnet and
# container), send the document (SSM refuses it while the agent is not registered), read the
# verification, complete.
MINIMUM_LAUNCH_CALLS = {
    "ec2:DescribeInstances": 1,
    "ec2:DescribeNetworkInterfaces": 1,
    "ec2:AttachNetworkInterface": 1,
    "ec2:CreateTags": 1,
    "autoscaling:DescribeAutoScalingGroups": 1,
    "autoscaling:CompleteLifecycleAction": 1,
    "ec2:DescribeSubnets": 1,
    "ssm:SendCommand": 1,
    "ssm:GetCommandInvocation": 1,
}
# One terminate: find the instance's pool ENI, detach it, see it available, complete.
MINIMUM_TERMINATE_CALLS = {
    "ec2:DescribeNetworkInterfaces": 2,
    "ec2:DetachNetworkInterface": 1,
    "autoscaling:CompleteLifecycleAction": 1,
}


@dataclass(frozen=True)
class Profile:
    name: str
    bursts: tuple[int, ...]
    overflow_n: int  # the N of the N+5 run
    pool_enis: int
    pool_azs: int
    pool_launches: int
    coldstart_runs: int
    download: bool
    property_tests: bool
    throttled_launch: bool
    seed_max_rounds: Callable[[int], int] = lambda n: 3 * n + 10
    burst_timeout: float = 1800.0


PROFILES = {
    "quick": Profile(
        name="quick",
        bursts=(4,),
        overflow_n=4,
        pool_enis=60,
        pool_azs=3,
        pool_launches=3,
        coldstart_runs=3,
        download=False,
        property_tests=False,
        throttled_launch=False,
        burst_timeout=120.0,
    ),
    "full": Profile(
        name="full",
        bursts=(10, 50, 100),
        overflow_n=100,
        pool_enis=2000,
        pool_azs=3,
        pool_launches=6,
        coldstart_runs=15,
        download=True,
        property_tests=True,
        throttled_launch=True,
    ),
}


# --- Report ----------------------------------------------------------------------------------


@dataclass
class Section:
    title: str
    headers: list[str]
    rows: list[list[Any]]
    notes: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        lines = [f"## {self.title}", ""]
        if self.rows:
            cells = [[_cell(c) for c in row] for row in self.rows]
            lines.append("| " + " | ".join(self.headers) + " |")
            lines.append("|" + "|".join("---" for _ in self.headers) + "|")
            lines += ["| " + " | ".join(row) + " |" for row in cells]
            lines.append("")
        lines += [f"- {note}" for note in self.notes]
        return "\n".join(lines).rstrip() + "\n"


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value).replace("|", "\\|")


def machine() -> dict[str, str]:
    try:
        from importlib.metadata import version

        versions = ", ".join(f"{p} {version(p)}" for p in ("boto3", "moto"))
    except Exception:  # pragma: no cover - metadata missing in odd installs
        versions = "?"
    commit = "?"
    with contextlib.suppress(Exception):
        commit = subprocess.run(  # noqa: S603 - fixed command
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],  # noqa: S607
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(  # noqa: S603 - fixed command
            ["git", "-C", str(ROOT), "status", "--porcelain"],  # noqa: S607
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        commit += " (uncommitted changes)" if dirty else ""
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} CPUs (nproc), {platform.machine()}, {platform.platform()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "libraries": versions,
        "commit": commit,
    }


def render(profile: Profile, info: dict[str, str], sections: list[Section]) -> str:
    head = [
        "# Benchmarks",
        "",
        f"Written by `python -m fixed_ip_local.bench --profile {profile.name}` (`make bench`). "
        "Every figure comes from the local simulated AWS (moto + the fidelity patches of "
        "`devtools/fixed_ip_local/moto_patches/`) running the real functions of "
        "`template.yaml`; counts are exact, times are this machine's.",
        "",
        *(f"- {k}: {v}" for k, v in info.items()),
        "",
    ]
    return "\n".join(head) + "\n".join(s.markdown() for s in sections)


# --- The simulated AWS -----------------------------------------------------------------------


class _StdoutFilter:
    """The functions print their JSON log lines and EMF blobs to stdout, as on Lambda;
    the bench reads them through the log collector and keeps the terminal for itself."""

    def __init__(self, real: TextIO) -> None:
        self.real = real
        self._buffer = ""
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            self._buffer += text
            while "\n" in self._buffer:
                line, self._buffer = self._buffer.split("\n", 1)
                if not line.startswith("{"):
                    self.real.write(line + "\n")
        return len(text)

    def flush(self) -> None:
        self.real.flush()

    def isatty(self) -> bool:
        return False


def _environment() -> None:
    os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ["AWS_DEFAULT_REGION"] = os.environ["AWS_REGION"] = REGION
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        os.environ.pop(key, None)


@contextlib.contextmanager
def local_aws() -> Iterator[Any]:
    """A fresh simulated AWS (moto with the fidelity patches) and a boto3 session on it."""
    import boto3
    from moto import mock_aws

    from fixed_ip_local import moto_patches

    moto_patches.apply()
    with mock_aws():
        try:
            yield boto3.Session(region_name=REGION)
        finally:
            moto_patches.clear_lifecycle_listeners()
            moto_patches.set_auto_register(0.0)
            moto_patches.set_clock(None)


def _runner(logical_id: str, document: str, parameters: dict[str, str] | None = None) -> Any:
    from fixed_ip_local.lambda_runner import FunctionRunner, TemplateFunction, collect_logs
    from fixed_ip_local.simulation import FAST_POLLS

    fn = TemplateFunction.from_template(
        logical_id, parameters=parameters, resource_names={"ConfigureDocument": document}
    )
    runner = FunctionRunner(fn, extra_env=FAST_POLLS)
    runner.logs = collect_logs(runner)
    return runner


def _route(event: dict[str, Any]) -> str | None:
    """The function template.yaml's EventBridge rules send `event` to."""
    from fixed_ip_local.simulation import pattern_matches, rules_from_template

    for rule in rules_from_template():
        if pattern_matches(rule.pattern, event):
            return rule.function
    return None


# --- 1. Calls per launch and per terminate ---------------------------------------------------


def calls_per_action(profile: Profile) -> list[Section]:
    from fixed_ip_local import moto_patches
    from fixed_ip_local.metering import metered
    from fixed_ip_local.world import build_world

    launch_calls: dict[str, int] = {}
    terminate_calls: dict[str, int] | None = None
    terminate_note = ""
    with local_aws() as session:
        events: list[dict[str, Any]] = []
        moto_patches.add_lifecycle_listener(events.append)
        world = build_world(session, per_az=3, azs=1)
        launch = _runner("LaunchFunction", world.document)
        autoscaling = session.client("autoscaling")
        terminate_fn = _route(_terminate_probe(world))
        if terminate_fn and not _has_hook(autoscaling, world.group, moto_patches.TERMINATING):
            autoscaling.put_lifecycle_hook(
                AutoScalingGroupName=world.group,
                LifecycleHookName=f"{world.hook.rsplit('-', 1)[0]}-terminate",
                LifecycleTransition=moto_patches.TERMINATING,
                HeartbeatTimeout=300,
                DefaultResult="CONTINUE",
            )
        autoscaling.set_desired_capacity(AutoScalingGroupName=world.group, DesiredCapacity=1)
        [event] = events
        with metered() as meter:
            result = launch.invoke(event)
        if result.get("result") != "CONTINUE":
            raise RuntimeError(f"uncontended launch did not CONTINUE: {result}")
        launch_calls = meter.by_operation()
        if terminate_fn is None:
            terminate_note = (
                "no function of template.yaml handles terminate lifecycle actions at this "
                "commit: no terminate figures"
            )
        else:
            events.clear()
            autoscaling.set_desired_capacity(AutoScalingGroupName=world.group, DesiredCapacity=0)
            ends = [e for e in events if e["detail-type"].endswith("terminate Lifecycle Action")]
            if not ends:
                terminate_note = f"{terminate_fn} exists but no terminate event was published"
            else:
                runner = _runner(terminate_fn, world.document)
                with metered() as meter:
                    outcome = runner.invoke(ends[0])
                terminate_calls = meter.by_operation()
                terminate_note = (
                    f"terminate through {terminate_fn}: "
                    f"{outcome.get('decision')} {outcome.get('result', '')}".rstrip()
                )
    ops = sorted(set(launch_calls) | set(MINIMUM_LAUNCH_CALLS) | set(terminate_calls or {}))
    rows = []
    for op in ops:
        rows.append(
            [
                op,
                launch_calls.get(op, 0),
                MINIMUM_LAUNCH_CALLS.get(op, 0),
                "n/a" if terminate_calls is None else terminate_calls.get(op, 0),
                "n/a" if terminate_calls is None else MINIMUM_TERMINATE_CALLS.get(op, 0),
            ]
        )
    rows.append(
        [
            "**total**",
            sum(launch_calls.values()),
            sum(MINIMUM_LAUNCH_CALLS.values()),
            "n/a" if terminate_calls is None else sum(terminate_calls.values()),
            "n/a" if terminate_calls is None else sum(MINIMUM_TERMINATE_CALLS.values()),
        ]
    )
    notes = [
        "one instance, pool of 3 ENIs in its AZ, SSM agent already Online, counted with "
        "botocore's client entry point (fixed_ip_local.metering): one count per API call, "
        "whatever botocore's retries do underneath",
        terminate_note,
    ]
    calls = Section(
        "1. AWS API calls per action, uncontended",
        ["operation", "launch", "launch minimum", "terminate", "terminate minimum"],
        rows,
        [n for n in notes if n],
    )
    return [calls, throttled_launch()] if profile.throttled_launch else [calls]


def _terminate_probe(world: Any) -> dict[str, Any]:
    """A terminate event of the world's group, to find which function the rules route it to."""
    from fixed_ip_local.events import TERMINATING, lifecycle_event

    return lifecycle_event(
        TERMINATING,
        instance_id="i-0123456789abcdef0",
        group=world.group,
        hook=world.hook.rsplit("-", 1)[0] + "-terminate",
        token="00000000-0000-0000-0000-000000000000",  # noqa: S106 (a placeholder, not a secret)
        region=world.region,
    )


def _has_hook(autoscaling: Any, group: str, transition: str) -> bool:
    hooks = autoscaling.describe_lifecycle_hooks(AutoScalingGroupName=group)["LifecycleHooks"]
    return any(h.get("LifecycleTransition") == transition for h in hooks)


THROTTLED_OPS = (
    "ec2:DescribeInstances",
    "ec2:DescribeNetworkInterfaces",
    "ec2:AttachNetworkInterface",
    "ec2:CreateTags",
)


def throttled_launch(times: int = 2) -> Section:
    """One launch whose EC2 calls are each throttled `times` times (RequestLimitExceeded),
    with botocore's real adaptive retries and real waiting."""
    from fixed_ip_local import faults, moto_patches
    from fixed_ip_local.world import build_world

    with local_aws() as session:
        events: list[dict[str, Any]] = []
        moto_patches.add_lifecycle_listener(events.append)
        world = build_world(session, per_az=3, azs=1)
        launch = _runner("LaunchFunction", world.document)
        session.client("autoscaling").set_desired_capacity(
            AutoScalingGroupName=world.group, DesiredCapacity=1
        )
        with faults.inject() as plan:
            for op in THROTTLED_OPS:
                plan.throttle(op, times=times)
            started = time.monotonic()
            result = launch.invoke(events[0])
            seconds = time.monotonic() - started
    rows = [[op, plan.count(op), plan.requests(op)] for op in THROTTLED_OPS]
    return Section(
        "1b. One launch under EC2 throttling",
        ["operation", "RequestLimitExceeded answers", "requests sent"],
        rows,
        [
            f"result {result.get('result')} ({result.get('reason')}), attach attempts "
            f"{result.get('attach_attempts')}, in {seconds:.1f} s of real time: botocore's "
            "adaptive mode retries with exponential backoff and, after the first throttle, "
            "rate-limits this container's client (down to 0.5 requests/s at first)",
        ],
    )


# --- 2. Bursts -------------------------------------------------------------------------------


@contextlib.contextmanager
def seed_algorithm() -> Iterator[None]:
    """Run the seed article's claim (fixed_ip_local.seed_claim) instead of the
    controller's, on the same path: every launch use case built meanwhile gets it."""
    from fixed_ip import launch as launch_module
    from fixed_ip_local.seed_claim import SeedClaim

    original = launch_module.default_claim
    launch_module.default_claim = SeedClaim  # type: ignore[assignment]
    try:
        yield
    finally:
        launch_module.default_claim = original


@dataclass
class BurstRun:
    algorithm: str
    n: int
    launched_at_once: int
    launches: int = 0
    with_eni: int = 0
    in_service: int = 0
    double_held: int = 0
    attempts: list[int] = field(default_factory=list)
    abandons: Counter[str] = field(default_factory=Counter)
    rounds: int = 0
    converged: bool = False
    seconds: float = 0.0
    to_target: float | None = None
    api_calls: int = 0
    violations: list[str] = field(default_factory=list)

    @property
    def attempts_total(self) -> int:
        return sum(self.attempts)

    @property
    def attempts_mean(self) -> float:
        return statistics.fmean(self.attempts) if self.attempts else 0.0


def burst(n: int, extra: int, algorithm: str, profile: Profile) -> BurstRun:
    """`n + extra` launches at once into one AZ whose pool holds `n` ENIs. Abandoned
    launches are relaunched by the group (in rounds, as Auto Scaling does) until `n`
    instances are InService or the round bound is reached."""
    from fixed_ip_local import moto_patches
    from fixed_ip_local.invariants import group_instances, violations
    from fixed_ip_local.metering import metered
    from fixed_ip_local.simulation import Simulation

    desired = n + extra
    run = BurstRun(algorithm, n, desired)
    max_rounds = profile.seed_max_rounds(n)
    chosen = seed_algorithm() if algorithm == "seed" else contextlib.nullcontext()
    with local_aws() as session, chosen:
        world = build_pool(session, enis=n, azs=1, max_size=desired)
        # The extra launches are abandoned and relaunched in rounds (policy ABANDON): the
        # burst measures the claim, and the seed's "shutdown on failure" is an ABANDON.
        sim = Simulation(
            session,
            world,
            agent_online_after=0.0,
            replacement_backoff=0.0,
            parameters={"OnPoolExhausted": "ABANDON"},
        )
        try:
            # Lambda's init phase before the clock starts: one container, already warm.
            sim.runner.invoke({"warm": "up"})
            mark = len(sim.logs.records)
            with metered() as meter:
                started = time.monotonic()
                sim.autoscaling.update_auto_scaling_group(
                    AutoScalingGroupName=world.group, DesiredCapacity=desired
                )
                run.rounds, run.converged, run.to_target = _settle(
                    sim,
                    desired,
                    target=n,
                    max_rounds=max_rounds,
                    timeout=profile.burst_timeout,
                    started=started,
                )
                run.seconds = time.monotonic() - started
            run.api_calls = meter.total
            finals = [
                r
                for r in sim.logs.records[mark:]
                if r.get("decision") in {"lifecycle_completed", "lifecycle_not_active"}
                and r.get("function_name", "LaunchFunction") == "LaunchFunction"
            ]
            run.launches = len(finals)
            run.attempts = [int(r.get("attach_attempts", 0)) for r in finals]
            run.abandons = Counter(
                str(r.get("reason")) for r in finals if r.get("result") == "ABANDON"
            )
            instances = group_instances(sim.autoscaling, world.group)
            run.in_service = sum(1 for i in instances if i["LifecycleState"] == "InService")
            run.with_eni, run.double_held = _holders(session, world.pool)
            run.violations = violations(
                session, world.group, world.pool, os_hostname=moto_patches.os_hostname
            )
        finally:
            sim.close()
    return run


def _settle(
    sim: Any, desired: int, *, target: int, max_rounds: int, timeout: float, started: float
) -> tuple[int, bool, float | None]:
    """Run until every lifecycle action has ended; while fewer than `target` instances
    are InService, relaunch the missing ones (one round = one relaunch of all of them).
    Returns (relaunch rounds, converged, seconds from `started` to `target` InService)."""
    from fixed_ip_local import moto_patches
    from fixed_ip_local.invariants import group_instances

    end = started + timeout
    rounds = 0
    while True:
        for fn in sim.lambdas.values():
            fn.drain(timeout=max(1.0, end - time.monotonic()))
        moto_patches.expire_lifecycle_actions(REGION)
        if any(a["state"] == "active" for a in moto_patches.lifecycle_actions(REGION)):
            if time.monotonic() > end:
                raise TimeoutError("lifecycle actions still active after the bench timeout")
            time.sleep(0.02)
            continue
        instances = group_instances(sim.autoscaling, sim.world.group)
        in_service = sum(1 for i in instances if i["LifecycleState"] == "InService")
        if in_service >= target:
            return rounds, True, time.monotonic() - started
        if rounds >= max_rounds or time.monotonic() > end:
            return rounds, False, None
        rounds += 1
        sim.autoscaling.set_desired_capacity(
            AutoScalingGroupName=sim.world.group, DesiredCapacity=desired
        )


def _holders(session: Any, pool: str) -> tuple[int, int]:
    """(live instances holding a pool ENI, pool ENIs held by two or more live instances),
    read from the instances' side, so a double attachment would show."""
    from fixed_ip_local.invariants import pool_enis

    ec2 = session.client("ec2")
    pool_ids = {e["NetworkInterfaceId"] for e in pool_enis(ec2, pool)}
    holders: Counter[str] = Counter()
    instances_with = set()
    pages = ec2.get_paginator("describe_instances").paginate(
        Filters=[{"Name": "instance-state-name", "Values": ["pending", "running"]}]
    )
    for page in pages:
        for reservation in page["Reservations"]:
            for inst in reservation["Instances"]:
                for ni in inst.get("NetworkInterfaces", []):
                    if ni["NetworkInterfaceId"] in pool_ids:
                        holders[ni["NetworkInterfaceId"]] += 1
                        instances_with.add(inst["InstanceId"])
    return len(instances_with), sum(1 for c in holders.values() if c > 1)


def bursts(profile: Profile, log: Callable[[str], None]) -> list[Section]:
    runs: list[tuple[BurstRun, BurstRun]] = []
    plan = [(n, 0) for n in profile.bursts] + [(profile.overflow_n, 5)]
    for n, extra in plan:
        pair = []
        for algorithm in ("controller", "seed"):
            log(f"  burst {n + extra} launches on {n} ENIs, {algorithm} ...")
            result = burst(n, extra, algorithm, profile)
            log(
                f"    {result.launches} launches, {result.in_service} InService, "
                f"{result.rounds} relaunch rounds, {result.seconds:.1f} s"
            )
            pair.append(result)
        runs.append((pair[0], pair[1]))
    rows = []
    for pair in runs:
        for r in pair:
            abandons = sum(r.abandons.values())
            reasons = ", ".join(f"{k} {v}" for k, v in sorted(r.abandons.items()))
            rows.append(
                [
                    f"{r.launched_at_once} on {r.n}",
                    r.algorithm,
                    r.launches,
                    f"{r.with_eni}/{r.n}",
                    r.double_held,
                    f"{r.attempts_mean:.2f} / {max(r.attempts, default=0)}",
                    r.attempts_total,
                    f"{abandons}" + (f" ({reasons})" if reasons else ""),
                    r.rounds,
                    _seconds(r.to_target) if r.converged else f"never ({r.rounds} rounds)",
                    f"{r.seconds:.1f}",
                    r.api_calls,
                    "OK" if not r.violations else f"{len(r.violations)} BROKEN",
                ]
            )
    table = Section(
        "2. Bursts into one AZ",
        [
            "launches at once on ENIs",
            "algorithm",
            "launches needed",
            "instances with an ENI",
            "ENIs held by two",
            "attach attempts per launch (mean / max)",
            "attach attempts total",
            "abandons",
            "relaunch rounds",
            f"time to {'all'} InService (s)",
            "wall time (s)",
            "AWS API calls",
            "invariants",
        ],
        rows,
        [
            "one AZ whose pool holds exactly N ENIs; all launches requested at once; the "
            "SSM agent is Online at once (so the claim dominates); Lambda runs up to 64 "
            "invocations at once on one warm container; moto serializes AWS requests",
            "seed = the article's algorithm on the same path: lowest available IP, attach, "
            "any failure ends the launch (ABANDON, as its `shutdown -h now`); the group "
            "relaunches missing instances in rounds (no back-off here; on AWS every round "
            "costs a new instance boot, minutes)",
            "N+5 on N: 'time to all InService' is the time until all N ENIs serve an "
            "instance; the 5 extra launches are abandoned (pool_exhausted) and not relaunched",
        ],
    )
    ratio_rows = []
    for ctl, seed in runs:
        ratio_rows.append(
            [
                f"{ctl.launched_at_once} on {ctl.n}",
                _ratio(seed.launches, ctl.launches),
                _ratio(seed.attempts_total, ctl.attempts_total),
                (
                    _ratio(seed.to_target, ctl.to_target)
                    if seed.converged and ctl.converged
                    else "seed never converged"
                ),
                _ratio(seed.rounds + 1, ctl.rounds + 1),
            ]
        )
    ratios = Section(
        "2b. Seed's algorithm / controller (same simulation, same N)",
        [
            "run",
            "launches needed",
            "attach attempts",
            "time to all InService",
            "launch rounds (1 + relaunches)",
        ],
        ratio_rows,
    )
    return [table, ratios]


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "-"
    return f"{a / b:.2f}x"


# --- 3. Pool scale ---------------------------------------------------------------------------


class ItemMeter:
    """Describe calls and items read, per operation, counted by wrapping botocore's client
    entry point (every call of the process; the bench runs one launch at a time)."""

    COUNTERS: ClassVar[dict[str, Callable[[dict[str, Any]], int]]] = {
        "DescribeNetworkInterfaces": lambda r: len(r.get("NetworkInterfaces", [])),
        "DescribeInstances": lambda r: sum(
            len(x.get("Instances", [])) for x in r.get("Reservations", [])
        ),
        "DescribeAutoScalingGroups": lambda r: sum(
            len(g.get("Instances", [])) for g in r.get("AutoScalingGroups", [])
        ),
        "DescribeInstanceInformation": lambda r: len(r.get("InstanceInformationList", [])),
    }

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.items: Counter[str] = Counter()

    @contextlib.contextmanager
    def active(self) -> Iterator[ItemMeter]:
        from botocore.client import BaseClient

        original = BaseClient._make_api_call
        meter = self

        def counting(client: Any, operation: str, params: Any) -> Any:
            response = original(client, operation, params)
            if operation in meter.COUNTERS:
                key = f"{client.meta.service_model.service_name}:{operation}"
                meter.calls[key] += 1
                meter.items[key] += meter.COUNTERS[operation](response)
            return response

        BaseClient._make_api_call = counting  # type: ignore[method-assign]
        try:
            yield self
        finally:
            BaseClient._make_api_call = original  # type: ignore[method-assign]


def build_pool(
    session: Any, *, enis: int, azs: int, group: str = "web-asg", max_size: int | None = None
) -> Any:
    """The seed world (fixed_ip_local.world) at any scale: `enis` ENIs spread evenly over
    `azs` AZs, in /20 subnets (long relaunch runs need more than a /24's addresses)."""
    from fixed_ip_local.world import build_world

    counts = [enis // azs + (1 if i < enis % azs else 0) for i in range(azs)]
    return build_world(
        session, group=group, per_az=counts, azs=azs, max_size=max_size or enis, subnet_prefix=20
    )


def pool_scale(profile: Profile) -> Section:
    from fixed_ip_local import moto_patches

    per_launch: list[ItemMeter] = []
    results = []
    with local_aws() as session:
        events: list[dict[str, Any]] = []
        moto_patches.add_lifecycle_listener(events.append)
        started = time.monotonic()
        world = build_pool(session, enis=profile.pool_enis, azs=profile.pool_azs, group="big")
        build_seconds = time.monotonic() - started
        launch = _runner("LaunchFunction", world.document)
        autoscaling = session.client("autoscaling")
        for k in range(1, profile.pool_launches + 1):
            events.clear()
            autoscaling.set_desired_capacity(AutoScalingGroupName=world.group, DesiredCapacity=k)
            meter = ItemMeter()
            with meter.active():
                started = time.monotonic()
                results.append(launch.invoke(events[0]))
                meter.seconds = time.monotonic() - started  # type: ignore[attr-defined]
            per_launch.append(meter)
    ops = sorted({op for m in per_launch for op in m.calls})
    rows = []
    for op in ops:
        calls = [m.calls[op] for m in per_launch]
        items = [m.items[op] for m in per_launch]
        rows.append(
            [op, f"{statistics.fmean(calls):.2f}", max(calls), statistics.fmean(items), max(items)]
        )
    per_az = math.ceil(profile.pool_enis / profile.pool_azs)
    outcomes = Counter(str(r.get("result")) for r in results)
    seconds = [m.seconds for m in per_launch]  # type: ignore[attr-defined]
    return Section(
        f"3. Pool scale: {profile.pool_enis:,} ENIs over {profile.pool_azs} AZs",
        [
            "operation",
            "calls per launch (mean)",
            "calls (max)",
            "items read per launch (mean)",
            "items (max)",
        ],
        rows,
        [
            f"{profile.pool_launches} launches one after another, spread over the AZs "
            f"(results: {dict(outcomes)}); pool built in {build_seconds:.1f} s; launch "
            f"time on moto mean {statistics.fmean(seconds):.2f} s, max {max(seconds):.2f} s",
            "the pool listing is filtered server-side by pool tag, AZ and VPC, so a launch "
            f"reads its own AZ's share (up to {per_az}), never the whole pool; pages of "
            f"1,000 make that {math.ceil(per_az / 1000)} call(s) on AWS too (moto ignores "
            "MaxResults and always answers in one page)",
            "DescribeAutoScalingGroups items = the group's instances (it grows with the "
            "group, one item per instance); DescribeInstances reads only the launching "
            "instance",
        ],
    )


# --- 4. Cold start ---------------------------------------------------------------------------


def cold_start(profile: Profile) -> Section:
    from fixed_ip_local import coldstart

    m = coldstart.measure(profile.coldstart_runs)
    return Section(
        "4. Cold start (import of the deployed handler module)",
        ["handler module (ms)", "`import boto3` alone (ms)", "ratio", "fresh processes each"],
        [[m["handler_s"] * 1000, m["boto3_s"] * 1000, f"{m['ratio']:.2f}x", m["runs"]]],
        [
            "medians over fresh interpreters taken in turn (handler, boto3, ...; the ratio "
            "is the median of each pair's), function code and layer on sys.path as Lambda "
            "puts /var/task and /opt/python (fixed_ip_local.coldstart); this machine's "
            f"Python {platform.python_version()}, not Lambda's python3.13 on arm64",
        ],
    )


# --- 5. Deployment size ----------------------------------------------------------------------

LAYER_DIR = ROOT / "layers" / "fixed_ip"
FUNCTIONS_DIR = ROOT / "functions"
_SKIP = {"__pycache__", ".pytest_cache"}


def _tree_size(path: Path) -> tuple[int, int]:
    files = [p for p in path.rglob("*") if p.is_file() and not _skipped(p)]
    return len(files), sum(p.stat().st_size for p in files)


def _skipped(path: Path) -> bool:
    return any(part in _SKIP for part in path.parts) or path.suffix == ".pyc"


def _zipped(path: Path) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "artifact.zip"
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
            for p in sorted(path.rglob("*")):
                if p.is_file() and not _skipped(p):
                    zf.write(p, p.relative_to(path))
        return target.stat().st_size


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.3f}"


def build_layer(target: Path, *, download: bool) -> str:
    """Lay the layer out as `sam build` (BuildMethod python3.13, arm64) does: python/
    holds the layer's source and its requirements installed for manylinux2014_aarch64 /
    CPython 3.13. Returns a note on how the dependencies were obtained."""
    python = target / "python"
    python.mkdir(parents=True)
    shutil.copytree(
        LAYER_DIR / "fixed_ip",
        python / "fixed_ip",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    shutil.copy2(LAYER_DIR / "requirements.txt", python / "requirements.txt")
    if not download:
        return "dependencies not downloaded in this profile: source only"
    platform_args = [
        "--only-binary=:all:",
        "--platform",
        "manylinux2014_aarch64",
        "--python-version",
        "3.13",
        "--implementation",
        "cp",
    ]
    wheels = target.parent / "wheels"
    requirements = str(LAYER_DIR / "requirements.txt")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    download_cmd = [*pip, "download", *platform_args, "-r", requirements, "-d", str(wheels)]
    download_cmd += ["--timeout", "30", "--retries", "2"]
    try:
        subprocess.run(download_cmd, check=True, capture_output=True, text=True, timeout=600)  # noqa: S603
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        lines = [ln for ln in str(detail).splitlines() if ln.strip()]
        return (
            "PyPI NOT REACHABLE (pip download failed: "
            f"{lines[-1] if lines else exc}): the layer figure is source only, WITHOUT "
            "its dependencies"
        )
    install_cmd = [*pip, "install", *platform_args, "--no-index", "--find-links", str(wheels)]
    install_cmd += ["--target", str(python), "-r", requirements]
    subprocess.run(install_cmd, check=True, capture_output=True, text=True, timeout=600)  # noqa: S603
    names = sorted(p.name for p in wheels.glob("*.whl"))
    return f"wheels from PyPI for manylinux2014_aarch64 / cp313: {', '.join(names)}"


def deployment_size(profile: Profile) -> Section:
    rows = []
    for fn_dir in sorted(p for p in FUNCTIONS_DIR.iterdir() if p.is_dir()):
        files, size = _tree_size(fn_dir)
        rows.append([f"function `functions/{fn_dir.name}`", files, _mb(size), _mb(_zipped(fn_dir))])
    with tempfile.TemporaryDirectory() as tmp:
        layer = Path(tmp) / "layer"
        note = build_layer(layer, download=profile.download)
        files, size = _tree_size(layer)
        rows.append(["layer `FixedIpLayer` (python/)", files, _mb(size), _mb(_zipped(layer))])
        packages = sorted(
            ((p.name, _tree_size(p)[1]) for p in (layer / "python").iterdir() if p.is_dir()),
            key=lambda x: -x[1],
        )
    biggest = ", ".join(f"{name} {_mb(sz)}" for name, sz in packages[:5] if sz > 0)
    return Section(
        "5. Deployment size (python3.13, arm64, as `sam build` packages it)",
        ["artifact", "files", "unzipped (MB)", "zipped (MB)"],
        rows,
        [
            note,
            f"largest parts of the layer (MB, unzipped): {biggest}",
            "boto3/botocore come with the Lambda runtime and are not packaged; Lambda's "
            "limits: 250 MB unzipped (function + layers), 50 MB zipped for a direct upload",
        ],
    )


# --- 6. Property-based tests, long profile ---------------------------------------------------


def property_tests() -> Section:
    tests = ROOT / "tests" / "property"
    if not tests.is_dir():
        return Section("6. Property-based tests (long profile)", [], [], ["tests/property absent"])
    env = {**os.environ, "HYPOTHESIS_PROFILE": "long"}
    started = time.monotonic()
    proc = subprocess.run(  # noqa: S603 - our own interpreter and test directory
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.monotonic() - started
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    summary = lines[-1] if lines else proc.stderr.strip()[-200:]
    return Section(
        "6. Property-based tests (long profile)",
        ["command", "result", "time (s)"],
        [
            [
                "HYPOTHESIS_PROFILE=long pytest tests/property",
                ("passed: " if proc.returncode == 0 else "FAILED: ") + summary.strip("= "),
                f"{seconds:.0f}",
            ]
        ],
    )


# --- Main ------------------------------------------------------------------------------------


def run(profile: Profile, *, output: Path | None, out: TextIO) -> list[Section]:
    _environment()

    def log(text: str) -> None:
        out.write(text + "\n")
        out.flush()

    real_stdout = sys.stdout
    sys.stdout = _StdoutFilter(real_stdout)  # type: ignore[assignment]
    sections: list[Section] = []
    info = machine()
    started = time.monotonic()
    try:
        steps: list[tuple[str, Callable[[], list[Section]]]] = [
            ("calls per launch and terminate", lambda: calls_per_action(profile)),
            ("bursts (controller and seed)", lambda: bursts(profile, log)),
            ("pool scale", lambda: [pool_scale(profile)]),
            ("cold start", lambda: [cold_start(profile)]),
            ("deployment size", lambda: [deployment_size(profile)]),
        ]
        if profile.property_tests:
            steps.append(("property tests, long profile", lambda: [property_tests()]))
        for title, step in steps:
            log(f"== {title}")
            t = time.monotonic()
            sections += step()
            log(f"   done in {time.monotonic() - t:.1f} s")
    finally:
        sys.stdout = real_stdout
    info["bench time"] = f"{time.monotonic() - started:.0f} s (profile {profile.name})"
    text = render(profile, info, sections)
    out.write("\n" + text)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text)
        out.write(f"\nwritten to {output}\n")
    return sections


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fixed_ip_local.bench", description=__doc__)
    parser.add_argument("--profile", choices=sorted(PROFILES), default="full")
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help=f"where to write the report (default: {DEFAULT_OUTPUT} for the full profile, "
        "nowhere for quick)",
    )
    args = parser.parse_args(argv)
    profile = PROFILES[args.profile]
    output = args.output or (DEFAULT_OUTPUT if profile.name == "full" else None)
    run(profile, output=output, out=sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
