"""`make bench` runs the full profile; its quick profile runs here so that the bench code
keeps working as the functions change (small N, no download, no property run)."""

from __future__ import annotations

import io
import os

import pytest

from fixed_ip_local import bench


@pytest.mark.slow
def test_quick_bench_runs_and_writes_its_report(tmp_path):
    saved = dict(os.environ)
    out = io.StringIO()
    report = tmp_path / "benchmarks.md"
    try:
        sections = bench.run(bench.PROFILES["quick"], output=report, out=out)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    by_title = {s.title.split(" ", 1)[0]: s for s in sections}
    assert set(by_title) >= {"1.", "2.", "2b.", "3.", "4.", "5."}

    calls = {row[0]: row for row in by_title["1."].rows}
    assert calls["**total**"][1] == calls["**total**"][2] == 9  # launch: the minimum

    bursts = by_title["2."].rows
    for row in bursts:
        n = int(row[0].split(" on ")[1])
        assert row[3] == f"{n}/{n}"  # every ENI serves an instance, for both algorithms
        assert row[4] == 0  # no ENI held by two
        assert row[-1] == "OK"  # invariants
    controller = [r for r in bursts if r[1] == "controller" and r[0].startswith("4 on")]
    assert controller and controller[0][2] == 4  # one launch per instance

    text = report.read_text()
    assert text.startswith("# Benchmarks")
    for needed in ("- date:", "- machine:", "- python:", "## 2. Bursts", "## 5. Deployment"):
        assert needed in text
    assert "written to" in out.getvalue()
