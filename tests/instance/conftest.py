"""Fixtures for the on-instance script's tests: namespaces (root) and netplan."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator

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
