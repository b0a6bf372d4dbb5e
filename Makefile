# Two commands for a fresh machine: `make demo` (set up + run the main job) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
DEMO_DIR ?= demo
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	@# No GPU: take the CPU build of torch before the project, so no multi-GB CUDA build is pulled.
	if ! command -v nvidia-smi >/dev/null 2>&1; then $(PY) -m pip install -q torch==2.13.0; fi
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(VENV)/bin/recipelab bench make --out $(DEMO_DIR)/bench
	$(VENV)/bin/recipelab search --data $(DEMO_DIR)/bench/pool.jsonl --eval $(DEMO_DIR)/bench/eval.jsonl \
		--test $(DEMO_DIR)/bench/test.jsonl --budget-probes 14 --test-seeds 1 --workspace $(DEMO_DIR)/ws
	$(VENV)/bin/recipelab bench score latest $(DEMO_DIR)/bench --workspace $(DEMO_DIR)/ws
	@echo "logs:   $(VENV)/bin/recipelab logs --workspace $(DEMO_DIR)/ws"
	@echo "report: $(VENV)/bin/recipelab report --workspace $(DEMO_DIR)/ws --out $(DEMO_DIR)/report.html"

test: setup
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check recipelab tests benchmarks

clean:
	rm -rf $(VENV) .recipelab $(DEMO_DIR)
