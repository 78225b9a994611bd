"""Real Linux network namespaces, fixture root trees and a runner for the on-instance script.

Nothing here is mocked: the script runs with bash, the real `ip`, `hostname` and `netplan`,
inside network namespaces made for the test (plus a UTS namespace, so that setting the host
name never touches the machine's). Every file path of the script is under a fixture root
(FIXED_IP_ROOT). Only addresses inside the namespaces are ever used.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "instance" / "fixed-ip-configure.sh"
INSTALL_DEPS = REPO / "tests" / "instance" / "install-deps.sh"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
IP = shutil.which("ip", path=PATH) or "/usr/sbin/ip"

RESULT_KEYS = {
    "ok",
    "mode",
    "manager",
    "interface",
    "address",
    "address_present",
    "rule_present",
    "table_route_present",
    "host_name",
    "host_name_ok",
    "persisted",
    "changed",
    "message",
}

# The ENI of the seed article's first pool entry (10.0.1.0/24 here: the instance's primary
# subnet is 10.0.0.0/24, the pool ENI's subnet another one, as in a real VPC).
ADDRESS = "10.0.1.4"
CIDR = "10.0.1.0/24"
MAC = "0a:00:00:00:01:06"
PRIMARY_MAC = "0a:00:00:00:00:05"
PRIMARY_ADDRESS = "10.0.0.10"


def sh(*cmd: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - fixed argument lists, no shell
        list(cmd), capture_output=True, text=True, check=check, timeout=timeout
    )


def _netns_unusable() -> str | None:
    """Why namespace tests cannot run here, or None when they can (a real probe)."""
    if os.geteuid() != 0:
        return "needs root: network namespaces and veth pairs (CI runs the suite as root)"
    for tool in ("ip", "unshare", "bash", "hostname"):
        if not shutil.which(tool, path=PATH):
            return f"`{tool}` is not installed"
    probe = f"fip-probe-{os.getpid()}"
    try:
        sh("ip", "netns", "add", probe)
    except subprocess.CalledProcessError as exc:
        return f"`ip netns add` fails here: {exc.stderr.strip()}"
    try:
        made = sh(
            "ip",
            "-n",
            probe,
            "link",
            "add",
            "probe0",
            "type",
            "veth",
            "peer",
            "name",
            "probe1",
            check=False,
        )
        if made.returncode:
            return f"cannot create veth pairs: {made.stderr.strip()}"
        uts = sh("ip", "netns", "exec", probe, "unshare", "--uts", "true", check=False)
        if uts.returncode:
            return f"cannot create UTS namespaces: {uts.stderr.strip()}"
    finally:
        sh("ip", "netns", "del", probe, check=False)
    return None


NETNS_UNUSABLE = _netns_unusable()
# The mark of every test that needs namespaces: skipped, saying why, where they cannot run.
needs_netns = pytest.mark.skipif(
    NETNS_UNUSABLE is not None, reason=f"network namespaces unavailable: {NETNS_UNUSABLE}"
)


_counter = itertools.count()


class Namespaces:
    """Network namespaces for one test, named uniquely (xdist workers run in parallel) and
    always deleted, with every process left in them, even when the test fails."""

    def __init__(self) -> None:
        self.prefix = f"fip{os.getpid()}-{next(_counter)}"
        self.names: list[str] = []

    def add(self, role: str) -> str:
        name = f"{self.prefix}-{role}"
        sh("ip", "netns", "add", name)
        self.names.append(name)
        self.run(name, "ip", "link", "set", "lo", "up")
        return name

    def run(self, ns: str, *cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return sh("ip", "netns", "exec", ns, *cmd, check=check)

    def ip(self, ns: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return sh("ip", "-n", ns, *args, check=check)

    def close(self) -> None:
        for name in reversed(self.names):
            pids = sh("ip", "netns", "pids", name, check=False).stdout.split()
            for pid in pids:
                sh("kill", "-9", pid, check=False)
            sh("ip", "netns", "del", name, check=False)
        self.names.clear()

    def __enter__(self) -> Namespaces:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def add_veth(
    nss: Namespaces, ns: str, name: str, peer_ns: str, peer: str, mac: str | None = None
) -> None:
    """A veth pair: `name` in `ns` (with `mac`), `peer` in `peer_ns`, the peer up."""
    args = ["link", "add", name]
    if mac:
        args += ["address", mac]
    args += ["type", "veth", "peer", "name", peer, "netns", peer_ns]
    nss.ip(ns, *args)
    nss.ip(peer_ns, "link", "set", peer, "up")


def make_instance(nss: Namespaces) -> str:
    """An instance namespace: primary ens5 (10.0.0.10/24, the main table's default route)
    and the pool ENI ens6 with its MAC, down and without an address, as a hot-plugged ENI
    is before anything configures it. The veth peers stay in the same namespace."""
    ns = nss.add("inst")
    add_veth(nss, ns, "ens5", ns, "ens5-p", mac=PRIMARY_MAC)
    add_veth(nss, ns, "ens6", ns, "ens6-p", mac=MAC)
    nss.ip(ns, "link", "set", "ens5", "up")
    nss.ip(ns, "addr", "add", f"{PRIMARY_ADDRESS}/24", "dev", "ens5")
    nss.ip(ns, "route", "add", "default", "via", "10.0.0.1", "dev", "ens5")
    return ns


# --- fixture roots ---------------------------------------------------------------------------

OS_RELEASE = {
    "ubuntu": ('PRETTY_NAME="Ubuntu 24.04.1 LTS"', "ID=ubuntu", 'VERSION_ID="24.04"'),
    "rocky": ('PRETTY_NAME="Rocky Linux 9.5 (Blue Onyx)"', 'ID="rocky"', 'VERSION_ID="9.5"'),
    "debian": ('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"', "ID=debian", 'VERSION_ID="12"'),
    "al2023": ('PRETTY_NAME="Amazon Linux 2023.6.20241010"', 'ID="amzn"', 'VERSION_ID="2023"'),
    "alpine": ('PRETTY_NAME="Alpine Linux v3.20"', "ID=alpine", "VERSION_ID=3.20.3"),
}

CLOUD_INIT_NETPLAN = """\
# This file is generated from information provided by the datasource.
network:
    ethernets:
        ens5:
            dhcp4: true
            dhcp6: false
            match:
                macaddress: 0a:00:00:00:00:05
            set-name: ens5
    version: 2
"""


def make_root(base: Path, kind: str) -> Path:
    """A fixture root tree for one kind of instance: its os-release and what its network
    manager installs (the markers the script detects the manager by)."""
    root = base / f"root-{kind}"
    distro = {
        "netplan": "ubuntu",
        "networkmanager": "rocky",
        "networkd": "debian",
        "ec2-net-utils": "al2023",
        "ifupdown": "debian",
        "none": "alpine",
    }[kind]
    etc = root / "etc"
    etc.mkdir(parents=True)
    (etc / "os-release").write_text("\n".join(OS_RELEASE[distro]) + "\n")
    (etc / "hosts").write_text("127.0.0.1 localhost\n::1 localhost ip6-localhost\n")
    (etc / "hostname").write_text("ip-10-0-0-10\n")

    def touch(path: str) -> None:
        p = root / path
        p.parent.mkdir(parents=True, exist_ok=True)
        p.touch()

    if kind == "netplan":
        (etc / "cloud" / "cloud.cfg.d").mkdir(parents=True)
        (etc / "netplan").mkdir()
        (etc / "netplan" / "50-cloud-init.yaml").write_text(CLOUD_INIT_NETPLAN)
        (etc / "netplan" / "50-cloud-init.yaml").chmod(0o600)
        touch("usr/sbin/netplan")
        touch("usr/lib/systemd/systemd-networkd")
    elif kind == "networkmanager":
        (etc / "cloud" / "cloud.cfg.d").mkdir(parents=True)
        touch("usr/sbin/NetworkManager")
        touch("etc/systemd/system/multi-user.target.wants/NetworkManager.service")
        (etc / "NetworkManager" / "system-connections").mkdir(parents=True)
    elif kind == "networkd":
        touch("usr/lib/systemd/systemd-networkd")
        touch("etc/systemd/system/multi-user.target.wants/systemd-networkd.service")
        (etc / "systemd" / "network").mkdir(parents=True, exist_ok=True)
        (etc / "systemd" / "network" / "50-dhcp.network").write_text(
            "[Match]\nName=en*\n\n[Network]\nDHCP=yes\n"
        )
    elif kind == "ec2-net-utils":
        (etc / "cloud" / "cloud.cfg.d").mkdir(parents=True)
        touch("usr/lib/systemd/system/policy-routes@.service")
        touch("usr/bin/setup-policy-routes")
        touch("usr/lib/systemd/systemd-networkd")
        touch("etc/systemd/system/multi-user.target.wants/systemd-networkd.service")
    elif kind == "ifupdown":
        (etc / "network").mkdir()
        (etc / "network" / "interfaces").write_text("source /etc/network/interfaces.d/*\n")
        touch("sbin/ifup")
    return root


def snapshot(root: Path) -> dict[str, tuple[int, int, int, bytes]]:
    """Every file under root: (inode, mtime_ns, mode, content), to prove nothing was
    rewritten (same inode and mtime) or changed."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            st = p.stat()
            out[str(p.relative_to(root))] = (st.st_ino, st.st_mtime_ns, st.st_mode, p.read_bytes())
    return out


# --- running the script ----------------------------------------------------------------------


@dataclass
class ScriptRun:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    host_name_after: str
    result: dict[str, Any] = field(default_factory=dict)


def parse_result(stdout: str) -> dict[str, Any]:
    """The contract: the LAST stdout line is `FIXED_IP_RESULT {json}`, every key present."""
    lines = stdout.rstrip("\n").split("\n")
    last = lines[-1]
    prefix = "FIXED_IP_RESULT "
    assert last.startswith(prefix), f"last line is not the result line: {last!r}"
    assert sum(line.startswith(prefix) for line in lines) == 1, "more than one result line"
    result = json.loads(last[len(prefix) :])
    assert set(result) == RESULT_KEYS, set(result) ^ RESULT_KEYS
    return result


def run_script(
    nss: Namespaces,
    ns: str,
    root: Path | None,
    *,
    mode: str | None = "configure",
    address: str = ADDRESS,
    mac: str = MAC,
    cidr: str = CIDR,
    device_index: str = "1",
    host_name: str | None = "",
    wait: int = 2,
    host_name_before: str | None = None,
    as_instance: bool = False,
    services: Path | None = None,
    parameters: dict[str, list[str]] | None = None,
) -> ScriptRun:
    """Run the script in namespace `ns` (and a fresh UTS namespace whose host name starts as
    `host_name_before`, by default the root's /etc/hostname, as after a boot), with the
    parameters as the SSM agent passes them (SSM_<Name>).

    `as_instance`: run it as the agent does on an instance, without FIXED_IP_ROOT, in a
    mount namespace where /etc is the machine's /etc overlaid with `root`/etc (every write
    lands in `root`/etc, the machine's /etc is never changed) and /run is an empty tmpfs.

    `services`: a directory made by `service_stubs`: run it as on a booted instance, as
    above and in a PID namespace whose PID 1 is named `systemd`, so the script takes the
    paths it takes only there (udevadm, nmcli, networkctl, hostnamectl), here the stubs,
    which record their calls.

    `parameters`: SendCommand's Parameters as the controller builds them; each becomes
    SSM_<Name> as the agent passes it (ExecutionTimeout is the step's timeout, not a
    variable), replacing the individual arguments."""
    as_instance = as_instance or services is not None
    if host_name_before is None:
        hostname_file = root / "etc/hostname" if root else None
        exists = hostname_file is not None and hostname_file.exists()
        host_name_before = hostname_file.read_text().strip() if exists else "ip-10-0-0-10"
    env = {
        "PATH": PATH,
        "LANG": "C.UTF-8",
        "FIXED_IP_WAIT_SECONDS": str(wait),
        "SSM_Address": address,
        "SSM_MacAddress": mac,
        "SSM_SubnetCidr": cidr,
        "SSM_DeviceIndex": device_index,
    }
    if root is not None and not as_instance:
        env["FIXED_IP_ROOT"] = str(root)
    if host_name is not None:
        env["SSM_HostName"] = host_name
    if mode is not None:
        env["SSM_Mode"] = mode
    if parameters is not None:
        for name in ("Address", "MacAddress", "SubnetCidr", "DeviceIndex", "HostName", "Mode"):
            env.pop(f"SSM_{name}", None)
        env.update({f"SSM_{k}": v[0] for k, v in parameters.items() if k != "ExecutionTimeout"})
    # The host name the script leaves is printed by the same UTS namespace, after it.
    wrapper = (
        'hostname "$1" && "$2"; status=$?; echo "HOSTNAME_AFTER $(hostname)" >&2; exit $status'
    )
    unshare = ["unshare", "--uts"]
    shell = "bash"
    if services is not None:
        env["PATH"] = f"{services}:{PATH}"
        unshare += ["--pid", "--fork", "--mount-proc"]
        shell = str(services / "systemd")  # bash, as PID 1 under the name `systemd`
        sbin = services / "sbin"
        if sbin.is_dir():  # what the image installs, e.g. /usr/sbin/NetworkManager
            work = services / "sbin-work"
            work.mkdir(exist_ok=True)
            mount = f"mount -t overlay overlay -o lowerdir=/usr/sbin,upperdir={sbin},workdir={work}"
            wrapper = f"{mount} /usr/sbin && " + wrapper
    if as_instance:
        assert root is not None
        work = root.parent / f"{root.name}-overlay-work"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        overlay = f"lowerdir=/etc,upperdir={root / 'etc'},workdir={work}"
        wrapper = (
            f"mount -t overlay overlay -o {overlay} /etc && mount -t tmpfs tmpfs /run && " + wrapper
        )
        unshare.append("--mount")  # private propagation: nothing leaks to the machine
    cmd = ["ip", "netns", "exec", ns, *unshare, shell, "-c", wrapper, "fixed-ip-test"]
    cmd += [host_name_before, str(SCRIPT)]
    started = time.monotonic()
    proc = subprocess.run(  # noqa: S603 - fixed argument list, no shell interpolation
        cmd, capture_output=True, text=True, env=env, timeout=120, check=False
    )
    seconds = time.monotonic() - started
    stderr_lines = proc.stderr.rstrip("\n").split("\n")
    after = stderr_lines[-1].removeprefix("HOSTNAME_AFTER ") if stderr_lines else ""
    run = ScriptRun(proc.returncode, proc.stdout, "\n".join(stderr_lines[:-1]), seconds, after)
    run.result = parse_result(proc.stdout)
    assert proc.returncode == (0 if run.result["ok"] else 1), (proc.returncode, run.result)
    return run


# --- the services of a booted instance, as recording stubs ----------------------------------

_STUB = """#!/bin/bash
echo "$(basename "$0") $*" >>"{log}"
{body}
"""
_STUB_BODIES = {
    "hostnamectl": 'if [ "$1" = set-hostname ]; then hostname "$2" && echo "$2" >/etc/hostname; fi',
    "nmcli": 'if [ "$*" = "-t -f RUNNING general" ]; then echo running; fi',
    "networkctl": "exit 0",
    "systemctl": "exit 0",  # is-active: the unit runs
    "udevadm": "exit 0",
}


def service_stubs(base: Path, *, failing: tuple[str, ...] = (), sbin: tuple[str, ...] = ()) -> Path:
    """A directory of stubs for the services the script asks for on a booted instance (see
    `run_script(services=...)`); each appends its command line to `calls.log`. `failing`:
    stubs that exit 1 (a service that does not answer); `sbin`: empty programs to show in
    /usr/sbin (what the image has installed, as the script detects it)."""
    services = base / "services"
    services.mkdir()
    (services / "systemd").symlink_to(shutil.which("bash") or "/bin/bash")
    log = services / "calls.log"
    log.touch()
    for name, body in _STUB_BODIES.items():
        stub = services / name
        stub.write_text(_STUB.format(log=log, body="exit 1" if name in failing else body))
        stub.chmod(0o755)
    for name in sbin:
        (services / "sbin").mkdir(exist_ok=True)
        (services / "sbin" / name).touch()
    return services


def service_calls(services: Path) -> list[str]:
    return (services / "calls.log").read_text().splitlines()


# --- live state ------------------------------------------------------------------------------


def live_state(nss: Namespaces, ns: str, table: str = "1001") -> dict[str, str]:
    """What a reboot would lose: addresses of ens6, rules, the table's routes; and what must
    never change: the main table and the primary."""
    return {
        "ens6": nss.ip(ns, "-4", "-o", "addr", "show", "dev", "ens6").stdout,
        "rules": nss.ip(ns, "-4", "rule", "show").stdout,
        "table": nss.ip(ns, "-4", "route", "show", "table", table, check=False).stdout,
        "main": nss.ip(ns, "-4", "route", "show", "table", "main").stdout,
        "ens5": nss.ip(ns, "-4", "-o", "addr", "show", "dev", "ens5").stdout,
    }


# --- a simulated reboot: apply persisted systemd-networkd files with ip -------------------


def parse_unit(text: str) -> list[tuple[str, dict[str, list[str]]]]:
    """A systemd unit-style file (.network, NetworkManager keyfile) as [(section, {key:
    [values]})], sections kept in order and repeated sections kept apart."""
    sections: list[tuple[str, dict[str, list[str]]]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            sections.append((line[1:-1], {}))
            continue
        key, _, value = line.partition("=")
        sections[-1][1].setdefault(key.strip(), []).append(value.strip())
    return sections


def interface_with_mac(nss: Namespaces, ns: str, mac: str) -> str | None:
    for line in nss.ip(ns, "-o", "link", "show").stdout.splitlines():
        parts = line.split()
        if "link/ether" in parts and parts[parts.index("link/ether") + 1].lower() == mac.lower():
            return parts[1].rstrip(":").split("@")[0]
    return None


def apply_networkd_file(nss: Namespaces, ns: str, path: Path) -> str:
    """Do what systemd-networkd does with a .network file at boot, for the keys fixed-ip's
    files use: match the link by MAC, bring it up, add the addresses, the routes (with their
    tables) and the routing-policy rules. Returns the interface name. A key this harness does
    not know fails the test, so it cannot silently skip part of a configuration."""
    known = {
        "Match": {"MACAddress", "PermanentMACAddress"},
        "Network": {"Address", "LinkLocalAddressing", "IPv6AcceptRA"},
        "Route": {"Destination", "Gateway", "Table", "Scope"},
        "RoutingPolicyRule": {"From", "Table", "Priority"},
    }
    sections = parse_unit(path.read_text())
    for name, keys in sections:
        assert name in known and set(keys) <= known[name], f"{path.name}: [{name}] {set(keys)}"
    match = next(k for n, k in sections if n == "Match")
    mac = (match.get("MACAddress") or match["PermanentMACAddress"])[0]
    dev = interface_with_mac(nss, ns, mac)
    assert dev, f"no link with MAC {mac}"
    nss.ip(ns, "link", "set", dev, "up")
    for name, keys in sections:
        if name == "Network":
            for address in keys.get("Address", []):
                nss.ip(ns, "addr", "add", address, "dev", dev)
    for name, keys in sections:
        if name == "Route":
            to = keys.get("Destination", ["default"])[0]
            args = ["route", "add", to]
            if "Gateway" in keys:
                args += ["via", keys["Gateway"][0]]
            args += ["dev", dev]
            if "Scope" in keys:
                args += ["scope", keys["Scope"][0]]
            args += ["table", keys.get("Table", ["main"])[0]]
            nss.ip(ns, *args)
        elif name == "RoutingPolicyRule":
            args = ["rule", "add", "from", keys["From"][0], "table", keys["Table"][0]]
            if "Priority" in keys:
                args += ["priority", keys["Priority"][0]]
            nss.ip(ns, *args)
    return dev


def apply_nm_keyfile(nss: Namespaces, ns: str, path: Path) -> str:
    """Do what NetworkManager does with fixed-ip's keyfile when it activates it: match by
    MAC, manual address, the routes with their table options, the routing rules."""
    sections = dict(parse_unit(path.read_text()))
    mac = sections["ethernet"]["mac-address"][0]
    dev = interface_with_mac(nss, ns, mac)
    assert dev, f"no link with MAC {mac}"
    ipv4 = sections["ipv4"]
    assert ipv4["method"] == ["manual"]
    nss.ip(ns, "link", "set", dev, "up")
    nss.ip(ns, "addr", "add", ipv4["address1"][0], "dev", dev)
    for n in itertools.count(1):
        if f"route{n}" not in ipv4:
            break
        to, _, via = ipv4[f"route{n}"][0].partition(",")
        options = dict(o.split("=") for o in ipv4.get(f"route{n}_options", [""])[0].split(",") if o)
        args = ["route", "add", "default" if to == "0.0.0.0/0" else to]
        args += ["via", via] if via else ["scope", "link"]
        args += ["dev", dev, "table", options.get("table", "main")]
        nss.ip(ns, *args)
    for n in itertools.count(1):
        if f"routing-rule{n}" not in ipv4:
            break
        words = ipv4[f"routing-rule{n}"][0].split()
        nss.ip(ns, "rule", "add", *words)
    return dev


def flush_live(nss: Namespaces, ns: str, dev: str, address: str, table: str) -> None:
    """Forget everything the running system holds for the fixed address (what a reboot
    does): the interface's addresses, the rule, the table; and take the link down."""
    nss.ip(ns, "addr", "flush", "dev", dev)
    nss.ip(ns, "link", "set", dev, "down")
    while nss.ip(ns, "rule", "del", "from", address, check=False).returncode == 0:
        pass
    nss.ip(ns, "route", "flush", "table", table, check=False)
