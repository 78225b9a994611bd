"""Hypothesis profiles: `short` (the default, part of `make test`, well under 2 minutes
on two cores) and `long` (HYPOTHESIS_PROFILE=long, run by `make bench`)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

_COMMON = {
    "deadline": None,  # moto calls and thread pools: timing varies with the machine
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
    "print_blob": True,  # a failure prints the @reproduce_failure line
}
settings.register_profile("short", max_examples=40, stateful_step_count=10, **_COMMON)
settings.register_profile("long", max_examples=400, stateful_step_count=30, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "short"))

# The stateful test on moto (test_interleavings.py) costs seconds per example, the pure
# properties milliseconds: it takes its own example and step counts per profile.
MOTO_EXAMPLES = {"short": 8, "long": 60}
MOTO_STEPS = {"short": 15, "long": 30}
# Shrinking a story on moto takes minutes: the short profile reports the failing story
# as found (with its reproduce blob); the long profile shrinks it to the shortest.
MOTO_PHASES = {
    "short": (Phase.explicit, Phase.reuse, Phase.generate),
    "long": tuple(Phase),
}
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "short")
