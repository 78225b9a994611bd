"""Fixtures for the on-instance script's tests: namespaces (root) and netplan."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.instance.netns import INSTALL_DEPS, PATH, Namespaces, make_instance


@pytest.fixture
def nss() -> Iterator[Namespaces]:
    with Namespaces() as namespaces:
        yield namespaces


@pytest.fixture
def instance(nss: Namespaces) -> str:
    return make_instance(nss)


@pytest.fixture(scope="session")
def netplan() -> str:
    """The real `netplan` (package netplan.io), installed when missing and possible; the
    test skips, saying why, only when it cannot be installed."""
    found = shutil.which("netplan", path=PATH)
    if not found:
        proc = subprocess.run(  # noqa: S603 - the repository's own script
            [str(INSTALL_DEPS)], capture_output=True, text=True, check=False, timeout=600
        )
        found = shutil.which("netplan", path=PATH)
        if not found:
            pytest.skip(f"netplan.io cannot be installed here: {proc.stderr.strip()[-300:]}")
    return found


@pytest.fixture(scope="session")
def nmcli() -> list[str]:
    """NetworkManager's own nmcli, unpacked into the venv by `make instance-deps` (the
    packages are downloaded, not installed); unpacked here when missing and possible. The
    command to run, with the unpacked libnm on the library path."""
    base = Path(sys.executable).resolve().parent.parent / "nmcli"
    if not (base / "usr/bin/nmcli").exists():
        subprocess.run(  # noqa: S603 - the repository's own script
            [str(INSTALL_DEPS), str(base)], capture_output=True, check=False, timeout=600
        )
    binary = base / "usr/bin/nmcli"
    if not binary.exists():
        pytest.skip("nmcli unavailable: network-manager cannot be downloaded here (apt-get)")
    libs = ":".join(str(p) for p in sorted((base / "usr/lib").glob("*-linux-gnu*")))
    command = ["env", f"LD_LIBRARY_PATH={libs}", str(binary)]
    probe = subprocess.run(  # noqa: S603 - fixed argument list
        [*command, "--version"], capture_output=True, text=True, check=False
    )
    if probe.returncode:
        pytest.skip(f"the unpacked nmcli does not run here: {probe.stderr.strip()[-200:]}")
    return command
