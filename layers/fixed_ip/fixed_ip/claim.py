"""Claiming a pool ENI for an instance: the strategy the launch use case is given.

Concurrency model (docs/design.md, invariant 1). There is no lock service: AWS itself
arbitrates. Attaching an ENI that is in use fails with `InvalidNetworkInterface.InUse`,
so the attach *is* the claim on the ENI; attaching at a device index the instance already
uses fails with `InvalidParameterValue`, so the device index is the claim on the
instance. A duplicate event therefore can never give one instance two pool ENIs, and
two instances can never hold one ENI."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable

from fixed_ip.errors import (
    AttachRefused,
    AttachRejected,
    ClaimContention,
    DeviceIndexOccupied,
    EniGone,
    EniInUse,
    InstanceNotReady,
    InvalidHostName,
    PoolExhausted,
    PoolNotInAz,
)
from fixed_ip.hostname import validate_hostname
from fixed_ip.launch_run import LaunchRun
from fixed_ip.models import GROUPS_TAG, Instance, PoolEni
from fixed_ip.settings import Settings

# Bounds on the claim loop: each round re-reads the pool after a lost race.
MAX_CLAIM_ROUNDS = 12
BACKOFF_BASE_SECONDS = 0.05
# An attach refused with our device index seen free: most likely a duplicate attached
# there first and Describe* do not show it yet. Re-read after a pause; give up (ABANDON)
# only when AWS refuses again.
REFUSAL_PAUSE_SECONDS = 1.0
REFUSALS_BEFORE_GIVING_UP = 2

# Waits until EC2 shows the instance running again (the use case's own step).
ReadyInstance = Callable[[LaunchRun], Instance]


class ClaimStrategy(ABC):
    """How an instance gets its pool ENI: return the ENI it holds (attaching one if it
    holds none), or raise a ClaimFailure (ABANDON) or a Transient error (retried)."""

    @abstractmethod
    def claim(
        self,
        run: LaunchRun,
        instance: Instance,
        waiting: list[str],
        settings: Settings,
        ready: ReadyInstance,
    ) -> PoolEni: ...


def spread_order(instance_id: str, waiting: list[str], free: list[PoolEni]) -> list[PoolEni]:
    """The order in which `instance_id` tries the free ENIs.

    Every concurrent launch in the AZ sees (nearly) the same waiting instances and free
    ENIs, so ranking both lists the same way lets each instance aim at a different ENI:
    the k-th waiting instance (by id) takes the k-th free ENI (by IP). The seed's
    "everyone takes the lowest IP" made all but one launch collide. The rest of the list
    is in rendezvous-hash order, different per instance, for the rare lost race."""
    by_ip = sorted(free, key=lambda e: (e.ip_key, e.eni_id))
    ranked = sorted(set(waiting) | {instance_id})
    rank = ranked.index(instance_id)

    def weight(eni: PoolEni) -> bytes:
        return hashlib.blake2b(f"{instance_id}/{eni.eni_id}".encode(), digest_size=8).digest()

    first = [by_ip[rank]] if rank < len(by_ip) else []
    rest = sorted((e for e in by_ip if e not in first), key=weight)
    return first + rest


class SpreadClaim(ClaimStrategy):
    """The controller's claim: concurrent launches aim at distinct ENIs (spread_order);
    a lost race re-reads the pool and aims again, with a growing, per-instance back-off."""

    def claim(
        self,
        run: LaunchRun,
        instance: Instance,
        waiting: list[str],
        settings: Settings,
        ready: ReadyInstance,
    ) -> PoolEni:
        compute, lifecycle = run.deps.compute, run.deps.lifecycle
        observer, req, out = run.observer, run.req, run.out
        refusals = 0
        for round_no in range(MAX_CLAIM_ROUNDS):
            if round_no:
                _backoff(run, round_no)
                waiting = lifecycle.waiting_instances(req.group, instance.az)
            enis = compute.list_pool_enis(
                tag_key=settings.pool_tag_key,
                pool=req.pool,
                az=instance.az,
                vpc_id=instance.vpc_id or "",
            )
            if not enis:
                raise PoolNotInAz(
                    f"pool {req.pool!r} has no ENI in {instance.az} (VPC {instance.vpc_id}): "
                    f"tag ENIs with {settings.pool_tag_key}={req.pool} in that AZ"
                )
            held = _held(run, instance, enis)
            if held is not None:
                out.resumed = out.attach_attempts == 0
                if out.resumed:
                    observer.decision(
                        "eni_already_held", az=instance.az, eni_id=held.eni_id, ip=held.ip
                    )
                return held
            if refusals >= REFUSALS_BEFORE_GIVING_UP:
                # Refused again although re-reads, a pause apart, show the index free and
                # nothing held: not a race, and retrying will not change AWS's answer.
                raise AttachRefused(
                    f"AWS refused to attach a pool ENI to {req.instance_id} at device index "
                    f"{req.device_index} (InvalidParameterValue) with the index free",
                    aws_error="InvalidParameterValue",
                )
            free = usable(run, (e for e in enis if e.free), first=round_no == 0)
            if not free:
                in_use = sum(1 for e in enis if not e.free)
                raise PoolExhausted(
                    f"pool {req.pool!r} has no free ENI in {instance.az} "
                    f"({in_use} of {len(enis)} in use or unusable)"
                )
            holders = {e.instance_id for e in enis if e.held}
            rivals = [i for i in waiting if i not in holders]
            eni = spread_order(req.instance_id, rivals, free)[0]
            out.attach_attempts += 1
            try:
                compute.attach(
                    eni_id=eni.eni_id, instance_id=req.instance_id, device_index=req.device_index
                )
            except (EniInUse, EniGone) as exc:
                # Lost the race for this ENI (or it vanished): re-read and aim again.
                conflict(run, instance, eni, exc.reason)
                continue
            except AttachRejected as exc:
                # Most likely a duplicate delivery attached at our device index first:
                # re-read the instance and the pool; the next round resumes from it.
                # A re-read right away may not show that attachment yet: pause first.
                conflict(run, instance, eni, exc.reason)
                run.sleep_within(REFUSAL_PAUSE_SECONDS)
                instance = compute.describe_instance(req.instance_id) or instance
                refusals += 1
                continue
            except InstanceNotReady:
                # Still pending after all: wait until it runs, then aim again.
                instance = ready(run)
                continue
            observer.metric("Claims")
            observer.decision(
                "eni_claimed",
                az=instance.az,
                eni_id=eni.eni_id,
                ip=eni.ip,
                host_name=eni.host_name,
                attach_attempts=out.attach_attempts,
            )
            return eni
        raise ClaimContention(
            f"no ENI claimed after {MAX_CLAIM_ROUNDS} rounds of lost races in {instance.az}; "
            "the retried event tries again"
        )


def _held(run: LaunchRun, instance: Instance, enis: list[PoolEni]) -> PoolEni | None:
    """The pool ENI this instance already holds at the configured device index, if any."""
    req = run.req
    # Never the primary (device index 0), even when it carries the pool tag.
    mine = sorted(
        (e for e in enis if e.instance_id == req.instance_id and e.held),
        key=lambda e: e.device_index or 0,
    )
    occupant = instance.interface_at(req.device_index)
    if not mine and occupant is not None:
        # A pool ENI at our index that the pool listing does not show as ours yet
        # (Describe* calls are eventually consistent): a duplicate attached it.
        mine = [e for e in enis if e.eni_id == occupant.eni_id]
        if not mine:
            raise DeviceIndexOccupied(
                f"device index {req.device_index} of {req.instance_id} holds "
                f"{occupant.eni_id}, which is not in pool {req.pool!r}"
            )
    return mine[0] if mine else None


def conflict(run: LaunchRun, instance: Instance, eni: PoolEni, reason: str) -> None:
    """A lost race for `eni`: counted, and one log line."""
    run.out.conflicts += 1
    run.observer.metric("ClaimConflicts")
    run.observer.decision(
        "claim_conflict", az=instance.az, eni_id=eni.eni_id, ip=eni.ip, reason=reason
    )


def _backoff(run: LaunchRun, round_no: int) -> None:
    """A short pause before re-reading after a lost race, growing per round and
    different per instance (so rivals do not re-read in lockstep), within the
    deadline: attach calls come from EC2's small mutation budget (5/s refill)."""
    jitter = hashlib.blake2b(f"{run.req.instance_id}/{round_no}".encode(), digest_size=2)
    cap = min(2.0, BACKOFF_BASE_SECONDS * 2**round_no)
    run.sleep_within(cap * (0.5 + int.from_bytes(jitter.digest()) / 131070))


def usable(run: LaunchRun, candidates: Iterable[PoolEni], *, first: bool) -> list[PoolEni]:
    """Free ENIs whose host-name tag, when they have one, is valid and that admit the
    group; the others are refused, each with a log line, so one bad tag cannot reach an
    instance or block the pool. An ENI without a host-name tag serves its address."""
    result = []
    for eni in candidates:
        if not eni.admits(run.req.group):
            if first:
                allowed = eni.tags.get(GROUPS_TAG)
                detail = f"{GROUPS_TAG}={allowed!r} does not admit group {run.req.group!r}"
                refuse(run, eni, "group_not_allowed", detail)
            continue
        try:
            if eni.host_name is not None:
                validate_hostname(eni.host_name)
        except InvalidHostName as exc:
            if first:  # later rounds: refused (and counted) already
                run.observer.metric("InvalidHostNames")
                refuse(run, eni, "invalid_host_name", str(exc))
            continue
        result.append(eni)
    return result


def refuse(run: LaunchRun, eni: PoolEni, reason: str, detail: str) -> None:
    run.observer.decision(
        "eni_refused",
        level="warning",
        az=eni.az,
        eni_id=eni.eni_id,
        ip=eni.ip,
        reason=reason,
        detail=detail,
    )
