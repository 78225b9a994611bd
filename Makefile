# Two entry points for a fresh machine: `make demo` and `make test`.
# Each creates and fills its own virtual environment in .venv; nothing installed on
# the machine is used except a Python >= 3.11 interpreter.

SHELL := /bin/bash
VENV  := .venv
# Prefer python3.13 (the Lambda runtime) when it actually runs, else 3.12, else python3.
# An interpreter is chosen by running it, not by finding it on PATH (pyenv shims exist
# for versions that are not selected and fail when run).
PYTHON ?= $(shell for c in python3.13 python3.12 python3; do \
	$$c -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && { echo $$c; break; }; done)
BIN   := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test lint unit template demo local-aws coldstart bench clean venv lock document instance-deps

# The layer's lock: `sam build` installs exactly these versions into the layer, and the dev
# venv installs with them as constraints, so the tests import what Lambda runs
# (tests/unit/test_lock.py fails when the two differ).
LOCK := layers/fixed_ip/requirements.txt
LOCK_HEADER := make lock  (sam build installs exactly these; make venv uses them as constraints)

venv: $(STAMP)

$(STAMP): pyproject.toml $(LOCK)
	@test -n "$(PYTHON)" || { echo "error: no Python >= 3.11 found (tried python3.13, python3.12, python3)"; exit 1; }
	@echo "==> creating $(VENV) with $(PYTHON) ($$($(PYTHON) --version))"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]' --constraint $(LOCK)
	@touch $(STAMP)

# Re-resolve the lock from layers/fixed_ip/requirements.in: first the dev tools together with
# the layer (so the dev venv can install the locked versions: e.g. aws-sam-translator pins
# pydantic ~=2.13), then the layer alone for the Lambda's platform within that resolution.
# The last step lists what the dev tools hold back from the newest release.
lock: $(STAMP)
	@mkdir -p build
	$(BIN)/uv pip compile --quiet layers/fixed_ip/requirements.in pyproject.toml --extra dev \
		--python-version 3.11 -o build/dev-resolution.txt
	$(BIN)/uv pip compile --quiet layers/fixed_ip/requirements.in --python-version 3.13 \
		--python-platform aarch64-manylinux2014 --no-annotate \
		--custom-compile-command '$(LOCK_HEADER)' -c build/dev-resolution.txt -o $(LOCK)
	@$(BIN)/uv pip compile --quiet layers/fixed_ip/requirements.in --python-version 3.13 \
		--python-platform aarch64-manylinux2014 --no-annotate --no-header \
		-o build/newest.txt
	@diff <(grep '==' $(LOCK)) <(grep '==' build/newest.txt) >/dev/null \
		&& echo "lock: the newest releases" \
		|| { echo "lock: held back by the dev tools (locked < newest):"; \
		     diff <(grep '==' $(LOCK)) <(grep '==' build/newest.txt) | grep '^[<>]'; }

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/shellcheck --severity=style instance/*.sh tests/instance/*.sh

unit: $(STAMP)
	$(BIN)/pytest -n 2 tests/unit

template: $(STAMP)
	$(BIN)/pytest tests/template

test: lint instance-deps
	$(BIN)/pytest -n 2 tests

# What tests/instance needs from the distribution (netplan.io for `netplan generate`,
# iproute2 for `ip netns`): installed with apt-get only when missing and run as root (as CI
# does); nmcli unpacked into the venv (not installed). Never fatal: the tests that need
# them skip, saying why.
instance-deps: $(STAMP)
	@bash tests/instance/install-deps.sh $(VENV)/nmcli || \
		echo "note: tests needing netplan, ip or nmcli will skip"

# Copy instance/fixed-ip-configure.sh into template.yaml's ConfigureDocument (CloudFormation
# takes the document inline; a test fails when the copy differs).
document: $(STAMP)
	$(BIN)/python instance/sync_document.py

# The seed article's scenario, end to end through the real controller, on the embedded
# local AWS (moto + fidelity patches). Exit status 1 if an invariant breaks.
demo: $(STAMP)
	$(BIN)/fixed-ip demo

# The simulated AWS on a loopback port, for `fixed-ip invoke`, the AWS CLI or sam local.
local-aws: $(STAMP)
	$(BIN)/fixed-ip local-aws --port $(or $(PORT),5000)

# Figures against the seed's algorithm, on the local simulated AWS (not part of make test):
# prints a table and writes docs/benchmarks.md.
bench: $(STAMP)
	$(BIN)/python -m fixed_ip_local.bench --profile full

# Cold import of the deployed handler module against `import boto3` alone.
coldstart: $(STAMP)
	$(BIN)/python -m fixed_ip_local.coldstart 15

# Everything generated: the venv, caches, the demo's log, local-aws's events, hypothesis's
# database, build and bench output, sam's build directory.
clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .aws-sam .demo .local-aws .hypothesis build .bench \
		*.egg-info packaged.yaml
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
