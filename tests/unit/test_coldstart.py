"""make coldstart: its samples interleave, so machine load does not drift the ratio."""

from __future__ import annotations

import pytest

from fixed_ip_local import coldstart


class LoadStep:
    """Imports as a loaded machine times them: handler 30 ms, boto3 20 ms (a true ratio of
    1.5), everything 3x slower once half the samples are taken (another job starts)."""

    def __init__(self, runs: int) -> None:
        self.taken: list[str] = []
        self.step_at = runs  # of 2 * runs samples

    def __call__(self, statement: str, paths: list[str]) -> float:
        assert any(p.endswith("functions/controller") for p in paths)
        load = 3.0 if len(self.taken) >= self.step_at else 1.0
        self.taken.append(statement)
        return load * (0.030 if statement == "import app" else 0.020)


def test_samples_alternate_handler_and_boto3():
    sampler = LoadStep(4)
    coldstart.measure(4, sampler=sampler)
    assert sampler.taken == ["import app", "import boto3"] * 4


@pytest.mark.parametrize("runs", [5, 6, 15])
def test_a_load_change_half_way_leaves_the_ratio_alone(runs):
    m = coldstart.measure(runs, sampler=LoadStep(runs))
    assert m["ratio"] == pytest.approx(1.5)
    assert m["runs"] == runs


def test_runs_below_one_are_refused():
    with pytest.raises(ValueError, match="runs must be at least 1, not 0"):
        coldstart.measure(0, sampler=LoadStep(0))
