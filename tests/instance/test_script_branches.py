"""instance/fixed-ip-configure.sh, branch by branch, against fixture root trees.

Each test runs the real script with bash in its own network namespace (an instance with a
primary ens5 and the pool ENI ens6, chosen MACs) and UTS namespace, with FIXED_IP_ROOT
pointing at a fixture tree (os-release and what the network manager installs). Checked:
what is written (and its mode), the live state, idempotence (a second run rewrites no file and
reports changed: false), the result line, and the failure messages.
"""

from __future__ import annotations

import re
import stat
import subprocess
from pathlib import Path

import pytest

from tests.instance.netns import (
    ADDRESS,
    CIDR,
    IP,
    MAC,
    PRIMARY_MAC,
    Namespaces,
    add_veth,
    live_state,
    make_root,
    needs_netns,
    parse_unit,
    run_script,
    snapshot,
)

pytestmark = needs_netns


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _configured_live(nss: Namespaces, ns: str) -> None:
    state = live_state(nss, ns)
    assert f"inet {ADDRESS}/24 " in state["ens6"]
    assert re.search(rf"^1001:\s+from {re.escape(ADDRESS)} lookup 1001\b", state["rules"], re.M)
    assert re.search(r"^default via 10\.0\.1\.1 dev ens6\b", state["table"], re.M)
    assert re.search(r"^10\.0\.1\.0/24 dev ens6\b", state["table"], re.M)
    # The primary and the main table's default route are never touched.
    assert re.search(r"^default via 10\.0\.0\.1 dev ens5\b", state["main"], re.M)
    assert state["main"].count("default") == 1


def _assert_idempotent(nss: Namespaces, ns: str, root: Path, **kw: str) -> None:
    """A second run with the same parameters changes nothing: no file rewritten (same inode,
    mtime and content), the same live state, changed: false."""
    files, live = snapshot(root), live_state(nss, ns)
    again = run_script(nss, ns, root, **kw)
    assert again.result["ok"], again.result["message"]
    assert again.result["changed"] is False, again.stdout
    assert snapshot(root) == files
    assert live_state(nss, ns) == live


# --- netplan (Ubuntu) -------------------------------------------------------------------------


def test_netplan_writes_a_drop_in_netplan_accepts_and_applies_it_live(
    nss: Namespaces, instance: str, tmp_path: Path, netplan: str
) -> None:
    root = make_root(tmp_path, "netplan")
    run = run_script(nss, instance, root, host_name="server-a1")
    result = run.result
    assert result["ok"], result["message"]
    assert result | {"message": ""} == {
        "ok": True,
        "mode": "configure",
        "manager": "netplan",
        "interface": "ens6",
        "address": ADDRESS,
        "address_present": True,
        "rule_present": True,
        "table_route_present": True,
        "host_name": "server-a1",
        "host_name_ok": True,
        "persisted": True,
        "changed": True,
        "message": "",
    }
    assert "Ubuntu 24.04.1 LTS" in result["message"]
    drop_in = root / "etc/netplan/90-fixed-ip-ens6.yaml"
    assert _mode(drop_in) == 0o600  # netplan warns about (and may refuse) readable files
    text = drop_in.read_text()
    assert f'macaddress: "{MAC}"' in text
    assert "set-name" not in text
    # netplan itself renders it: networkd is told to match the ENI by MAC, with the address,
    # both routes in table 1001 and the rule for the fixed address (no gateway in main).
    network = root / "run/systemd/network/10-netplan-ens6.network"
    sections = parse_unit(network.read_text())
    match = dict(sections)["Match"]
    assert (match.get("MACAddress") or match.get("PermanentMACAddress")) == [MAC]
    assert dict(sections)["Network"]["Address"] == [f"{ADDRESS}/24"]
    routes = [keys for name, keys in sections if name == "Route"]
    assert {(r.get("Destination", [""])[0], r.get("Gateway", [""])[0]) for r in routes} == {
        (CIDR, ""),
        ("0.0.0.0/0", "10.0.1.1"),
    }
    assert all(r["Table"] == ["1001"] for r in routes)
    rules = [keys for name, keys in sections if name == "RoutingPolicyRule"]
    assert rules == [{"From": [f"{ADDRESS}/32"], "Table": ["1001"], "Priority": ["1001"]}]
    # cloud-init's own file for the primary is untouched.
    assert "0a:00:00:00:00:05" in (root / "etc/netplan/50-cloud-init.yaml").read_text()
    _configured_live(nss, instance)
    _assert_idempotent(nss, instance, root, host_name="server-a1")


def test_netplan_refusing_the_configuration_installs_nothing(
    nss: Namespaces, instance: str, tmp_path: Path, netplan: str
) -> None:
    """The drop-in is validated by `netplan generate` on a copy first: a configuration
    netplan refuses (here an existing file is broken) would break the next boot, so nothing
    is installed, nothing is applied, and the message carries netplan's complaint."""
    root = make_root(tmp_path, "netplan")
    (root / "etc/netplan/50-cloud-init.yaml").write_text("network:\n  version: 2\n  bogus: [\n")
    run = run_script(nss, instance, root)
    assert not run.result["ok"]
    assert "netplan refused the configuration for ens6" in run.result["message"]
    assert not (root / "etc/netplan/90-fixed-ip-ens6.yaml").exists()
    assert run.result["persisted"] is False
    assert "from 10.0.1.4" not in live_state(nss, instance)["rules"]


# --- NetworkManager (RHEL family) -------------------------------------------------------------


def test_networkmanager_writes_a_keyfile_matched_by_mac(
    nss: Namespaces, instance: str, tmp_path: Path
) -> None:
    root = make_root(tmp_path, "networkmanager")
    run = run_script(nss, instance, root)
    assert run.result["ok"], run.result["message"]
    assert run.result["manager"] == "networkmanager"
    assert "Rocky Linux 9.5" in run.result["message"]
    assert run.result["host_name"] is None
    assert run.result["host_name_ok"] is None
    keyfile = root / "etc/NetworkManager/system-connections/fixed-ip-ens6.nmconnection"
    # NetworkManager ignores keyfiles that others may read.
    assert _mode(keyfile) == 0o600
    sections = dict(parse_unit(keyfile.read_text()))
    assert sections["ethernet"]["mac-address"] == [MAC.upper()]
    assert "interface-name" not in sections["connection"]
    ipv4 = sections["ipv4"]
    assert ipv4["method"] == ["manual"]
    assert ipv4["address1"] == [f"{ADDRESS}/24"]
    assert ipv4["never-default"] == ["true"]
    assert ipv4["route1"] == [CIDR]
    assert ipv4["route2"] == ["0.0.0.0/0,10.0.1.1"]
    assert ipv4["route1_options"] == ipv4["route2_options"] == ["table=1001"]
    assert ipv4["routing-rule1"] == [f"priority 1001 from {ADDRESS}/32 table 1001"]
    _configured_live(nss, instance)
    _assert_idempotent(nss, instance, root)


def test_networkmanager_reads_the_keyfile_as_written(
    nss: Namespaces, instance: str, tmp_path: Path, nmcli: list[str]
) -> None:
    """NetworkManager's own keyfile parser (`nmcli --offline`, NetworkManager >= 1.40) reads
    the keyfile and writes it back normalised: every setting survives (a setting the parser
    did not understand, such as a malformed routing rule, would be dropped silently)."""
    root = make_root(tmp_path, "networkmanager")
    assert run_script(nss, instance, root).result["ok"]
    keyfile = root / "etc/NetworkManager/system-connections/fixed-ip-ens6.nmconnection"
    proc = subprocess.run(  # noqa: S603 - fixed argument list
        [*nmcli, "--offline", "connection", "modify", "connection.id", "fixed-ip-ens6"],
        input=keyfile.read_text(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""

    def settings(text: str) -> dict[tuple[str, str], list[str]]:
        return {(s, k): v for s, keys in parse_unit(text) for k, v in keys.items()}

    ours, theirs = settings(keyfile.read_text()), settings(proc.stdout)
    differ = {
        key: (value, theirs.get(key)) for key, value in ours.items() if theirs.get(key) != value
    }
    assert differ == {
        # Defaults are not written back; the rule's /32 is implied for a single address.
        ("connection", "autoconnect"): (["true"], None),
        ("ipv4", "routing-rule1"): (
            [f"priority 1001 from {ADDRESS}/32 table 1001"],
            [f"priority 1001 from {ADDRESS} table 1001"],
        ),
    }


# --- systemd-networkd -------------------------------------------------------------------------


def test_networkd_writes_a_network_file_that_sorts_first(
    nss: Namespaces, instance: str, tmp_path: Path
) -> None:
    root = make_root(tmp_path, "networkd")
    run = run_script(nss, instance, root)
    assert run.result["ok"], run.result["message"]
    assert run.result["manager"] == "networkd"
    network_dir = root / "etc/systemd/network"
    ours = network_dir / "09-fixed-ip-ens6.network"
    # networkd uses the first matching file: ours must sort before the catch-all DHCP one.
    assert sorted(p.name for p in network_dir.iterdir())[0] == ours.name
    sections = parse_unit(ours.read_text())
    assert dict(sections)["Match"] == {"MACAddress": [MAC]}
    assert dict(sections)["Network"]["Address"] == [f"{ADDRESS}/24"]
    assert [k for n, k in sections if n == "RoutingPolicyRule"] == [
        {"From": [f"{ADDRESS}/32"], "Table": ["1001"], "Priority": ["1001"]}
    ]
    _configured_live(nss, instance)
    _assert_idempotent(nss, instance, root)


def test_a_rule_of_someone_else_for_the_address_is_reported_and_ours_added_once(
    nss: Namespaces, instance: str, tmp_path: Path
) -> None:
    """A rule for the fixed address that is evaluated before ours (priority 500, to a table
    without a default route) makes the address fail: reported, and a second run neither
    duplicates our rule nor claims a change."""
    root = make_root(tmp_path, "networkd")
    nss.ip(instance, "rule", "add", "from", ADDRESS, "table", "77", "priority", "500")
    first = run_script(nss, instance, root)
    assert not first.result["ok"]
    assert first.result["rule_present"] and not first.result["table_route_present"]
    again = run_script(nss, instance, root)
    assert not again.result["ok"]
    assert again.result["changed"] is False
    assert again.result["message"].endswith(
        "missing: default route out of ens6 in the rule's table"
    ), again.result["message"]
    rules = live_state(nss, instance)["rules"]
    assert rules.count("from 10.0.1.4 lookup 1001") == 1
    assert rules.count("from 10.0.1.4 lookup 77") == 1


# --- amazon-ec2-net-utils (Amazon Linux) ------------------------------------------------------


def _ec2_net_utils_configures(nss: Namespaces, ns: str) -> None:
    """What amazon-ec2-net-utils leaves on a hot-plugged ENI (DHCP address, table 10001,
    a rule per address with priority 10001)."""
    nss.ip(ns, "link", "set", "ens6", "up")
    nss.ip(ns, "addr", "add", f"{ADDRESS}/24", "dev", "ens6")
    nss.ip(ns, "route", "add", CIDR, "dev", "ens6", "table", "10001")
    nss.ip(ns, "route", "add", "default", "via", "10.0.1.1", "dev", "ens6", "table", "10001")
    nss.ip(ns, "rule", "add", "from", ADDRESS, "lookup", "10001", "priority", "10001")


def test_ec2_net_utils_is_left_alone_and_verified(
    nss: Namespaces, instance: str, tmp_path: Path
) -> None:
    root = make_root(tmp_path, "ec2-net-utils")
    _ec2_net_utils_configures(nss, instance)
    files, live = snapshot(root), live_state(nss, instance, table="10001")
    run = run_script(nss, instance, root)
    assert run.result["ok"], run.result["message"]
    assert run.result["manager"] == "ec2-net-utils"
    assert run.result["changed"] is False
    assert "(table 10001)" in run.result["message"]
    assert "Amazon Linux 2023" in run.result["message"]
    assert snapshot(root) == files
    assert live_state(nss, instance, table="10001") == live


def test_ec2_net_utils_that_never_configures_the_eni_fails_after_the_wait(
    nss: Namespaces, instance: str, tmp_path: Path
) -> None:
    root = make_root(tmp_path, "ec2-net-utils")
    run = run_script(nss, instance, root, wait=2)
    assert not run.result["ok"]
    assert run.seconds >= 2  # it waited for ec2-net-utils, bounded
    message = run.result["message"]
    assert "Amazon Linux 2023" in message and "ec2-net-utils" in message
    assert f"address {ADDRESS} on ens6" in message and "rule 'from 10.0.1.4'" in message
    # It configured nothing itself, and nothing is said to survive a reboot.
    assert "from 10.0.1.4" not in live_state(nss, instance)["rules"]
    assert run.result["persisted"] is False


# --- what fixed-ip does not configure ---------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("none", "Alpine Linux v3.20 has none of amazon-ec2-net-utils, netplan"),
        ("ifupdown", "Debian GNU/Linux 12 (bookworm) manages the network with ifupdown"),
    ],
)
def test_unsupported_network_managers_fail_naming_the_distribution(
    nss: Namespaces, instance: str, tmp_path: Path, kind: str, expected: str
) -> None:
    root = make_root(tmp_path, kind)
    files = snapshot(root)
    run = run_script(nss, instance, root)
    assert not run.result["ok"]
    assert run.result["manager"] == kind
    assert expected in run.result["message"]
    assert "Mode=verify" in run.result["message"]  # what to do about it
    assert "missing: address 10.0.1.4 on ens6" in run.result["message"]
    assert snapshot(root) == files
    state = live_state(nss, instance)
    assert "10.0.1.4" not in state["ens6"] and "10.0.1.4" not in state["rules"]


# --- modes ------------------------------------------------------------------------------------


def test_verify_mode_checks_without_changing_anything(
    nss: Namespaces, instance: str, tmp_path: Path
) -> None:
    root = make_root(tmp_path, "networkd")
    files = snapshot(root)
    before = run_script(nss, instance, root, mode="verify")
    assert not before.result["ok"]
    assert before.result["mode"] == "verify"
    assert before.result["changed"] is False
    assert "missing: address 10.0.1.4 on ens6" in before.result["message"]
    assert snapshot(root) == files
    # The operator configures the OS (here: by running the script in configure mode) ...
    assert run_script(nss, instance, root).result["ok"]
    # ... and verify then passes, changing nothing.
    files, live = snapshot(root), live_state(nss, instance)
    after = run_script(nss, instance, root, mode="verify")
    assert after.result["ok"], after.result["message"]
    assert after.result["changed"] is False
    assert snapshot(root) == files and live_state(nss, instance) == live


def test_verify_mode_waits_for_what_the_operator_configures(
    nss: Namespaces, instance: str, tmp_path: Path
) -> None:
    root = make_root(tmp_path, "none")
    # The operator's own hot-plug handling configures the ENI 2 s after the script started.
    steps = [
        "ip link set ens6 up",
        f"ip addr add {ADDRESS}/24 dev ens6",
        "ip route add default via 10.0.1.1 dev ens6 table 77",
        f"ip rule add from {ADDRESS} table 77",
    ]
    configure = subprocess.Popen(  # noqa: S603 - fixed argument list
        [IP, "netns", "exec", instance, "sh", "-c", "sleep 2; " + " && ".join(steps)]
    )
    try:
        run = run_script(nss, instance, root, mode="verify", wait=15)
    finally:
        configure.wait(timeout=30)
    assert run.result["ok"], run.result["message"]
    assert run.seconds >= 2


def test_verify_mode_accepts_any_table_the_operator_chose(
    nss: Namespaces, instance: str, tmp_path: Path
) -> None:
    root = make_root(tmp_path, "none")
    nss.ip(instance, "link", "set", "ens6", "up")
    nss.ip(instance, "addr", "add", f"{ADDRESS}/24", "dev", "ens6")
    nss.ip(instance, "route", "add", "default", "via", "10.0.1.1", "dev", "ens6", "table", "77")
    nss.ip(instance, "rule", "add", "from", ADDRESS, "table", "77")
    run = run_script(nss, instance, root, mode="verify")
    assert run.result["ok"], run.result["message"]
    assert "(table 77)" in run.result["message"]


def test_verify_mode_fails_when_the_table_has_no_default_route(
    nss: Namespaces, instance: str, tmp_path: Path
) -> None:
    root = make_root(tmp_path, "none")
    nss.ip(instance, "link", "set", "ens6", "up")
    nss.ip(instance, "addr", "add", f"{ADDRESS}/24", "dev", "ens6")
    nss.ip(instance, "route", "add", CIDR, "dev", "ens6", "table", "77")
    nss.ip(instance, "rule", "add", "from", ADDRESS, "table", "77")
    result = run_script(nss, instance, root, mode="verify").result
    assert not result["ok"]
    assert (result["address_present"], result["rule_present"]) == (True, True)
    assert result["table_route_present"] is False
    assert "default route out of ens6 in the rule's table" in result["message"]


def test_skip_mode_needs_no_interface_and_still_sets_the_host_name(
    nss: Namespaces, tmp_path: Path
) -> None:
    ns = nss.add("bare")  # no pool ENI at all
    root = make_root(tmp_path, "none")
    run = run_script(nss, ns, root, mode="skip", host_name="server-a1")
    assert run.result["ok"], run.result["message"]
    assert run.result["mode"] == "skip"
    assert run.result["interface"] is None
    assert run.result["host_name_ok"] is True
    assert run.host_name_after == "server-a1"
    assert "neither configured nor checked" in run.result["message"]


def test_mode_defaults_to_configure(nss: Namespaces, instance: str, tmp_path: Path) -> None:
    root = make_root(tmp_path, "networkd")
    run = run_script(nss, instance, root, mode=None)
    assert run.result["mode"] == "configure" and run.result["ok"]


# --- the interface --------------------------------------------------------------------------


def test_waits_for_a_hot_plugged_interface(nss: Namespaces, tmp_path: Path) -> None:
    ns = nss.add("hotplug")
    add_veth(nss, ns, "ens5", ns, "ens5-p", mac=PRIMARY_MAC)
    root = make_root(tmp_path, "networkd")
    # The ENI appears 2 s after the script started, as it does after an attach.
    hot_plug = f"sleep 2; ip link add enX1 address {MAC} type veth peer name enX1-p"
    plug = subprocess.Popen([IP, "netns", "exec", ns, "sh", "-c", hot_plug])  # noqa: S603
    try:
        run = run_script(nss, ns, root, wait=15)
    finally:
        plug.wait(timeout=30)
    assert run.result["ok"], run.result["message"]
    assert run.result["interface"] == "enX1"
    assert (root / "etc/systemd/network/09-fixed-ip-enX1.network").exists()


def test_no_interface_with_the_mac_fails_after_a_bounded_wait(
    nss: Namespaces, instance: str, tmp_path: Path
) -> None:
    root = make_root(tmp_path, "networkd")
    files = snapshot(root)
    run = run_script(nss, instance, root, mac="0a:00:00:00:09:09", wait=1, host_name="server-a1")
    assert not run.result["ok"]
    assert run.result["interface"] is None
    assert run.result["message"] == (
        "no interface with MAC 0a:00:00:00:09:09 appeared within 1s on "
        "Debian GNU/Linux 12 (bookworm)"
    )
    assert snapshot(root) == files
    assert run.host_name_after == "ip-10-0-0-10"


def test_never_touches_the_primary_interface(
    nss: Namespaces, instance: str, tmp_path: Path
) -> None:
    root = make_root(tmp_path, "networkd")
    before = live_state(nss, instance)
    run = run_script(nss, instance, root, mac=PRIMARY_MAC)
    assert not run.result["ok"]
    assert "ens5 carries the main table's default route" in run.result["message"]
    assert live_state(nss, instance) == before
    assert not list((root / "etc/systemd/network").glob("09-*"))


def test_a_secondary_default_route_of_cloud_init_does_not_make_the_eni_primary(
    nss: Namespaces, instance: str, tmp_path: Path
) -> None:
    """cloud-init, when it sees the ENI at boot, gives it DHCP and a default route in the
    main table with metric 200: the primary is still the preferred default route's."""
    root = make_root(tmp_path, "networkd")
    nss.ip(instance, "link", "set", "ens6", "up")
    nss.ip(instance, "addr", "add", f"{ADDRESS}/24", "dev", "ens6")
    nss.ip(instance, "route", "add", "default", "via", "10.0.1.1", "dev", "ens6", "metric", "200")
    main = live_state(nss, instance)["main"]
    run = run_script(nss, instance, root)
    assert run.result["ok"], run.result["message"]
    assert run.result["interface"] == "ens6"
    assert live_state(nss, instance)["main"] == main  # left as it was


# --- host name --------------------------------------------------------------------------------


def test_host_name_is_set_persisted_and_mapped_to_the_fixed_address(
    nss: Namespaces, instance: str, tmp_path: Path
) -> None:
    root = make_root(tmp_path, "networkmanager")
    (root / "etc/hosts").write_text("127.0.0.1 localhost\n127.0.1.1 ip-10-0-0-10\n")
    run = run_script(nss, instance, root, host_name="Server-A1.example.internal")
    assert run.result["ok"], run.result["message"]
    assert run.result["host_name_ok"] is True
    assert run.host_name_after == "Server-A1.example.internal"
    assert (root / "etc/hostname").read_text() == "Server-A1.example.internal\n"
    assert (root / "etc/cloud/cloud.cfg.d/99-fixed-ip.cfg").read_text().splitlines()[1:] == [
        "preserve_hostname: true",
        "manage_etc_hosts: false",
    ]
    assert (root / "etc/hosts").read_text().splitlines() == [
        f"{ADDRESS} Server-A1.example.internal Server-A1 # managed by fixed-ip",
        "127.0.0.1 localhost",
        "127.0.1.1 ip-10-0-0-10",
    ]
    _assert_idempotent(nss, instance, root, host_name="Server-A1.example.internal")
    # A new name replaces the managed line; the other lines stay.
    renamed = run_script(nss, instance, root, host_name="server-a2")
    assert renamed.result["ok"] and renamed.result["changed"]
    assert (root / "etc/hosts").read_text().splitlines() == [
        f"{ADDRESS} server-a2 # managed by fixed-ip",
        "127.0.0.1 localhost",
        "127.0.1.1 ip-10-0-0-10",
    ]


def test_no_host_name_sets_none(nss: Namespaces, instance: str, tmp_path: Path) -> None:
    # A tree with cloud-init (etc/cloud/cloud.cfg.d): the drop-in that keeps a host name
    # must not be written when there is none.
    root = make_root(tmp_path, "networkmanager")
    hosts = (root / "etc/hosts").read_text()
    run = run_script(nss, instance, root, host_name=None)  # parameter absent: its default ""
    assert run.result["ok"], run.result["message"]
    assert (run.result["host_name"], run.result["host_name_ok"]) == (None, None)
    assert run.host_name_after == "ip-10-0-0-10"
    assert (root / "etc/hosts").read_text() == hosts
    assert (root / "etc/cloud/cloud.cfg.d").is_dir()
    assert list((root / "etc/cloud/cloud.cfg.d").iterdir()) == []


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("param", "value", "expected"),
    [
        ("address", "10.0.1.256", "Address must be an IPv4 address"),
        ("address", "010.0.1.4", "Address must be an IPv4 address"),
        ("address", "10.0.1.4; reboot", "Address must be an IPv4 address"),
        ("address", "10.0.2.4", "Address 10.0.2.4 is not inside SubnetCidr 10.0.1.0/24"),
        ("address", "10.0.1.1", "Address 10.0.1.1 is one of the addresses AWS reserves"),
        ("address", "10.0.1.255", "Address 10.0.1.255 is one of the addresses AWS reserves"),
        ("mac", "0a:00:00:00:01", "MacAddress must look like"),
        ("mac", "0a-00-00-00-01-06", "MacAddress must look like"),
        ("cidr", "10.0.1.0/29", "SubnetCidr must be an IPv4 CIDR with a prefix of 16 to 28"),
        ("cidr", "10.0.1.0", "SubnetCidr must be an IPv4 CIDR"),
        ("cidr", "10.0.1.4/24", "SubnetCidr 10.0.1.4/24 has host bits set"),
        ("device_index", "0", "DeviceIndex must be 1 to 31"),
        ("device_index", "32", "DeviceIndex must be 1 to 31"),
        ("mode", "apply", "Mode must be configure, verify or skip"),
        ("host_name", "10.0.0.1", "HostName is not a valid RFC 1123 host name"),
        ("host_name", "127.1", "HostName is not a valid RFC 1123 host name"),
        ("host_name", "2130706433", "HostName is not a valid RFC 1123 host name"),
        ("host_name", "0x7f000001", "HostName is not a valid RFC 1123 host name"),
        ("host_name", "LocalHost", "HostName is not a valid RFC 1123 host name"),
        ("host_name", "server_a1", "HostName is not a valid RFC 1123 host name"),
        ("host_name", "a" * 65, "HostName is not a valid RFC 1123 host name"),
        ("host_name", "$(reboot)", "HostName is not a valid RFC 1123 host name"),
    ],
)
def test_bad_input_is_refused_naming_it_and_changes_nothing(
    nss: Namespaces, instance: str, tmp_path: Path, param: str, value: str, expected: str
) -> None:
    root = make_root(tmp_path, "networkd")
    files, live = snapshot(root), live_state(nss, instance)
    run = run_script(nss, instance, root, **{param: value})
    assert run.returncode == 1
    assert not run.result["ok"]
    assert expected in run.result["message"]
    assert run.result["changed"] is False
    assert snapshot(root) == files
    assert live_state(nss, instance) == live
    assert run.host_name_after == "ip-10-0-0-10"


@pytest.mark.parametrize("name", ["server-a1", "a", "web-01.example.internal", "0x7f.example"])
def test_host_names_that_are_fine(
    nss: Namespaces, instance: str, tmp_path: Path, name: str
) -> None:
    root = make_root(tmp_path, "networkd")
    result = run_script(nss, instance, root, host_name=name).result
    assert result["ok"], result["message"]
    assert result["host_name"] == name


def test_an_unexpected_error_still_prints_the_result_line(
    nss: Namespaces, instance: str, tmp_path: Path
) -> None:
    root = make_root(tmp_path, "networkd")
    # A file where the script needs a directory: mkdir fails under set -e.
    (root / "etc/systemd/network").rename(root / "etc/systemd/network.d-moved")
    (root / "etc/systemd/network").write_text("not a directory\n")
    run = run_script(nss, instance, root)
    assert run.returncode == 1
    assert not run.result["ok"]
    assert re.search(r"unexpected error \(exit \d+\) at line \d+: ", run.result["message"])
