"""A local Auto Scaling + EventBridge + Lambda around moto: a development tool, not
deployed. It drives the real controller (LaunchFunction of template.yaml) the way AWS
would, on moto plus `moto_patches`:

- Auto Scaling (patched moto): a group with a launch hook puts new instances in
  Pending:Wait with a token and publishes the lifecycle event;
- EventBridge: the rules of template.yaml (patterns read from the template) route each
  event to its function;
- Lambda: asynchronous invocation on a thread pool, several at once, each retried twice
  on a raised error (as Lambda async invocation does), then kept as a failed event (the
  on-failure destination);
- Auto Scaling again: ABANDON terminates the instance and the group launches a
  replacement, as AWS documents it ("the instance is terminated ... and a replacement
  launched" to keep the desired capacity), with no cap on the number of replacements. How
  soon AWS relaunches is not documented: the simulation assumes one relaunch round every
  `RELAUNCH_ROUND_SECONDS` of simulated time (an instance boots, its hook event reaches
  the controller, which abandons it, and the group's next scaling activity starts the
  replacement), and runs rounds until the step's simulated period is over;
  a heartbeat timeout applies the hook's DefaultResult;
- instance refresh, in both orders (`refresh`); warm pools are in `warm_pools`.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from fixed_ip_local import moto_patches
from fixed_ip_local.events import scheduled_event
from fixed_ip_local.invariants import group_instances, pool_enis, violations
from fixed_ip_local.lambda_runner import (
    FunctionRunner,
    TemplateFunction,
    collect_logs,
    load_template,
)
from fixed_ip_local.world import HOSTNAME_TAG, World

# Shorter SSM polls than on AWS so a local run takes seconds, not minutes.
FAST_POLLS = {"FIXED_IP_AGENT_POLL_SECONDS": "0.2", "FIXED_IP_COMMAND_POLL_SECONDS": "0.05"}

# Simulated seconds per launch/abandon/relaunch round (undocumented by AWS; an
# assumption: ~60 s until the instance runs and its hook event is handled, ~60 s until
# the group's next activity launches the replacement).
RELAUNCH_ROUND_SECONDS = 120
# The simulated period one step covers, unless it names its own.
STEP_PERIOD_SECONDS = 600


# --- EventBridge -------------------------------------------------------------------------


def pattern_matches(pattern: Any, value: Any) -> bool:
    """EventBridge content matching for what our rules use: a list of literals or
    `{"prefix": ...}` matchers for a field, nested objects for nested fields."""
    if isinstance(pattern, dict):
        if not isinstance(value, dict):
            return False
        return all(pattern_matches(p, value.get(k)) for k, p in pattern.items())
    if isinstance(pattern, list):
        for matcher in pattern:
            if isinstance(matcher, dict) and "prefix" in matcher:
                if isinstance(value, str) and value.startswith(matcher["prefix"]):
                    return True
            elif matcher == value:
                return True
        return False
    return pattern == value


@dataclass
class Rule:
    function: str
    pattern: dict[str, Any]


def rules_from_template(parameters: dict[str, str] | None = None) -> list[Rule]:
    """The EventBridgeRule events of every function in template.yaml."""
    template = load_template()
    params = {k: str(v.get("Default", "")) for k, v in template.get("Parameters", {}).items()}
    params.update(parameters or {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if set(node) == {"Ref"}:
                return params[node["Ref"]]
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    rules = []
    for name, res in template["Resources"].items():
        if res.get("Type") != "AWS::Serverless::Function":
            continue
        for event in res.get("Properties", {}).get("Events", {}).values():
            if event.get("Type") == "EventBridgeRule":
                rules.append(Rule(name, resolve(event["Properties"]["Pattern"])))
    return rules


# --- Lambda asynchronous invocation -----------------------------------------------------


@dataclass
class Invocation:
    event: dict[str, Any]
    attempts: int = 0
    result: Any = None
    errors: list[str] = field(default_factory=list)
    failed: bool = False  # gave up after the retries: sent to the on-failure destination


class AsyncLambda:
    """Lambda's asynchronous invocation: concurrent, retried twice on error."""

    def __init__(
        self,
        runner: FunctionRunner,
        *,
        retries: int = 2,
        retry_delay: float = 0.2,
        concurrency: int = 64,
    ) -> None:
        self.runner = runner
        self.retries = retries
        self.retry_delay = retry_delay
        self.pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="lambda")
        self.invocations: list[Invocation] = []
        self._futures: list[Future] = []
        self._lock = threading.Lock()

    def invoke_async(self, event: dict[str, Any]) -> Invocation:
        inv = Invocation(event)
        with self._lock:
            self.invocations.append(inv)
            self._futures.append(self.pool.submit(self._run, inv))
        return inv

    def _run(self, inv: Invocation) -> None:
        for attempt in range(1 + self.retries):
            inv.attempts = attempt + 1
            try:
                inv.result = self.runner.invoke(inv.event)
                return
            except Exception as exc:
                inv.errors.append(f"{type(exc).__name__}: {exc}")
                if attempt < self.retries:
                    time.sleep(self.retry_delay * (attempt + 1))
        inv.failed = True

    def busy(self) -> bool:
        with self._lock:
            return any(not f.done() for f in self._futures)

    def drain(self, timeout: float = 120.0) -> None:
        end = time.monotonic() + timeout
        while self.busy():
            if time.monotonic() > end:
                raise TimeoutError("Lambda invocations still running after the timeout")
            time.sleep(0.02)

    def shutdown(self) -> None:
        self.pool.shutdown(wait=True)


# --- The simulation -----------------------------------------------------------------------


@dataclass
class Row:
    instance_id: str
    az: str
    state: str
    ip: str = "-"
    host_name: str = "-"
    eni_id: str = "-"
    os: str = "-"  # the instance's OS view, e.g. "ens6 10.0.0.4 rule ok"


@dataclass
class StepReport:
    title: str
    rows: list[Row]
    launches: int
    continued: int
    abandoned: list[tuple[str, str]]  # (instance, reason)
    gave_up: int  # instances still missing when the step's simulated period ended
    conflicts: int
    attach_attempts: int
    releases: int
    metrics: dict[str, float]
    violations: list[str]
    seconds: float
    relaunches: int = 0  # replacements Auto Scaling launched for abandoned instances
    simulated_seconds: float = 0.0  # the step's simulated period used by relaunch rounds
    waiting: list[str] = field(default_factory=list)  # instances waiting for an address
    # (instance, ip, ms from its address's release to its CONTINUE) served by releases
    served: list[tuple[str, str, float]] = field(default_factory=list)


@dataclass
class RefreshReport:
    step: StepReport
    replaced: int  # old instances gone
    total: int
    ips_before: list[str]
    ips_after: list[str]
    stalled: str | None = None

    @property
    def addresses_kept(self) -> bool:
        return self.ips_before == self.ips_after


class Simulation:
    def __init__(
        self,
        session: Any,
        world: World,
        *,
        agent_online_after: float = 0.5,
        relaunch_round_seconds: float = RELAUNCH_ROUND_SECONDS,
        replacement_backoff: float = 0.05,
        parameters: dict[str, str] | None = None,
        emf_sink: list[dict[str, Any]] | None = None,
        sweeper_grace_seconds: int = 0,
    ) -> None:
        self.session = session
        self.world = world
        self.autoscaling = session.client("autoscaling")
        self.relaunch_round_seconds = relaunch_round_seconds
        self.replacement_backoff = replacement_backoff
        self._relaunches = 0
        self._simulated = 0.0
        moto_patches.apply()
        moto_patches.set_auto_register(agent_online_after)
        # Local runs do not wait minutes for the sweeper's grace periods.
        sweeper_env = {
            "FIXED_IP_LOST_LAUNCH_GRACE_SECONDS": str(sweeper_grace_seconds),
            "FIXED_IP_LEAK_GRACE_SECONDS": str(sweeper_grace_seconds),
        }
        self.runners = {
            name: FunctionRunner(
                TemplateFunction.from_template(
                    name,
                    parameters=parameters,
                    resource_names={"ConfigureDocument": world.document},
                ),
                extra_env={**FAST_POLLS, **sweeper_env},
            )
            for name in ("LaunchFunction", "TerminateFunction", "SweeperFunction")
        }
        self.runner = self.runners["LaunchFunction"]
        # All functions log through the same Powertools logger name (the service).
        self.logs = collect_logs(self.runner)
        for runner in self.runners.values():
            runner.prepare()
        self.emf = emf_sink if emf_sink is not None else []
        self.rules = rules_from_template(parameters)
        self.lambdas = {
            name: AsyncLambda(self.runners[name])
            for name in ("LaunchFunction", "TerminateFunction")
        }
        self.events: list[dict[str, Any]] = []
        self.dropped: list[dict[str, Any]] = []
        self._drop = 0
        moto_patches.add_lifecycle_listener(self._deliver)

    def fail_os_next(self, count: int = 1, distribution: str = "unknown") -> None:
        """The OS of the next `count` instances launched cannot configure the fixed address
        (default: a distribution nothing the script knows manages), so the controller
        abandons them `os_address_failed` and Auto Scaling replaces them."""
        moto_patches.queue_instance_os(distribution, count, region=self.world.region)

    def drop_next_events(self, count: int) -> None:
        """EventBridge delivers best-effort: lose the next `count` lifecycle events."""
        self._drop += count

    # EventBridge: every matching rule's target gets the event.
    def _deliver(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        if self._drop:
            self._drop -= 1
            self.dropped.append(event)
            return
        for rule in self.rules:
            if rule.function in self.lambdas and pattern_matches(rule.pattern, event):
                self.lambdas[rule.function].invoke_async(event)

    def close(self) -> None:
        moto_patches.clear_lifecycle_listeners()
        for fn in self.lambdas.values():
            fn.shutdown()

    # -- Auto Scaling ----------------------------------------------------------------------

    def scale(
        self,
        desired: int,
        *,
        max_size: int | None = None,
        title: str = "",
        period: float = STEP_PERIOD_SECONDS,
    ) -> StepReport:
        started = time.monotonic()
        mark = self._mark()
        params: dict[str, Any] = {"AutoScalingGroupName": self.world.group}
        if max_size is not None:
            params["MaxSize"] = max_size
        params["DesiredCapacity"] = desired
        self.autoscaling.update_auto_scaling_group(**params)
        gave_up = self.settle(desired, period=period)
        return self._report(title or f"desired {desired}", mark, gave_up, started)

    def _mark(self) -> tuple[int, int, int, float]:
        self._relaunches, self._simulated = 0, 0.0
        return len(self.logs.records), len(self.emf), 0, 0.0

    def waiting_ids(self) -> set[str]:
        """Instances whose launch action stays open on purpose: the controller's last
        word on them was "waiting for an address" (policy WAIT)."""
        last: dict[str, str] = {}
        for r in self.logs.records:
            iid = r.get("instance_id")
            if iid and r.get("decision") in {
                "lifecycle_waiting",
                "lifecycle_completed",
                "lifecycle_not_active",
                "waiting_for_address",
                "waiting_instance_served",
                "lost_launch_finished",
            }:
                if r.get("function_name") == "TerminateFunction" and r.get("decision") in {
                    "lifecycle_completed",
                    "lifecycle_not_active",
                }:
                    continue  # the terminating instance's own line
                last[iid] = r["decision"]
        return {i for i, d in last.items() if d in {"lifecycle_waiting", "waiting_for_address"}}

    def settle(
        self, desired: int, timeout: float = 60.0, period: float = STEP_PERIOD_SECONDS
    ) -> int:
        """Run until every lifecycle action has ended (or waits for an address, or lost
        its event) and the group holds `desired` instances. Abandoned launches are
        replaced as Auto Scaling does, round after round, until `period` simulated
        seconds are used. Returns how many instances are still missing then."""
        end = time.monotonic() + timeout
        while True:
            for fn in self.lambdas.values():
                fn.drain(timeout=max(1.0, end - time.monotonic()))
            moto_patches.expire_lifecycle_actions(self.world.region)
            dropped = {e["detail"]["EC2InstanceId"] for e in self.dropped}
            active = {
                a["instance_id"]
                for a in moto_patches.lifecycle_actions(self.world.region)
                if a["state"] == "active"
            }
            if active - dropped - self.waiting_ids():
                if time.monotonic() > end:
                    raise TimeoutError("lifecycle actions still active after the timeout")
                time.sleep(0.05)
                continue
            if active & dropped:
                return 0  # the lost actions wait for the sweeper (or their timeout)
            alive = [
                i
                for i in group_instances(self.autoscaling, self.world.group)
                if not i["LifecycleState"].startswith("Terminat")
            ]
            missing = desired - len(alive)
            if missing <= 0:
                return 0
            if self._simulated + self.relaunch_round_seconds > period:
                return missing
            # Auto Scaling replaces the abandoned launches: one more round.
            self._relaunches += missing
            self._simulated += self.relaunch_round_seconds
            time.sleep(self.replacement_backoff)
            self.autoscaling.set_desired_capacity(
                AutoScalingGroupName=self.world.group, DesiredCapacity=desired
            )

    def terminate(self, instance_id: str, *, decrement: bool = True, title: str = "") -> StepReport:
        """TerminateInstanceInAutoScalingGroup on one instance (a scale-in that names it)."""
        started = time.monotonic()
        mark = self._mark()
        self.autoscaling.terminate_instance_in_auto_scaling_group(
            InstanceId=instance_id, ShouldDecrementDesiredCapacity=decrement
        )
        desired = self._desired()
        gave_up = self.settle(desired)
        return self._report(title or f"terminate {instance_id}", mark, gave_up, started)

    def _desired(self) -> int:
        groups = self.autoscaling.describe_auto_scaling_groups(
            AutoScalingGroupNames=[self.world.group]
        )["AutoScalingGroups"]
        return int(groups[0]["DesiredCapacity"])

    def refresh(
        self, *, min_healthy: int = 90, max_healthy: int = 100, title: str = ""
    ) -> RefreshReport:
        """An instance refresh of the whole group, as Auto Scaling runs one:

        - MaxHealthyPercentage 100 (terminate-first): up to (100 - MinHealthyPercentage)%
          of the group (at least one) is terminated at a time; the group launches their
          replacements at once, while the old ones are still in Terminating:Wait (the
          assumption least favourable to a pool sized exactly: each replacement asks for
          an address before its predecessor released it); the next batch starts when
          the replacements are InService;
        - MaxHealthyPercentage above 100 (launch-first): (MaxHealthyPercentage - 100)% of
          the group (at least one) is launched above the desired capacity first; the old
          ones are terminated once the new ones are InService. When a new one cannot be
          InService (it waits for an address), the refresh cannot go on: reported as
          stalled (on AWS it would wait until the instance's wait ends)."""
        started = time.monotonic()
        mark = self._mark()
        old = [r.instance_id for r in self.rows() if r.state == "InService"]
        ips_before = sorted(r.ip for r in self.rows() if r.state == "InService")
        n = len(old)
        stalled: str | None = None
        todo = list(old)
        if max_healthy <= 100:
            batch = max(1, n * (100 - min_healthy) // 100)
            while todo:
                chunk, todo = todo[:batch], todo[batch:]
                for iid in chunk:
                    self.autoscaling.terminate_instance_in_auto_scaling_group(
                        InstanceId=iid, ShouldDecrementDesiredCapacity=False
                    )
                self.settle(n)
                new_rows = [r for r in self.rows() if r.instance_id not in old]
                if any(r.state != "InService" for r in new_rows):
                    stalled = "replacements not InService"
                    break
        else:
            batch = max(1, n * (max_healthy - 100) // 100)
            groups = self.autoscaling.describe_auto_scaling_groups(
                AutoScalingGroupNames=[self.world.group]
            )["AutoScalingGroups"]
            max_size = int(groups[0]["MaxSize"])
            while todo:
                chunk, todo = todo[:batch], todo[batch:]
                # AWS may exceed the maximum size by the MaxHealthyPercentage headroom.
                self.autoscaling.update_auto_scaling_group(
                    AutoScalingGroupName=self.world.group,
                    MaxSize=max(max_size, n + len(chunk)),
                    DesiredCapacity=n + len(chunk),
                )
                self.settle(n + len(chunk))
                new_rows = [r for r in self.rows() if r.instance_id not in old]
                if any(r.state != "InService" for r in new_rows):
                    stalled = (
                        f"{', '.join(r.instance_id for r in new_rows if r.state != 'InService')}"
                        " not InService: the old instances keep their addresses"
                    )
                    break
                for iid in chunk:
                    self.autoscaling.terminate_instance_in_auto_scaling_group(
                        InstanceId=iid, ShouldDecrementDesiredCapacity=True
                    )
                self.settle(n)
            if stalled is None:
                # Done: back to the group's own maximum (a stalled refresh is still going).
                self.autoscaling.update_auto_scaling_group(
                    AutoScalingGroupName=self.world.group, MaxSize=max_size
                )
        report = self._report(
            title or f"instance refresh (min {min_healthy}%, max {max_healthy}%)",
            mark,
            0,
            started,
        )
        remaining = [r for r in report.rows if r.instance_id in old]
        return RefreshReport(
            step=report,
            replaced=n - len(remaining),
            total=n,
            ips_before=ips_before,
            ips_after=sorted(r.ip for r in report.rows if r.state == "InService"),
            stalled=stalled,
        )

    def strand_eni(self, az: str) -> tuple[str, str]:
        """What a missed release can leave behind: a pool ENI attached to an instance
        (outside the group) that EC2 has been shutting down for an hour. Returns the
        instance and ENI ids. (moto cannot hold an instance in shutting-down, so the
        state is set on its model directly.)"""
        from moto.ec2.models import ec2_backends
        from moto.ec2.models.instances import InstanceState

        ec2 = self.session.client("ec2")
        free = [
            e
            for e in pool_enis(ec2, self.world.pool)
            if e["AvailabilityZone"] == az and e["Status"] == "available"
        ]
        if not free:
            raise RuntimeError(f"no free pool ENI in {az} to strand")
        instance_id = ec2.run_instances(
            ImageId="ami-12c6146b",
            MinCount=1,
            MaxCount=1,
            InstanceType="t3.micro",
            SubnetId=self.world.subnets[az],
        )["Instances"][0]["InstanceId"]
        eni_id = free[0]["NetworkInterfaceId"]
        ec2.attach_network_interface(
            NetworkInterfaceId=eni_id, InstanceId=instance_id, DeviceIndex=1
        )
        with moto_patches.LOCK:
            account = self.session.client("sts").get_caller_identity()["Account"]
            model = ec2_backends[account][self.world.region].get_instance(instance_id)
            model._state = InstanceState("shutting-down", 32)
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(time.time() - 3600))
            model._reason = f"User initiated ({stamp} GMT)"
        return instance_id, eni_id

    def sweep(self) -> dict[str, Any]:
        """One scheduled pass of the sweeper (EventBridge Scheduler's event shape)."""
        event = scheduled_event(self.world.region)
        return self.runners["SweeperFunction"].invoke(event)

    # -- Reporting -------------------------------------------------------------------------

    def rows(self) -> list[Row]:
        ec2 = self.session.client("ec2")
        by_instance = {}
        for eni in pool_enis(ec2, self.world.pool):
            holder = eni.get("Attachment", {}).get("InstanceId")
            if holder:
                by_instance[holder] = eni
        rows = []
        for inst in sorted(
            group_instances(self.autoscaling, self.world.group),
            key=lambda i: (i["AvailabilityZone"], i["InstanceId"]),
        ):
            iid = inst["InstanceId"]
            row = Row(iid, inst["AvailabilityZone"], inst["LifecycleState"])
            eni = by_instance.get(iid)
            if eni:
                row.ip, row.eni_id = eni["PrivateIpAddress"], eni["NetworkInterfaceId"]
                tags = {t["Key"]: t["Value"] for t in eni.get("TagSet", [])}
                row.host_name = moto_patches.os_hostname(iid) or f"({tags.get(HOSTNAME_TAG)}?)"
            view = moto_patches.instance_os(iid)
            if view is not None:
                row.os = view["summary"]
            rows.append(row)
        return rows

    def _report(
        self, title: str, mark: tuple[int, int, int, float], gave_up: int, started: float
    ) -> StepReport:
        mark_logs, mark_emf = mark[0], mark[1]
        records = self.logs.records[mark_logs:]
        finals = [
            r
            for r in records
            if r.get("decision") in {"lifecycle_completed", "lifecycle_not_active"}
            and r.get("function_name") == "LaunchFunction"
        ]
        releases = sum(
            1
            for r in records
            if r.get("decision") == "eni_detached" and r.get("function_name") == "TerminateFunction"
        )
        served = [
            (r["instance_id"], r.get("ip") or "-", float(r.get("release_to_continue_ms") or 0))
            for r in records
            if r.get("decision") == "waiting_instance_served" and r.get("result") == "CONTINUE"
        ]
        metrics: dict[str, float] = {}
        for blob in self.emf[mark_emf:]:
            for m in blob["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
                value = blob[m["Name"]]
                values = value if isinstance(value, list) else [value]
                metrics[m["Name"]] = metrics.get(m["Name"], 0) + sum(values)
        found = violations(
            self.session,
            self.world.group,
            self.world.pool,
            os_hostname=moto_patches.os_hostname,
            os_address=moto_patches.os_address,
        )
        found += self._unanswered()
        rows = self.rows()
        waiting = self.waiting_ids()
        return StepReport(
            title=title,
            rows=rows,
            launches=len(finals),
            continued=sum(1 for r in finals if r.get("result") == "CONTINUE"),
            abandoned=[
                (r["instance_id"], r.get("reason", "?"))
                for r in finals
                if r.get("result") == "ABANDON"
            ],
            gave_up=gave_up,
            conflicts=sum(int(r.get("conflicts", 0)) for r in finals),
            attach_attempts=sum(int(r.get("attach_attempts", 0)) for r in finals),
            releases=releases,
            metrics=metrics,
            violations=found,
            seconds=time.monotonic() - started,
            relaunches=self._relaunches,
            simulated_seconds=self._simulated,
            waiting=sorted(
                r.instance_id
                for r in rows
                if r.instance_id in waiting and r.state == "Pending:Wait"
            ),
            served=served,
        )

    def _unanswered(self) -> list[str]:
        """Invariant 3: every delivered action ended with a result or a retried error;
        none is left active, and none was dropped after the retries."""
        waiting = self.waiting_ids()
        found = [
            f"{a['instance_id']}: lifecycle action still active"
            for a in moto_patches.lifecycle_actions()
            if a["state"] == "active" and a["instance_id"] not in waiting
        ]
        for fn in self.lambdas.values():
            for inv in fn.invocations:
                if inv.failed:
                    iid = inv.event.get("detail", {}).get("EC2InstanceId")
                    found.append(f"{iid}: invocation failed after retries: {inv.errors[-1]}")
        return found
