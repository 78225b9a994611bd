"""Cold import time of the deployed handler module against `import boto3` alone.

Each sample is a fresh interpreter (`python -X importtime` is too noisy to sum; we time
the import itself inside the child), with the function's code directory and the layer on
sys.path as Lambda puts /var/task and /opt/python. Reports medians and their ratio."""

from __future__ import annotations

import statistics
import subprocess
import sys
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


def measure(runs: int = 15) -> dict[str, float]:
    paths = [str(CODE), str(LAYER)]
    handler = [sample("import app", paths) for _ in range(runs)]
    boto = [sample("import boto3", paths) for _ in range(runs)]
    h, b = statistics.median(handler), statistics.median(boto)
    return {"handler_s": h, "boto3_s": b, "ratio": h / b, "runs": runs}


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    m = measure(runs)
    print(
        f"cold import, median of {m['runs']} fresh processes: handler module "
        f"{m['handler_s'] * 1000:.0f} ms, import boto3 alone {m['boto3_s'] * 1000:.0f} ms, "
        f"ratio {m['ratio']:.2f}"
    )


if __name__ == "__main__":
    main()
