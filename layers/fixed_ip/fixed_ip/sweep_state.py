"""The state of one sweeper pass, shared by its steps (sweeper.py, sweep_launches.py,
sweep_reports.py), and its report."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fixed_ip.capacity import Capacity, Demand
from fixed_ip.error_codes import exception_fields
from fixed_ip.models import Instance, ManagedGroup, PoolEni
from fixed_ip.ports import Observer
from fixed_ip.waiting import LaunchHookOf


@dataclass
class SweepReport:
    groups: int = 0
    lost_launches: list[tuple[str, str | None]] = field(default_factory=list)  # (id, result)
    released: list[str] = field(default_factory=list)  # ENI ids
    without_eni: list[str] = field(default_factory=list)  # instance ids
    capacity: list[Capacity] = field(default_factory=list)  # per pool and AZ
    group_capacity: list[Capacity] = field(default_factory=list)  # per pool, group and AZ
    # (pool, host name) -> ids of the live instances sharing it
    duplicate_host_names: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    waiting: list[str] = field(default_factory=list)  # instances still waiting for an address
    outside: list[str] = field(default_factory=list)  # ENIs held outside every managed group
    errors: list[str] = field(default_factory=list)  # "step: error type" per failure
    stopped_early: str | None = None
    lost_pools: set[str] = field(default_factory=set)  # pools lost launches claimed from


@dataclass
class SweepPass:
    """One pass's shared state: the pools read once, the groups' demands, their members,
    the instances described so far, the instances waiting for an address."""

    now: datetime
    deadline: float
    observer: Observer
    report: SweepReport = field(default_factory=SweepReport)
    pools: dict[str, list[PoolEni]] = field(default_factory=dict)
    demands: list[Demand] = field(default_factory=list)
    # pool -> (group, live member instance) for the host-name check
    members: dict[str, list[tuple[str, Instance]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    member_ids: set[str] = field(default_factory=set)  # instances of the managed groups
    described: dict[str, Instance] = field(default_factory=dict)
    waiting: Counter[tuple[str, str]] = field(default_factory=Counter)  # (pool, AZ)
    # The groups whose lost and waiting launches run once leaked ENIs are released.
    launch_work: list[tuple[ManagedGroup, LaunchHookOf, Demand]] = field(default_factory=list)

    def failed(self, step: str, exc: BaseException, **ids: Any) -> None:
        """One failed step of the pass: a line with the error, a metric; the pass goes
        on."""
        self.report.errors.append(f"{step}: {type(exc).__name__}")
        self.observer.metric("SweepErrors")
        self.observer.decision(
            "sweep_step_failed", level="error", step=step, **ids, **exception_fields(exc)
        )
