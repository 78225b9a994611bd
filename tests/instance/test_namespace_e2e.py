"""The fixed address answers from another subnet: before, after, again, after a reboot.

Topology, all in network namespaces made for the test (no traffic leaves them):

    peer 10.0.2.20 ── router ── 10.0.0.0/24 ── ens5 10.0.0.10  (primary, main default route)
                (10.0.2.1) └─── 10.0.1.0/24 ── ens6 10.0.1.4   (the pool ENI, chosen MAC)
                                                 "instance", rp_filter=1

The router drops what a VPC drops: strict rp_filter on its interfaces stands in for the
source/destination check (a packet from 10.0.1.4 leaving through the primary ENI's subnet is
not forwarded). Before the script, ens6 has its address (as DHCP gives it) but no policy
routing: the peer's SYN arrives on ens6, the reply would leave through ens5, so rp_filter drops
the SYN and the connection fails. After the script it succeeds, rp_filter untouched; a second
run changes nothing; after flushing the live configuration and applying what was persisted
(the files the distribution's network manager reads at boot), it succeeds again.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.instance.netns import (
    ADDRESS,
    IP,
    MAC,
    PATH,
    PRIMARY_ADDRESS,
    PRIMARY_MAC,
    Namespaces,
    add_veth,
    apply_networkd_file,
    apply_nm_keyfile,
    flush_live,
    live_state,
    make_root,
    needs_netns,
    run_script,
    service_calls,
    service_stubs,
    sh,
)

pytestmark = needs_netns

PORT = 8080
SERVER = """
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.listen(16)
print("listening", flush=True)
while True:
    c, _ = s.accept()
    c.sendall(b"fixed-ip\\n")
    c.close()
"""
CLIENT = """
import socket, sys
try:
    c = socket.create_connection((sys.argv[1], int(sys.argv[3])), timeout=float(sys.argv[2]))
    sys.exit(0 if c.recv(16) == b"fixed-ip\\n" else 2)
except OSError as exc:
    print(exc)
    sys.exit(1)
"""


def sysctl(nss: Namespaces, ns: str, **values: int) -> None:
    for key, value in values.items():
        nss.run(ns, "sysctl", "-q", "-w", f"net.ipv4.{key.replace('__', '.')}={value}")


def build(nss: Namespaces) -> dict[str, str]:
    inst, router, peer = nss.add("inst"), nss.add("rtr"), nss.add("peer")
    add_veth(nss, inst, "ens5", router, "ra", mac=PRIMARY_MAC)
    add_veth(nss, inst, "ens6", router, "rb", mac=MAC)
    add_veth(nss, peer, "p0", router, "rc")
    nss.ip(router, "addr", "add", "10.0.0.1/24", "dev", "ra")
    nss.ip(router, "addr", "add", "10.0.1.1/24", "dev", "rb")
    nss.ip(router, "addr", "add", "10.0.2.1/24", "dev", "rc")
    sysctl(nss, router, ip_forward=1, conf__all__rp_filter=1, conf__default__rp_filter=1)
    sysctl(nss, router, conf__ra__rp_filter=1, conf__rb__rp_filter=1, conf__rc__rp_filter=1)
    nss.ip(peer, "link", "set", "p0", "up")
    nss.ip(peer, "addr", "add", "10.0.2.20/24", "dev", "p0")
    nss.ip(peer, "route", "add", "default", "via", "10.0.2.1")
    # The instance: strict reverse-path filtering everywhere, the main default route via the
    # primary, and the ENI's address already on ens6 without any policy routing.
    sysctl(nss, inst, conf__all__rp_filter=1, conf__default__rp_filter=1)
    sysctl(nss, inst, conf__ens5__rp_filter=1, conf__ens6__rp_filter=1)
    nss.ip(inst, "link", "set", "ens5", "up")
    nss.ip(inst, "addr", "add", f"{PRIMARY_ADDRESS}/24", "dev", "ens5")
    nss.ip(inst, "route", "add", "default", "via", "10.0.0.1", "dev", "ens5")
    nss.ip(inst, "link", "set", "ens6", "up")
    nss.ip(inst, "addr", "add", f"{ADDRESS}/24", "dev", "ens6")
    return {"inst": inst, "router": router, "peer": peer}


def connects(nss: Namespaces, ns: str, address: str, timeout: float = 6.0) -> bool:
    """A TCP connection from `ns` to the listener at `address` gets its greeting (the
    timeout covers SYN retransmissions on a busy machine)."""
    proc = nss.run(ns, sys.executable, "-c", CLIENT, address, str(timeout), str(PORT), check=False)
    return proc.returncode == 0


def rp_filters(nss: Namespaces, ns: str) -> list[str]:
    keys = [f"net.ipv4.conf.{d}.rp_filter" for d in ("all", "default", "ens5", "ens6")]
    return nss.run(ns, "sysctl", "-n", *keys).stdout.split()


def reboot_netplan(nss: Namespaces, ns: str, root: Path) -> str:
    """At boot netplan's generator renders /etc/netplan for systemd-networkd, which applies
    it: render again from scratch with the real netplan, apply our interface's file."""
    shutil.rmtree(root / "run", ignore_errors=True)
    sh("netplan", "generate", "--root-dir", str(root))
    return apply_networkd_file(nss, ns, root / "run/systemd/network/10-netplan-ens6.network")


def reboot_networkd(nss: Namespaces, ns: str, root: Path) -> str:
    return apply_networkd_file(nss, ns, root / "etc/systemd/network/09-fixed-ip-ens6.network")


def reboot_networkmanager(nss: Namespaces, ns: str, root: Path) -> str:
    keyfile = root / "etc/NetworkManager/system-connections/fixed-ip-ens6.nmconnection"
    return apply_nm_keyfile(nss, ns, keyfile)


REBOOT = {
    "netplan": reboot_netplan,
    "networkd": reboot_networkd,
    "networkmanager": reboot_networkmanager,
}


@pytest.mark.parametrize(
    ("kind", "as_instance"),
    [("netplan", False), ("networkd", False), ("networkmanager", False), ("netplan", True)],
    ids=["netplan", "networkd", "networkmanager", "netplan-real-root"],
)
def test_the_fixed_address_answers_another_subnet_after_the_script_and_after_a_reboot(
    nss: Namespaces, tmp_path: Path, request: pytest.FixtureRequest, kind: str, as_instance: bool
) -> None:
    """`as_instance`: the script runs without FIXED_IP_ROOT, on the machine's own file system
    (with /etc overlaid by the fixture tree and /run a tmpfs, so nothing of the machine
    changes): the paths an instance takes, e.g. `netplan generate --root-dir /`."""
    if kind == "netplan":
        request.getfixturevalue("netplan")
    ns = build(nss)
    inst, peer = ns["inst"], ns["peer"]
    root = make_root(tmp_path, kind)
    server = subprocess.Popen(  # noqa: S603 - fixed argument list
        [IP, "netns", "exec", inst, sys.executable, "-u", "-c", SERVER, str(PORT)],
        stdout=subprocess.PIPE,
        text=True,
        env={"PATH": PATH},
    )
    try:
        assert server.stdout is not None and server.stdout.readline() == "listening\n"

        # Before: the primary answers, the fixed address answers its own subnet (the
        # router's 10.0.1.1), but not the peer's: its replies would leave through ens5.
        assert connects(nss, peer, PRIMARY_ADDRESS)
        assert connects(nss, ns["router"], ADDRESS)
        assert not connects(nss, peer, ADDRESS, timeout=2)
        main_before = live_state(nss, inst)["main"]

        first = run_script(nss, inst, root, host_name="server-a1", as_instance=as_instance)
        assert first.result["ok"], first.result["message"]
        assert first.result["changed"] is True
        assert connects(nss, peer, ADDRESS)
        assert connects(nss, peer, PRIMARY_ADDRESS)
        # Policy routing alone satisfies strict rp_filter: it was not loosened.
        assert rp_filters(nss, inst) == ["1", "1", "1", "1"]
        assert live_state(nss, inst)["main"] == main_before
        # `hostname -i` answers the fixed address with the /etc/hosts the script wrote.
        resolve = 'mount --bind "$1/etc/hosts" /etc/hosts && hostname server-a1 && hostname -i'
        answer = nss.run(inst, "unshare", "--uts", "--mount", "sh", "-c", resolve, "-", str(root))
        assert answer.stdout.split() == [ADDRESS]

        second = run_script(nss, inst, root, host_name="server-a1", as_instance=as_instance)
        assert second.result["ok"] and second.result["changed"] is False, second.stdout

        # A simulated reboot: everything live is gone, only the persisted files remain.
        flush_live(nss, inst, "ens6", ADDRESS, "1001")
        assert not connects(nss, peer, ADDRESS, timeout=2)
        # A reboot takes far longer than the router keeps the failed neighbour entry the
        # attempt above left for 10.0.1.4 (a VPC has no ARP at all): forget it too.
        nss.ip(ns["router"], "neigh", "flush", "dev", "rb")
        assert REBOOT[kind](nss, inst, root) == "ens6"
        assert connects(nss, peer, ADDRESS)
        # What was persisted is exactly what the script applies: nothing left to change.
        after_reboot = run_script(nss, inst, root, host_name="server-a1", as_instance=as_instance)
        assert after_reboot.result["ok"] and after_reboot.result["changed"] is False

        print(
            f"\nfixed-ip-configure.sh in a namespace ({request.node.callspec.id}): first run "
            f"{first.seconds * 1000:.0f} ms (configured), second run "
            f"{second.seconds * 1000:.0f} ms (changed: false)"
        )
    finally:
        server.kill()
        server.wait(timeout=10)


EXPECTED_SERVICE_CALLS = {
    # netplan renders for systemd-networkd, which drops rules it does not know of unless
    # told to reload: the same as the networkd branch.
    "netplan": ["networkctl reload"],
    "networkd": ["networkctl reload"],
    "networkmanager": [
        "nmcli connection load /etc/NetworkManager/system-connections/fixed-ip-ens6.nmconnection",
        f"nmcli --wait 20 connection up uuid 66697865-642d-4970-8000-{MAC.replace(':', '')} "
        "ifname ens6",
    ],
}


@pytest.mark.parametrize("kind", ["netplan", "networkd", "networkmanager"])
def test_on_a_booted_instance_the_script_asks_its_services(
    nss: Namespaces, tmp_path: Path, request: pytest.FixtureRequest, kind: str
) -> None:
    """The paths only a booted instance takes (systemd as PID 1, no fixture root): udev is
    let settle, the network manager is told about the new configuration, hostnamectl sets
    the name. The services are recording stubs; the network is real, as above."""
    if kind == "netplan":
        request.getfixturevalue("netplan")
    ns = build(nss)
    root = make_root(tmp_path, kind)
    services = service_stubs(tmp_path, sbin=("NetworkManager",) if kind == "networkmanager" else ())
    first = run_script(nss, ns["inst"], root, host_name="server-a1", services=services)
    assert first.result["ok"], first.result["message"]
    assert first.result["manager"] == kind and first.host_name_after == "server-a1"
    calls = service_calls(services)
    assert "udevadm settle --timeout=10" in calls
    assert "hostnamectl set-hostname server-a1" in calls
    for expected in EXPECTED_SERVICE_CALLS[kind]:
        assert expected in calls, calls
    # Nothing changed on the second run: nothing to tell the network manager again.
    second = run_script(nss, ns["inst"], root, host_name="server-a1", services=services)
    assert second.result["ok"] and second.result["changed"] is False
    again = service_calls(services)[len(calls) :]
    assert not [c for c in again if c.startswith(("networkctl", "nmcli connection"))], again


def test_on_a_booted_instance_a_failing_hostnamectl_falls_back_to_hostname(
    nss: Namespaces, tmp_path: Path
) -> None:
    ns = build(nss)
    root = make_root(tmp_path, "networkd")
    services = service_stubs(tmp_path, failing=("hostnamectl",))
    run = run_script(nss, ns["inst"], root, host_name="server-a1", services=services)
    assert run.result["ok"] and run.result["host_name_ok"] is True
    assert run.host_name_after == "server-a1"
    assert (root / "etc/hostname").read_text().strip() == "server-a1"
    assert "hostnamectl set-hostname server-a1" in service_calls(services)
