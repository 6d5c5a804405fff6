# Two entry points for a fresh machine: `make demo` (render an example and apply it to the
# local AWS emulator) and `make test` (the test suite). Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
EXAMPLE ?= examples/video-process/video-process.yaml
DEMO_DIR ?= demo
ENDPOINT := http://127.0.0.1:4566
AWS_LOCAL := AWS_ENDPOINT_URL=$(ENDPOINT) AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1

.PHONY: install test demo clean

$(BIN)/faas-render: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,batch]'
	touch $@

install: $(BIN)/faas-render

test: install
	$(BIN)/python -m pytest

demo: install
	@mkdir -p $(DEMO_DIR)
	@$(BIN)/python -m render.emulator serve > $(DEMO_DIR)/emulator.log 2>&1 & echo $$! > $(DEMO_DIR)/emulator.pid; \
	trap 'kill $$(cat $(DEMO_DIR)/emulator.pid) 2>/dev/null' EXIT; \
	for i in $$(seq 50); do grep -q listening $(DEMO_DIR)/emulator.log 2>/dev/null && break; sleep 0.2; done; \
	cat $(DEMO_DIR)/emulator.log; \
	$(AWS_LOCAL) $(BIN)/python -m render.emulator network --write $(DEMO_DIR)/network.yaml && \
	$(AWS_LOCAL) $(BIN)/faas-render $(EXAMPLE) -o $(DEMO_DIR)/root --config $(DEMO_DIR)/network.yaml --apply && \
	echo "The emulator stops now; run 'python -m render.emulator serve' to keep one running."

clean:
	rm -rf $(DEMO_DIR) build *.egg-info
