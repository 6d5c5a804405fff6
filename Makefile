# Two entry points for a fresh machine: `make demo` (the video-process workflow, applied to the
# local AWS emulator and run on a generated video) and `make test` (ruff, mypy, then the test
# suite, benchmarks' --quick runs included). Both create .venv on first use. Releases: `make dist`
# (the wheel, with the static supervisor binaries that `make binaries` builds; see
# supervisor/README.md#building-the-binaries).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
EXAMPLE := examples/video-process
DEMO_DIR ?= demo
ENDPOINT := http://127.0.0.1:4566
AWS_LOCAL := AWS_ENDPOINT_URL=$(ENDPOINT) AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1

# checkov pins its own versions of boto3 and friends, so it gets a virtual environment of its own.
CHECKOV_VENV := .venv-checkov
CHECKOV := $(CHECKOV_VENV)/bin/checkov

# The static supervisor, one per architecture, shipped in the wheel as package data.
BINARY_DIR := supervisor/faas_supervisor/bin
BINARY_ARCHES := x86_64 arm64
BUILD_STATIC := supervisor/build/build_static.py

.PHONY: install lint test demo clean binaries dist

$(BIN)/faas-render: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,batch]'
	touch $@

install: $(BIN)/faas-render

$(CHECKOV):
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet checkov
	touch $@

# Lint and type checks first: they take seconds and stop `make test` before the long part.
lint: install
	$(BIN)/ruff check
	$(BIN)/ruff format --check
	$(BIN)/mypy

test: install lint $(CHECKOV)
	CHECKOV=$(abspath $(CHECKOV)) $(BIN)/python -m pytest

# Starts `faas local` in the background (stopped on exit), renders and applies the example
# (Terraform's log in $(DEMO_DIR)/apply.log), puts a generated video into video-split's input,
# which runs the whole workflow here, and shows what frame-stats wrote.
demo: install
	@mkdir -p $(DEMO_DIR)
	@# Each demo starts a fresh emulator: a previous run's state and results describe nothing now.
	@rm -rf $(DEMO_DIR)/root/terraform.tfstate $(DEMO_DIR)/root/terraform.tfstate.backup $(DEMO_DIR)/results
	@$(BIN)/faas local --network-config $(DEMO_DIR)/network.yaml > $(DEMO_DIR)/emulator.log 2>&1 & emulator=$$!; \
	trap 'kill -INT '$$emulator' 2>/dev/null; wait '$$emulator'; echo "==> emulator stopped (\`$(BIN)/faas local\` keeps one running)"' EXIT; \
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
	  echo "==> $(BINARY_DIR)/linux-$$arch/faas-supervisor"; \
	  $(PYTHON) $(BUILD_STATIC) --arch $$arch --out $(BINARY_DIR)/linux-$$arch || exit 1; \
	done

# One platform-independent wheel carrying both binaries, checked (tag, binaries, modes) after.
dist: binaries
	rm -rf build dist/faas_render-*.whl
	SOURCE_DATE_EPOCH=$$(git log -1 --format=%ct 2>/dev/null || date +%s) $(PYTHON) -m pip wheel --no-deps --wheel-dir dist .
	$(PYTHON) supervisor/build/check_wheel.py dist/faas_render-*-py3-none-any.whl

clean:
	rm -rf $(DEMO_DIR) build *.egg-info
