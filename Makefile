# Two entry points for a fresh machine: `make demo` (the video-process workflow, applied to the
# local AWS emulator and run on a generated video in its functions' images, their bases served by a
# local mirror) and `make test` (ruff, mypy, then the test suite, benchmarks' --quick runs included).
# Both create .venv on first use. Releases: `make dist` (the wheel, with the static supervisor
# binaries that `make binaries` builds; see supervisor/README.md#building-the-binaries).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
EXAMPLE := examples/video-process
DEMO_DIR ?= demo
ENDPOINT := http://127.0.0.1:4566
# The registry mirror for Docker Hub's names (a free port unless given).
MIRROR_PORT ?= 0
MIRROR := $(BIN)/python -m tools.base_images serve --data $(DEMO_DIR)/mirror --port $(MIRROR_PORT)
AWS_LOCAL := AWS_ENDPOINT_URL=$(ENDPOINT) AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1

# checkov pins its own versions of boto3 and friends, so it gets a virtual environment of its own.
CHECKOV_VENV := .venv-checkov
CHECKOV := $(CHECKOV_VENV)/bin/checkov

# The static supervisor, one per architecture, shipped in the wheel as package data.
BINARY_DIR := supervisor/faas_supervisor/bin
BINARY_ARCHES := x86_64 arm64
BUILD_STATIC := supervisor/build/build_static.py

.PHONY: install lint test test-fast mirror demo clean binaries dist lock

# Every environment installs from a lock with hashes (requirements/*.txt), so a fresh machine gets
# exactly what CI tested: pip installs uv from its lock, uv installs the rest. `make lock` moves
# the locks to the newest releases that setup.cfg and requirements/*.in allow (a new release gets
# in that way, with a green `make test`, never by surprise); `make lock UPGRADE=` only follows
# changes of setup.cfg, keeping every other pin.
UV := $(BIN)/uv
UPGRADE ?= --upgrade
COMPILE = $(UV) pip compile --quiet --universal --python-version 3.10 --generate-hashes \
	--custom-compile-command 'make lock' $(UPGRADE)

$(UV): requirements/uv.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes --no-deps -r requirements/uv.txt
	touch $@

$(BIN)/faas-render: $(UV) setup.cfg pyproject.toml requirements/dev.txt
	$(UV) pip install --quiet --python $(BIN)/python --require-hashes -r requirements/dev.txt
	$(UV) pip install --quiet --python $(BIN)/python --no-deps --no-build-isolation -e .
	touch $@

install: $(BIN)/faas-render

$(CHECKOV): $(UV) requirements/checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(UV) pip install --quiet --python $(CHECKOV_VENV)/bin/python --require-hashes -r requirements/checkov.txt
	touch $@

lock: $(UV)
	$(COMPILE) setup.cfg requirements/build.in --extra test --extra batch --extra local -o requirements/dev.txt
	$(COMPILE) requirements/checkov.in -o requirements/checkov.txt
	$(COMPILE) requirements/uv.in -o requirements/uv.txt
	$(UV) pip compile --quiet --python-version 3.11 --python-platform linux --generate-hashes supervisor/build/requirements.in -o supervisor/build/requirements.txt

# Lint and type checks first: they take seconds and stop `make test` before the long part.
lint: install
	$(BIN)/ruff check
	$(BIN)/ruff format --check
	$(BIN)/mypy

# Before anything long, `make test`, `make demo` and `make mirror` check what they need from this
# machine (tools/prerequisites.py, run by the system Python: .venv may not exist yet). As root with
# apt-get they install the missing Debian packages; otherwise they stop with the command that does.
PREREQUISITES := prerequisites-test prerequisites-demo prerequisites-mirror
.PHONY: $(PREREQUISITES)
$(PREREQUISITES):
	@$(PYTHON) tools/prerequisites.py $(@:prerequisites-%=%) --install

# Tests run in parallel (pytest-xdist): each test file stays in one process, so the applies a file
# shares are made once, and files go out longest first (tests/conftest.py). `make test` runs two
# processes per CPU, since most of its time is spent waiting on Terraform's polls, not on a CPU;
# `make test-fast`, all CPU, one per CPU. TEST_WORKERS=0 (FAST_WORKERS=0) runs them in this process.
CPUS := $(shell getconf _NPROCESSORS_ONLN)
TEST_WORKERS ?= $(shell echo $$(( $(CPUS) * 2 )))
FAST_WORKERS ?= $(CPUS)
PYTEST = $(BIN)/python -m pytest --dist loadfile --no-loadscope-reorder

# The whole suite, the README's and CI's command; the 20 slowest tests are listed at the end.
test: prerequisites-test install lint $(CHECKOV)
	CHECKOV=$(abspath $(CHECKOV)) $(PYTEST) -n $(TEST_WORKERS) --durations=20

# Day-to-day: lint, then every test that neither runs Terraform nor is an end-to-end run (marked
# slow: faas local deployments, the sandbox attacks, the benchmarks); checkov's skip.
test-fast: prerequisites-test install lint
	$(PYTEST) -n $(FAST_WORKERS) -m "not slow and not terraform"

# A registry on 127.0.0.1 holding stand-ins for the Docker Hub images the examples name
# (alpine:3.20, python:3.12-alpine: tools/base_images.py builds them from Debian packages, cached
# in ~/.cache/faas-render/debs), serving until interrupted: `faas local --registry-mirror URL`
# pulls docker.io images through it, as Docker's registry-mirrors setting does.
mirror: prerequisites-mirror install
	@mkdir -p $(DEMO_DIR)
	$(MIRROR)

# Starts the mirror and `faas local` in the background (both stopped on exit), renders and applies
# the example (Terraform's log in $(DEMO_DIR)/apply.log), puts a generated video into video-split's
# input, which runs the whole workflow here in the functions' images, and shows what frame-stats wrote.
demo: prerequisites-demo install
	@mkdir -p $(DEMO_DIR)
	@# Each demo starts a fresh emulator: a previous run's state and results describe nothing now.
	@rm -rf $(DEMO_DIR)/root/terraform.tfstate $(DEMO_DIR)/root/terraform.tfstate.backup $(DEMO_DIR)/results
	@$(MIRROR) > $(DEMO_DIR)/mirror.log 2>&1 & mirror=$$!; emulator=; \
	trap 'for pid in $$emulator $$mirror; do kill -INT $$pid 2>/dev/null; wait $$pid; done; echo "==> emulator and mirror stopped (\`$(BIN)/faas local\` keeps one running)"' EXIT; \
	until grep -q "mirror ready" $(DEMO_DIR)/mirror.log; do \
	  kill -0 $$mirror 2>/dev/null || { cat $(DEMO_DIR)/mirror.log; exit 1; }; sleep 0.2; \
	done; \
	mirror_url=$$(sed -n 's/^mirror ready at //p' $(DEMO_DIR)/mirror.log); \
	echo "==> base images (stand-ins built from Debian packages) served at $$mirror_url (log: $(DEMO_DIR)/mirror.log)"; \
	$(BIN)/faas local --network-config $(DEMO_DIR)/network.yaml --registry-mirror $$mirror_url \
	  > $(DEMO_DIR)/emulator.log 2>&1 & emulator=$$!; \
	until grep -q listening $(DEMO_DIR)/emulator.log; do \
	  kill -0 $$emulator 2>/dev/null || { cat $(DEMO_DIR)/emulator.log; exit 1; }; sleep 0.2; \
	done; \
	echo "==> $$(grep listening $(DEMO_DIR)/emulator.log)"; \
	printf '==> rendering $(EXAMPLE) into $(DEMO_DIR)/root and applying it (log: $(DEMO_DIR)/apply.log) '; \
	$(AWS_LOCAL) $(BIN)/faas-render $(EXAMPLE)/video-process.yaml -o $(DEMO_DIR)/root \
	  --config $(DEMO_DIR)/network.yaml --apply > $(DEMO_DIR)/apply.log 2>&1 & apply=$$!; \
	while kill -0 $$apply 2>/dev/null; do printf .; sleep 2; done; \
	wait $$apply || { echo " failed:"; tail -30 $(DEMO_DIR)/apply.log; exit 1; }; echo " done"; \
	echo "==> $$($(BIN)/python $(EXAMPLE)/make-sample-video.py $(DEMO_DIR)/sample.y4m)"; \
	$(AWS_LOCAL) $(BIN)/faas put video-split $(DEMO_DIR)/sample.y4m --root $(DEMO_DIR)/root && \
	$(AWS_LOCAL) $(BIN)/faas get frame-stats $(DEMO_DIR)/results --root $(DEMO_DIR)/root && \
	echo "==> results:" && for result in $(DEMO_DIR)/results/*.json; do cat $$result; echo; done

# Release builds (root): each in a Debian root filesystem of its architecture, arm64 under
# qemu-user; cached, so running this again with nothing changed only copies the binaries.
binaries:
	@for arch in $(BINARY_ARCHES); do \
	  echo "==> $(BINARY_DIR)/linux-$$arch/faas-supervisor.tar"; \
	  $(PYTHON) $(BUILD_STATIC) --arch $$arch --out $(BINARY_DIR)/linux-$$arch || exit 1; \
	done

# One platform-independent wheel carrying both binaries, checked (tag, binaries, modes) after.
dist: binaries
	rm -rf build dist/faas_render-*.whl
	SOURCE_DATE_EPOCH=$$(git log -1 --format=%ct 2>/dev/null || date +%s) $(PYTHON) -m pip wheel --no-deps --wheel-dir dist .
	$(PYTHON) supervisor/build/check_wheel.py dist/faas_render-*-py3-none-any.whl

clean:
	rm -rf $(DEMO_DIR) build *.egg-info
