"""In-memory fakes of the ports, for the use case's unit tests.

`FakeCloud` keeps one small world (instances, ENIs, lifecycle actions, SSM agents and
commands) and enforces the same conflicts AWS does: an ENI attaches to one instance, a
device index holds one interface."""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fixed_ip.errors import AgentNotOnline, AttachRejected, EniGone, EniInUse, InstanceGone
from fixed_ip.models import GroupInstance, Hook, Instance, Interface, ManagedGroup, PoolEni
from fixed_ip.os_config import OsConfig
from fixed_ip.ports import Clock, CommandResult, Compute, Lifecycle, Observer, RunCommand

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@dataclass
class FakeEni:
    eni_id: str
    ip: str
    az: str
    pool: str | None
    host_name: str | None
    vpc_id: str = "vpc-1"
    instance_id: str | None = None
    device_index: int | None = None
    extra_tags: dict[str, str] = field(default_factory=dict)
    attached_at: datetime | None = None
    mac: str = ""

    def __post_init__(self) -> None:
        self.mac = self.mac or "02:00:00:00:" + ":".join(
            f"{int(p):02x}" for p in self.ip.split(".")[-2:]
        )


@dataclass
class FakeInstance:
    instance_id: str
    az: str
    group: str = "web-asg"
    state: str = "running"
    vpc_id: str = "vpc-1"
    lifecycle: str = "Pending:Wait"
    tags: dict[str, str] = field(default_factory=dict)
    nics: dict[int, str] = field(default_factory=lambda: {0: "eni-primary"})
    launch_time: datetime = field(default_factory=lambda: NOW - timedelta(hours=1))
    state_changed_at: datetime | None = None


class FakeClock(Clock):
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def utcnow(self) -> datetime:
        return NOW + timedelta(seconds=self.now - 1000.0)


class RecordingObserver(Observer):
    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []
        self.metrics: list[tuple[str, float]] = []
        self.dimensioned: list[tuple[str, float, dict[str, str]]] = []

    def decision(self, what: str, *, level: str = "info", **fields: Any) -> None:
        self.lines.append({"decision": what, "level": level, **fields})

    def metric(
        self,
        name: str,
        value: float = 1,
        unit: str = "Count",
        dimensions: dict[str, str] | None = None,
    ) -> None:
        self.metrics.append((name, value))
        self.dimensioned.append((name, value, dict(dimensions or {})))

    def bind(self, **fields: Any) -> None:
        self.bound = {**getattr(self, "bound", {}), **fields}

    def add_secret(self, secret: str) -> None:
        self.secrets = [*getattr(self, "secrets", []), secret]

    def dimension(self, name: str, value: str) -> None:
        self.dimensions = {**getattr(self, "dimensions", {}), name: value}

    def flush(self) -> None:
        self.flushed = True

    def count(self, name: str) -> float:
        return sum(v for n, v in self.metrics if n == name)

    def decisions(self) -> list[str]:
        return [line["decision"] for line in self.lines]


class FakeCloud(Compute, Lifecycle, RunCommand):
    POOL_TAG = "fixed-ip:pool"

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.clock = clock or FakeClock()
        self.lock = threading.Lock()
        self.instances: dict[str, FakeInstance] = {}
        self.enis: dict[str, FakeEni] = {}
        self.calls: list[str] = []
        self.completed: list[tuple[str, str]] = []  # (instance_id, result)
        self.completed_tokens: list[str | None] = []
        self.heartbeats: list[str] = []
        self.active: set[str] = set()  # instance ids with an active launch action
        self.agent_online_at: dict[str, float] = {}
        self.command_outcome: dict[str, list[str]] = {}  # instance -> statuses to report
        self.commands: dict[str, tuple[str, OsConfig]] = {}
        self.os_hostname: dict[str, str] = {}
        self.os_fault: dict[str, str] = {}  # instance -> why its OS cannot take the address
        self.hostname_fault: dict[str, str] = {}  # instance -> why the host name fails
        self.attach_hook: Any = None  # called before each attach (fault injection)
        # group name -> (max size, AZs, hooks, max healthy percentage)
        self.groups: dict[str, tuple[int, tuple[str, ...], tuple[Hook, ...], int | None]] = {}
        self.group_subnets: dict[str, tuple[str, ...]] = {}  # group -> its subnets
        self.subnet_vpc: dict[str, str] = {}  # subnet -> VPC
        self._ids = itertools.count(1)

    # -- world building ---------------------------------------------------------------

    def add_instance(self, instance_id: str, az: str = "az-a", **kw: Any) -> FakeInstance:
        inst = FakeInstance(instance_id, az, **kw)
        self.instances[instance_id] = inst
        self.active.add(instance_id)
        self.agent_online_at.setdefault(instance_id, 0.0)
        return inst

    def add_eni(
        self, ip: str, host_name: str | None, az: str = "az-a", pool: str | None = "web", **kw: Any
    ) -> FakeEni:
        eni = FakeEni(f"eni-{next(self._ids):04d}", ip, az, pool, host_name, **kw)
        self.enis[eni.eni_id] = eni
        return eni

    def reactivate(self, instance_id: str) -> None:
        """The action is active again (a retried event while it still waits)."""
        self.active.add(instance_id)
        self.instances[instance_id].lifecycle = "Pending:Wait"

    def held_by(self, instance_id: str) -> list[FakeEni]:
        return [e for e in self.enis.values() if e.instance_id == instance_id]

    def mutations(self) -> list[str]:
        mutating = {
            "attach",
            "detach",
            "tag_instance",
            "send_configure",
            "complete",
            "heartbeat",
        }
        return [c for c in self.calls if c in mutating]

    # -- Compute ----------------------------------------------------------------------

    def describe_instance(self, instance_id: str) -> Instance | None:
        self.calls.append("describe_instance")
        inst = self.instances.get(instance_id)
        if inst is None:
            return None
        return Instance(
            instance_id=inst.instance_id,
            state=inst.state,
            az=inst.az,
            vpc_id=inst.vpc_id,
            group=inst.group,
            interfaces=tuple(Interface(e, i) for i, e in sorted(inst.nics.items())),
            launch_time=inst.launch_time,
            state_changed_at=inst.state_changed_at,
            host_name=inst.tags.get("HostName"),
        )

    def list_pool_enis(self, *, tag_key: str, pool: str, az: str, vpc_id: str) -> list[PoolEni]:
        self.calls.append("list_pool_enis")
        with self.lock:
            return [
                self._pool_eni(e)
                for e in self.enis.values()
                if e.pool == pool and e.az == az and e.vpc_id == vpc_id
            ]

    def attach(self, *, eni_id: str, instance_id: str, device_index: int) -> str:
        self.calls.append("attach")
        if self.attach_hook:
            self.attach_hook(eni_id, instance_id)
        with self.lock:
            eni = self.enis.get(eni_id)
            inst = self.instances.get(instance_id)
            if eni is None:
                raise EniGone(eni_id)
            if inst is None or inst.state != "running":
                raise InstanceGone(instance_id)
            if eni.instance_id is not None:
                raise EniInUse(eni_id)
            if device_index in inst.nics:
                raise AttachRejected(instance_id)
            eni.instance_id, eni.device_index = instance_id, device_index
            eni.attached_at = self.clock.utcnow()
            inst.nics[device_index] = eni_id
            return f"attach-{eni_id}"

    def tag_instance(self, instance_id: str, tags: dict[str, str]) -> None:
        self.calls.append("tag_instance")
        self.instances[instance_id].tags.update(tags)

    def _pool_eni(self, e: FakeEni) -> PoolEni:
        return PoolEni(
            eni_id=e.eni_id,
            ip=e.ip,
            az=e.az,
            subnet_id="subnet-" + e.az,
            vpc_id=e.vpc_id,
            status="in-use" if e.instance_id else "available",
            host_name=e.host_name,
            instance_id=e.instance_id,
            device_index=e.device_index,
            attachment_id=f"attach-{e.eni_id}" if e.instance_id else None,
            mac=e.mac,
            tags={**({"fixed-ip:pool": e.pool} if e.pool else {}), **e.extra_tags},
            attached_at=e.attached_at if e.instance_id else None,
        )

    def enis_of_instance(self, instance_id: str, *, tag_key: str) -> list[PoolEni]:
        self.calls.append("enis_of_instance")
        return [
            self._pool_eni(e) for e in self.enis.values() if e.instance_id == instance_id and e.pool
        ]

    def describe_enis(self, eni_ids: list[str]) -> list[PoolEni]:
        self.calls.append("describe_enis")
        return [self._pool_eni(self.enis[i]) for i in eni_ids if i in self.enis]

    def detach(self, attachment_id: str) -> bool:
        self.calls.append("detach")
        with self.lock:
            for e in self.enis.values():
                if e.instance_id and f"attach-{e.eni_id}" == attachment_id:
                    inst = self.instances.get(e.instance_id)
                    if inst is not None:
                        inst.nics.pop(e.device_index or 0, None)
                    e.instance_id, e.device_index = None, None
                    return True
        return False

    def describe_instances(self, instance_ids: list[str]) -> list[Instance]:
        self.calls.append("describe_instances")
        found = []
        for iid in instance_ids:
            if iid in self.instances:
                inst = self.describe_instance(iid)
                self.calls.pop()
                found.append(inst)
        return found

    def list_pool(self, *, tag_key: str, pool: str) -> list[PoolEni]:
        self.calls.append("list_pool")
        return [self._pool_eni(e) for e in self.enis.values() if e.pool == pool]

    def subnet_vpcs(self, subnet_ids: list[str]) -> dict[str, str]:
        self.calls.append("subnet_vpcs")
        return {s: self.subnet_vpc[s] for s in subnet_ids if s in self.subnet_vpc}

    def add_group(
        self,
        name: str = "web-asg",
        max_size: int = 6,
        azs: tuple[str, ...] = ("az-a", "az-c"),
        hooks: tuple[Hook, ...] = (Hook("fixed-ip-launch", "autoscaling:EC2_INSTANCE_LAUNCHING"),),
        max_healthy_percentage: int | None = None,
    ) -> None:
        self.groups[name] = (max_size, azs, hooks, max_healthy_percentage)

    def managed_groups(self, hook_prefix: str) -> list[ManagedGroup]:
        self.calls.append("managed_groups")
        out = []
        for name, (max_size, azs, hooks, mhp) in self.groups.items():
            mine = tuple(h for h in hooks if h.name.startswith(hook_prefix))
            if not mine:
                continue
            out.append(
                ManagedGroup(
                    name=name,
                    max_size=max_size,
                    azs=azs,
                    instances=tuple(
                        GroupInstance(i.instance_id, i.az, i.lifecycle)
                        for i in self.instances.values()
                        if i.group == name and i.state not in {"terminated"}
                    ),
                    hooks=mine,
                    max_healthy_percentage=mhp,
                    subnet_ids=self.group_subnets.get(name, ()),
                )
            )
        return out

    def managed_group(self, name: str, hook_prefix: str) -> ManagedGroup | None:
        found = [g for g in self.managed_groups(hook_prefix) if g.name == name]
        return found[0] if found else None

    # -- Lifecycle --------------------------------------------------------------------

    def waiting_instances(self, group: str, az: str) -> list[str]:
        self.calls.append("waiting_instances")
        return [
            i.instance_id
            for i in self.instances.values()
            if i.group == group and i.az == az and i.lifecycle == "Pending:Wait"
        ]

    def heartbeat(self, *, group: str, hook: str, token: str | None, instance_id: str) -> bool:
        self.calls.append("heartbeat")
        self.heartbeats.append(instance_id)
        return instance_id in self.active

    def complete(self, *, group: str, hook: str, token: str, instance_id: str, result: str) -> bool:
        self.calls.append("complete")
        self.completed_tokens.append(token)
        with self.lock:
            if instance_id not in self.active:
                return False
            self.active.discard(instance_id)
            self.completed.append((instance_id, result))
            inst = self.instances.get(instance_id)
            if inst is not None:
                inst.lifecycle = "InService" if result == "CONTINUE" else "Terminating"
            return True

    # -- RunCommand -------------------------------------------------------------------

    def agent_online(self, instance_id: str) -> bool:
        at = self.agent_online_at.get(instance_id)
        return at is not None and self.clock.monotonic() >= at

    def send_configure(self, instance_id: str, config: OsConfig, timeout_seconds: int) -> str:
        self.calls.append("send_configure")
        if not self.agent_online(instance_id):
            raise AgentNotOnline(instance_id)
        command_id = f"cmd-{next(self._ids)}"
        self.commands[command_id] = (instance_id, config)
        return command_id

    def command_result(self, command_id: str, instance_id: str) -> CommandResult:
        """The final status from `command_outcome` (default Success); a finished command
        prints what the real script would: its verification of the fake OS."""
        self.calls.append("command_result")
        statuses = self.command_outcome.get(instance_id)
        status = statuses.pop(0) if statuses and len(statuses) > 1 else (statuses or ["Success"])[0]
        if status not in {"Success", "Failed"}:
            return CommandResult(status)
        config = self.commands[command_id][1]
        report = self.os_report(instance_id, config)
        if status == "Success" and report["ok"] and config.host_name:
            self.os_hostname[instance_id] = config.host_name
        status = status if report["ok"] else "Failed"
        return CommandResult(status, "fixed-ip: ...\nFIXED_IP_RESULT " + json.dumps(report))

    def os_report(self, instance_id: str, config: OsConfig) -> dict[str, Any]:
        """The script's verification line on the fake OS: the address is there when the
        ENI with that MAC and address is attached to the instance, unless `os_fault`
        names the instance (an OS the script cannot configure)."""
        eni = next((e for e in self.enis.values() if e.mac == config.mac), None)
        inst = self.instances.get(instance_id)
        attached = eni is not None and (
            eni.instance_id == instance_id
            or (inst is not None and eni.eni_id in inst.nics.values())
        )
        here = attached and eni is not None and eni.ip == config.address
        fault = self.os_fault.get(instance_id)
        present = here and fault is None and config.mode != "skip"
        host_ok = None if not config.host_name else self.hostname_fault.get(instance_id) is None
        ok = (config.mode == "skip" or present) and host_ok is not False
        return {
            "ok": ok,
            "mode": config.mode,
            "manager": "netplan",
            "interface": f"ens{5 + (eni.device_index or 1)}" if here and eni else None,
            "address": config.address,
            "address_present": present,
            "rule_present": present,
            "table_route_present": present,
            "host_name": config.host_name,
            "host_name_ok": host_ok,
            "persisted": present,
            "changed": present,
            "message": fault or self.hostname_fault.get(instance_id) or "configured and verified",
        }

    def subnet_cidr(self, subnet_id: str) -> str:
        self.calls.append("subnet_cidr")
        return "10.0.0.0/24"
