"""Cold import time of the deployed handler module against `import boto3` alone.

Each sample is a fresh interpreter (`python -X importtime` is too noisy to sum; we time
the import itself inside the child), with the function's code directory and the layer on
sys.path as Lambda puts /var/task and /opt/python. Samples are interleaved (handler, boto3,
handler, boto3, ...) and the ratio is the median of each pair's ratio, so a change of
machine load (other jobs starting or ending) weighs on both sides alike instead of drifting
the ratio. Reports the medians and that ratio."""

from __future__ import annotations

import statistics
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CODE = ROOT / "functions" / "controller"
LAYER = ROOT / "layers" / "fixed_ip"

_CHILD = """
import sys, time
sys.path[:0] = {paths!r}
t = time.perf_counter()
{statement}
print(time.perf_counter() - t)
"""


def sample(statement: str, paths: list[str]) -> float:
    code = _CHILD.format(paths=paths, statement=statement)
    out = subprocess.run(  # noqa: S603 - fixed interpreter, our own code string
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    )
    return float(out.stdout.strip().splitlines()[-1])


def measure(
    runs: int = 15, sampler: Callable[[str, list[str]], float] = sample
) -> dict[str, float]:
    """``runs`` pairs of fresh-process samples, each pair one handler import then one
    ``import boto3``, taken back to back."""
    if runs < 1:
        raise ValueError(f"runs must be at least 1, not {runs}")
    paths = [str(CODE), str(LAYER)]
    handler: list[float] = []
    boto: list[float] = []
    for _ in range(runs):
        handler.append(sampler("import app", paths))
        boto.append(sampler("import boto3", paths))
    ratio = statistics.median(h / b for h, b in zip(handler, boto, strict=True))
    h, b = statistics.median(handler), statistics.median(boto)
    return {"handler_s": h, "boto3_s": b, "ratio": ratio, "runs": runs}


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    m = measure(runs)
    print(
        f"cold import, median of {m['runs']} interleaved fresh processes: handler module "
        f"{m['handler_s'] * 1000:.0f} ms, import boto3 alone {m['boto3_s'] * 1000:.0f} ms, "
        f"ratio (median of pairs) {m['ratio']:.2f}"
    )


if __name__ == "__main__":
    main()
