"""The simulated OS of each EC2 instance, and what the stack's SSM document prints there.

Real instances run instance/fixed-ip-configure.sh (docs/os-configuration.md); this module
answers what that script would print, computed from the simulated world: its last stdout
line is ``FIXED_IP_RESULT {json}`` with the keys of the contract (ok, mode, manager,
interface, address, address_present, rule_present, table_route_present, host_name,
host_name_ok, persisted, changed, message), and the command ends ``Success`` when ok,
``Failed`` (exit 1) otherwise. What decides the answer:

- the interface is the one whose ENI has the MAC ``MacAddress`` and is attached to the
  instance; none (not attached, or attached elsewhere) fails as the script does when no
  interface with that MAC appears; its name follows the distribution (``ens6`` or ``eth1``
  for device index 1); device index 0, the primary, is refused;
- what manages the network comes from the instance's distribution (:data:`DISTRIBUTIONS`;
  Amazon Linux 2023 unless set): amazon-ec2-net-utils configures the ENI's own address by
  itself; netplan, NetworkManager and systemd-networkd get the configuration written by
  ``Mode=configure``; anything else fails naming the distribution;
- the address is present iff the configuration holds ``Address`` and the ENI really has
  that private address (the VPC delivers nothing else to it).

The old host-name document (parameter ``HostName`` only) sets the host name and prints no
result line, as its script did. Other documents succeed and change nothing.
State lives on moto's EC2 instance objects, so moto's reset wipes it.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field
from typing import Any

from fixed_ip.os_config import RESULT_PREFIX

MODES = ("configure", "verify", "skip")
# The real script waits this long for a hot-plugged interface (FIXED_IP_WAIT_SECONDS).
WAIT_SECONDS = 25
CONFIGURABLE = ("netplan", "networkmanager", "networkd")


@dataclass(frozen=True)
class Distribution:
    name: str  # os-release PRETTY_NAME, as the script names it in messages
    manager: str  # the contract's manager values
    naming: str  # "ens": ens5, ens6, ... (Nitro predictable names); "eth": eth0, eth1, ...
    platform: tuple[str, str]  # SSM PlatformName, PlatformVersion

    def interface(self, device_index: int) -> str:
        # On Nitro instances the PCI slot of device index N gives ens(5+N); images that
        # boot with net.ifnames=0 keep eth(N).
        return f"ens{5 + device_index}" if self.naming == "ens" else f"eth{device_index}"


#: The distributions an instance can run, by key (see :func:`set_instance_os`).
DISTRIBUTIONS: dict[str, Distribution] = {
    "amazon-linux-2023": Distribution(
        "Amazon Linux 2023", "ec2-net-utils", "ens", ("Amazon Linux", "2023")
    ),
    "amazon-linux-2": Distribution("Amazon Linux 2", "ec2-net-utils", "eth", ("Amazon Linux", "2")),
    "ubuntu-24.04": Distribution("Ubuntu 24.04.1 LTS", "netplan", "ens", ("Ubuntu", "24.04")),
    "ubuntu-22.04": Distribution("Ubuntu 22.04.5 LTS", "netplan", "ens", ("Ubuntu", "22.04")),
    "rhel-9": Distribution(
        "Red Hat Enterprise Linux 9.4 (Plow)",
        "networkmanager",
        "eth",
        ("Red Hat Enterprise Linux", "9.4"),
    ),
    "flatcar": Distribution(
        "Flatcar Container Linux by Kinvolk 4081.2.0", "networkd", "eth", ("Flatcar", "4081.2.0")
    ),
    # The fault knob: nothing the script knows manages the network here.
    # (The script's `manager` for it is "none".)
    "unknown": Distribution("Gentoo Linux", "none", "eth", ("Gentoo", "2.17")),
}
DEFAULT_DISTRIBUTION = "amazon-linux-2023"


@dataclass(frozen=True)
class NetConfig:
    """What the OS holds for one interface: the address, and the rule and table routes of
    the policy routing that answers from it."""

    address: str
    table: int
    persisted: bool


@dataclass
class InstanceOs:
    distribution: Distribution
    host_name: str | None = None
    config: dict[str, NetConfig] = field(default_factory=dict)  # interface -> config
    report: dict[str, Any] | None = None  # the last FIXED_IP_RESULT


def distribution(key: str) -> Distribution:
    if key not in DISTRIBUTIONS:
        raise ValueError(f"distribution must be one of {sorted(DISTRIBUTIONS)}, not {key!r}")
    return DISTRIBUTIONS[key]


def os_of(instance: Any) -> InstanceOs:
    """The OS of a moto EC2 instance (created on first use)."""
    state = getattr(instance, "_fixed_ip_os", None)
    if state is None:
        state = instance._fixed_ip_os = InstanceOs(DISTRIBUTIONS[DEFAULT_DISTRIBUTION])
    return state


def os_queue(ec2_backend: Any) -> list[str]:
    """Distributions for the next instances launched in this account and region."""
    return vars(ec2_backend).setdefault("_fixed_ip_os_queue", [])


def assign_queued_os(ec2_backend: Any, instances: list[Any]) -> None:
    queue = os_queue(ec2_backend)
    for instance in instances:
        if queue:
            instance._fixed_ip_os = InstanceOs(DISTRIBUTIONS[queue.pop(0)])


def _value(parameters: dict[str, Any], name: str, default: str = "") -> str:
    raw = parameters.get(name, default)
    if isinstance(raw, list):
        raw = raw[0] if raw else default
    return str(raw)


def run_document(instance: Any, parameters: dict[str, Any]) -> tuple[bool, str, str]:
    """Run the document ``parameters`` belong to on ``instance``: (succeeded, standard
    output, standard error)."""
    if "MacAddress" in parameters:
        return _configure(instance, parameters)
    if "HostName" in parameters:
        # The old host-name document: hostnamectl, then it prints before/after.
        state = os_of(instance)
        want = _value(parameters, "HostName")
        before, state.host_name = state.host_name, want
        return True, f"fixed-ip: hostname before={before or 'localhost'} after={want}\n", ""
    return True, "", ""


class _Run:
    """One run of the script: its report, notes (stdout) and problems (stderr)."""

    def __init__(self, state: InstanceOs, parameters: dict[str, Any]) -> None:
        self.dist = state.distribution
        self.mode = _value(parameters, "Mode", "configure") or "configure"
        self.address = _value(parameters, "Address")
        self.host = _value(parameters, "HostName") or None
        self.notes: list[str] = []
        self.problems: list[str] = []
        self.report: dict[str, Any] = {
            "ok": False,
            "mode": self.mode if self.mode in MODES else "configure",
            "manager": self.dist.manager,
            "interface": None,
            "address": self.address,
            "address_present": False,
            "rule_present": False,
            "table_route_present": False,
            "host_name": self.host,
            "host_name_ok": None,
            "persisted": False,
            "changed": False,
            "message": "",
        }

    def problem(self, text: str) -> None:
        self.problems.append(text)

    def finish(self) -> tuple[bool, str, str]:
        r = self.report
        address_ok = r["address_present"] and r["rule_present"] and r["table_route_present"]
        ok = (r["mode"] == "skip" or address_ok) and r["host_name_ok"] is not False
        if self.problems:
            ok = False
            r["message"] = "; ".join(self.problems)
        r["ok"] = ok
        stdout = "".join(f"fixed-ip: {n}\n" for n in self.notes)
        stdout += RESULT_PREFIX + json.dumps(r) + "\n"
        stderr = "".join(f"fixed-ip: {p}\n" for p in self.problems)
        return ok, stdout, stderr


def _inputs_problem(run: _Run, parameters: dict[str, Any]) -> str | None:
    """The script's own checks of its inputs (the document's allowedPattern comes first)."""
    if run.mode not in MODES:
        return f"Mode must be configure, verify or skip, got '{run.mode[:20]}'"
    try:
        address = ipaddress.IPv4Address(run.address)
        subnet = ipaddress.IPv4Network(_value(parameters, "SubnetCidr"))
    except ValueError as exc:
        return f"Address and SubnetCidr must be an IPv4 address and network: {exc}"
    if address not in subnet:
        return f"Address {address} is not inside SubnetCidr {subnet}"
    index = _value(parameters, "DeviceIndex")
    if not index.isdigit() or not 1 <= int(index) <= 31:
        return f"DeviceIndex must be 1 to 31, got '{index[:20]}'"
    return None


def _attached(instance: Any, mac: str) -> tuple[int, Any] | None:
    for index, eni in instance.nics.items():
        if (eni.mac_address or "").lower() == mac and eni.instance is instance:
            return int(index), eni
    return None


def _configure(instance: Any, parameters: dict[str, Any]) -> tuple[bool, str, str]:
    state = os_of(instance)
    run = _Run(state, parameters)
    bad = _inputs_problem(run, parameters)
    if bad:
        run.problem(bad)
        return _done(state, run)
    dist, mode, address = run.dist, run.mode, run.address
    mac = _value(parameters, "MacAddress").lower()
    table = 1000 + int(_value(parameters, "DeviceIndex"))
    run.notes.append(
        f"mode {mode}, {dist.name}, manager {dist.manager}, address {address} "
        f"({_value(parameters, 'SubnetCidr')}), MAC {mac}"
    )
    found = None if mode == "skip" else _attached(instance, mac)
    dev = None
    if mode != "skip":
        if found is None:
            run.problem(
                f"no interface with MAC {mac} appeared within {WAIT_SECONDS}s on {dist.name}"
            )
            return _done(state, run)
        index, eni = found
        dev = run.report["interface"] = dist.interface(index)
        if index == 0:
            run.problem(
                f"interface {dev} carries the main table's default route (the primary "
                "interface): not touching it"
            )
            return _done(state, run)
        run.notes.append(f"interface {dev}")
        if dist.manager == "ec2-net-utils":
            # It configured the hot-plugged ENI by itself (its own address, table 10000+N)
            # and writes that again at every boot.
            state.config[dev] = NetConfig(eni.private_ip_address, 10000 + index, True)
        if mode == "configure":
            _write_config(run, state, dev, NetConfig(address, table, True))
        config = state.config.get(dev)
        owned = {eni.private_ip_address} | {
            a.get("PrivateIpAddress") for a in eni.private_ip_addresses or []
        }
        present = config is not None and config.address == address and address in owned
        run.report.update(address_present=present, rule_present=present)
        run.report["table_route_present"] = present
        # As the script: persisted only once the address is verified (ec2-net-utils writes
        # its configuration again at every boot, but only what it has configured).
        if mode == "configure" and config is not None and present:
            run.report["persisted"] = config.persisted
    if run.host:
        if (state.host_name or "").lower() != run.host.lower():
            run.notes.append(f"host name {state.host_name or 'localhost'} -> {run.host}")
            state.host_name = run.host
            run.report["changed"] = True
        run.report["host_name_ok"] = True
    if mode == "skip":
        run.report["message"] = (
            f"Mode=skip: the address was neither configured nor checked on {dist.name}"
        )
    elif run.report["address_present"]:
        config = state.config[dev or ""]
        run.report["message"] = (
            f"{address} answers on {dev} (table {config.table}) on {dist.name}, {dist.manager}"
        )
    else:
        missing = [
            text
            for text, key in (
                (f"address {address} on {dev}", "address_present"),
                (f"rule 'from {address}'", "rule_present"),
                (f"default route out of {dev} in the rule's table", "table_route_present"),
            )
            if not run.report[key]
        ]
        run.problem(f"on {dist.name} ({dist.manager}, Mode={mode}) missing: {', '.join(missing)}")
    return _done(state, run)


def _write_config(run: _Run, state: InstanceOs, dev: str, wanted: NetConfig) -> None:
    manager, name = run.dist.manager, run.dist.name
    if manager == "ec2-net-utils":
        return  # it configures the ENI itself: wait and verify, change nothing
    if manager == "ifupdown":
        run.problem(
            f"{name} manages the network with ifupdown, which fixed-ip does not configure: "
            f"use Mode=verify and configure {dev} yourself (see docs/os-configuration.md)"
        )
        return
    if manager not in CONFIGURABLE:
        run.problem(
            f"{name} has none of amazon-ec2-net-utils, netplan (/etc/netplan/*.yaml), "
            "NetworkManager (enabled) or systemd-networkd (enabled): nothing to configure "
            f"{dev} with; use Mode=verify and configure it yourself"
        )
        return
    if state.config.get(dev) != wanted:
        state.config[dev] = wanted
        run.report["changed"] = True
        run.notes.append(f"wrote the {manager} configuration of {dev} and applied it")


def _done(state: InstanceOs, run: _Run) -> tuple[bool, str, str]:
    result = run.finish()
    state.report = dict(run.report)
    return result


def os_view(instance: Any) -> dict[str, Any]:
    """What the demo prints about the OS of ``instance``: its distribution, manager, host
    name and the last result line of the configure document, with a one-line ``summary``
    such as ``ens6 10.0.0.4 rule ok``."""
    state = os_of(instance)
    report = state.report
    if report is None:
        summary = "not configured by fixed-ip"
    elif report["mode"] == "skip":
        summary = "skipped (Mode=skip)"
    elif report["address_present"] and report["rule_present"] and report["table_route_present"]:
        summary = f"{report['interface']} {report['address']} rule ok"
    else:
        missing = [
            what
            for what, key in (
                ("address", "address_present"),
                ("rule", "rule_present"),
                ("table route", "table_route_present"),
            )
            if not report[key]
        ]
        summary = (
            f"{report['interface'] or 'no interface'} {report['address']} FAILED "
            f"({state.distribution.manager}; missing {', '.join(missing)})"
        )
    return {
        "distribution": state.distribution.name,
        "manager": state.distribution.manager,
        "host_name": state.host_name,
        "report": dict(report) if report else None,
        "summary": summary,
    }
