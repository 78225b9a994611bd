"""The code tested is the code deployed: the versions this test process imports are the ones
locked in layers/fixed_ip/requirements.txt, which `sam build` installs into the layer.

A dev tool that pins a layer dependency lower (aws-sam-translator pins pydantic ~=2.13), or a
venv made without the lock as constraints, fails here instead of testing other versions
than Lambda runs. Fix: `make lock` (re-resolve), then `rm .venv/.installed && make venv`."""

from __future__ import annotations

import importlib.metadata
import re
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.helpers import ROOT

LAYER = ROOT / "layers" / "fixed_ip"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)\s*$")


def locked() -> dict[str, str]:
    """name -> version of every line of the lock; anything but an exact pin is an error."""
    pins = {}
    for number, raw in enumerate((LAYER / "requirements.txt").read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = PIN.match(line)
        assert match, f"requirements.txt:{number}: {line!r} is not an exact pin (name==version)"
        pins[canonicalize_name(match[1])] = match[2]
    return pins


def direct() -> list[Requirement]:
    lines = (LAYER / "requirements.in").read_text().splitlines()
    return [Requirement(x.split("#")[0]) for x in lines if x.split("#")[0].strip()]


LOCKED = locked()


@pytest.mark.parametrize("name", sorted(LOCKED))
def test_the_tests_import_the_locked_version(name: str) -> None:
    try:
        installed = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        pytest.fail(f"{name}=={LOCKED[name]} is in the layer's lock but not installed here")
    assert installed == LOCKED[name], (
        f"the tests import {name} {installed}, the layer deploys {LOCKED[name]}: "
        "run `make lock`, then `rm .venv/.installed && make venv`"
    )


def test_the_lock_is_complete() -> None:
    """Every direct dependency, and every requirement of a locked package that applies on the
    Lambda (CPython 3.13, Linux), is locked too, at a version it accepts: pydantic-core at the
    exact version pydantic requires."""
    lambda_env = {"python_version": "3.13", "sys_platform": "linux", "extra": ""}
    wanted = list(direct())
    for name in LOCKED:
        for text in importlib.metadata.requires(name) or []:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate(lambda_env):
                wanted.append(req)
    problems = []
    for req in wanted:
        name = canonicalize_name(req.name)
        if name in {"boto3", "botocore"}:
            continue  # provided by the Lambda runtime
        version = LOCKED.get(name)
        if version is None:
            problems.append(f"{req} is not locked")
        elif not req.specifier.contains(version, prereleases=True):
            problems.append(f"{name}=={version} does not satisfy {req}")
    assert not problems, problems


def test_pyproject_admits_the_locked_versions() -> None:
    """pyproject.toml (what `pip install .` resolves) lists the layer's direct dependencies
    with ranges that contain the locked versions."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    ranges = {canonicalize_name(r.name): r for r in map(Requirement, project["dependencies"])}
    for req in direct():
        name = canonicalize_name(req.name)
        assert name in ranges, f"{name} is a layer dependency missing from pyproject.toml"
        assert ranges[name].specifier.contains(LOCKED[name]), (name, ranges[name], LOCKED[name])
