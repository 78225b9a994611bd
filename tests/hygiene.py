"""Tests never write into the working tree: every file a test makes goes to a temporary
directory (tmp_path), so a test run cannot overwrite a user's `.demo/controller.log`,
`.local-aws/` or a bench report.

A pytest plugin (loaded by tests/conftest.py): it lists the files of the repository before
the session and after it, and fails the session naming every file created or changed.
It runs in the controlling process only (pytest-xdist workers share the same tree).
Files under version control that existed before are left to `git status`, so editing
code while the tests run does not fail them.
Skipped: .git, the venv, pytest's own cache, bytecode caches and setuptools metadata, which
the runner and the interpreter write, not the tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SKIP_DIRS = {".git", ".venv", ".pytest_cache", "__pycache__", ".ruff_cache"}

# Hypothesis keeps its example database and caches in ./.hypothesis unless told otherwise:
# give it a directory of its own for the session (HYPOTHESIS_STORAGE keeps one across runs).
_HYPOTHESIS_HOME = os.environ.get("HYPOTHESIS_STORAGE") or tempfile.mkdtemp(
    prefix="fixed-ip-hypothesis-"
)


def _hypothesis_home() -> None:
    from hypothesis.configuration import set_hypothesis_home_dir

    set_hypothesis_home_dir(_HYPOTHESIS_HOME)


_hypothesis_home()


def snapshot(root: Path = ROOT) -> dict[str, tuple[int, int]]:
    """relative path -> (mtime in ns, size) of every file outside SKIP_DIRS."""
    files = {}
    for base, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info")]
        for name in names:
            path = Path(base, name)
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue  # removed while walking
            files[str(path.relative_to(root))] = (stat.st_mtime_ns, stat.st_size)
    return files


def tracked(root: Path = ROOT) -> set[str]:
    """Files under version control: someone editing one while the tests run is not a test
    writing into the tree (and `git status` shows such a change anyway)."""
    git = shutil.which("git")
    if git is None:
        return set()
    proc = subprocess.run(  # noqa: S603 - fixed arguments
        [git, "ls-files", "-z"], cwd=root, capture_output=True, text=True, check=False
    )
    return set(proc.stdout.split("\0")) if proc.returncode == 0 else set()


def written(
    before: dict[str, tuple[int, int]],
    after: dict[str, tuple[int, int]],
    ignore: set[str] | frozenset[str] = frozenset(),
) -> list[str]:
    """Files created, or changed outside version control, between the two snapshots."""
    return sorted(p for p, stat in after.items() if before.get(p) != stat and p not in ignore)


_BEFORE: dict[str, tuple[int, int]] = {}
_TRACKED: set[str] = set()


def _controller(config: pytest.Config) -> bool:
    return not hasattr(config, "workerinput")


def pytest_sessionstart(session: pytest.Session) -> None:
    if _controller(session.config):
        _BEFORE.update(snapshot())
        _TRACKED.update(p for p in tracked() if p in _BEFORE)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not os.environ.get("HYPOTHESIS_STORAGE"):
        shutil.rmtree(_HYPOTHESIS_HOME, ignore_errors=True)  # each process has its own
    if not _controller(session.config) or not _BEFORE:
        return
    changed = written(_BEFORE, snapshot(), _TRACKED)
    if changed:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = "tests wrote into the working tree (use tmp_path): " + ", ".join(changed[:20])
        if reporter is not None:
            reporter.ensure_newline()
            reporter.write_line(f"ERROR: {message}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
