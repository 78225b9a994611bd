"""The controller's side of the contract against the real script: the parameters it sends
(`fixed_ip.os_config.OsConfig.parameters`) reach the script as the agent passes them, and
its verdict (`parse_report`, `judge`) on what the script really prints."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixed_ip.errors import OsAddressFailed
from fixed_ip.os_config import OsConfig, judge, parse_report
from tests.instance.netns import (
    ADDRESS,
    CIDR,
    MAC,
    Namespaces,
    make_root,
    needs_netns,
    run_script,
)

pytestmark = needs_netns


def _config(**overrides: object) -> OsConfig:
    values: dict[str, object] = {
        "address": ADDRESS,
        "mac": MAC.upper(),  # EC2 answers lower case; the controller lowers it anyway
        "subnet_cidr": CIDR,
        "device_index": 1,
        "host_name": "server-a1",
        "mode": "configure",
    }
    values.update(overrides)
    return OsConfig(**values)  # type: ignore[arg-type]


def _status(run_ok: bool) -> str:
    return "Success" if run_ok else "Failed"


def test_a_configured_address_is_believed(nss: Namespaces, instance: str, tmp_path: Path) -> None:
    config = _config()
    run = run_script(
        nss, instance, make_root(tmp_path, "networkd"), parameters=config.parameters(60)
    )
    report = judge(config, _status(run.returncode == 0), parse_report(run.stdout), "i-0test")
    assert report.summary == "ens6 10.0.1.4 rule ok table ok"
    assert report.host_name == "server-a1" and report.host_name_ok is True


def test_an_unsupported_image_is_abandoned_with_the_script_s_words(
    nss: Namespaces, instance: str, tmp_path: Path
) -> None:
    config = _config(host_name=None)
    run = run_script(nss, instance, make_root(tmp_path, "none"), parameters=config.parameters(60))
    with pytest.raises(OsAddressFailed) as raised:
        judge(config, _status(run.returncode == 0), parse_report(run.stdout), "i-0test")
    assert "Alpine Linux v3.20 has none of amazon-ec2-net-utils" in str(raised.value)


def test_skip_mode_is_believed_without_an_interface(nss: Namespaces, tmp_path: Path) -> None:
    config = _config(mode="skip")
    run = run_script(
        nss, nss.add("bare"), make_root(tmp_path, "none"), parameters=config.parameters(60)
    )
    report = judge(config, _status(run.returncode == 0), parse_report(run.stdout), "i-0test")
    assert report.mode == "skip" and report.host_name_ok is True
