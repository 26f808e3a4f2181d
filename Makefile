# The two commands a researcher needs: `make demo` and `make test`. Both set up .venv on first use.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
INTEROP_STAMP := $(VENV)/.installed-modelscope
APP_STAMP := $(VENV)/.installed-app
BROWSER_STAMP := $(VENV)/.installed-browser
# Quieter TensorFlow start-up logs.
export TF_CPP_MIN_LOG_LEVEL ?= 2

.DEFAULT_GOAL := help
.PHONY: help install demo app results test test-slow test-all test-interop test-browser mediapipe-venv peers lint format clean

help:  ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-10s %s\n", $$1, $$2}'

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)  ## Create .venv (if missing) and install the project with its dev tools

demo: $(STAMP)  ## Build data, train both stages, export, evaluate: the whole chain (~4.5 min on 2 cores, install included)
	@start=$$(date +%s); \
	$(PY) build_dataset.py experiment=demo && \
	$(PY) train_coarse.py experiment=demo && \
	$(PY) train_fine.py experiment=demo && \
	$(PY) export.py experiment=demo overwrite=true && \
	$(PY) evaluate.py experiment=demo && \
	echo "make demo: $$(( $$(date +%s) - start )) s in all"

$(APP_STAMP): pyproject.toml | $(STAMP)
	$(PY) -m pip install --quiet -e ".[dev,app]"
	touch $(APP_STAMP)

app: $(APP_STAMP)  ## Install the .[app] extra and serve the web page on the released model (prints its address)
	$(PY) app.py

test: $(STAMP)  ## Run the test suite (slow and browser tests excluded)
	$(PY) -m pytest -m "not slow and not browser" -q

test-slow: $(STAMP)  ## Run only the tests marked slow (the notebooks, fresh processes)
	$(PY) -m pytest -m slow -q

test-all: $(STAMP)  ## Run every test, the slow ones too
	$(PY) -m pytest -q

$(INTEROP_STAMP): pyproject.toml | $(STAMP)
	$(PY) -m pip install --quiet -e ".[dev,modelscope]"
	touch $(INTEROP_STAMP)

test-interop: $(INTEROP_STAMP)  ## Install the .[modelscope] extra (CPU torch) and run ModelScope's pipeline on our export
	$(PY) -m pytest -m interop -q

$(BROWSER_STAMP): pyproject.toml | $(STAMP)
	$(PY) -m pip install --quiet -e ".[dev,browser]"
	touch $(BROWSER_STAMP)

# Debian's chromium and chromium-driver (same version), installed once with apt where missing.
test-browser: $(BROWSER_STAMP)  ## Install .[browser] and Debian's chromium, and drive the web page in it headless
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null)
	$(PY) -m pytest -m browser -q -rs

# MediaPipe 0.10.14 pins protobuf < 5 and pulls opencv-contrib-python and jax, which clash with
# TensorFlow 2.21: it gets its own environment, used by benchmarks/peers.py through files only.
.venv-mediapipe/bin/python:
	$(PYTHON) -m venv .venv-mediapipe
	.venv-mediapipe/bin/python -m pip install --quiet "mediapipe==0.10.14"

mediapipe-venv: .venv-mediapipe/bin/python  ## Create .venv-mediapipe (MediaPipe Selfie Segmentation, for the peers benchmark)

# The demo trained on its synthetic data only (its splits.json lists no real photo): every real
# photo is held out, and peers.py checks that against the record.
peers: $(STAMP) .venv-mediapipe/bin/python  ## Coarse stage vs MediaPipe, refinement vs closed-form matting, on ../shared/data photos the demo never saw
	$(PY) benchmarks/peers.py --splits data/shards/synthetic_demo/splits.json \
		--portraits-source none --people-source none --alphamatting-source none

results: $(STAMP)  ## docs/results.md from the runs' JSON (the released model's figures.json, docs/results/*.json)
	$(PY) -m matting.evaluation.results

lint: $(STAMP)  ## ruff check and format check; notebooks must be committed without outputs
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -q tests/test_notebooks.py -k without_outputs

format: $(STAMP)  ## Apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:  ## Remove outputs and built data (keeps the virtual environments)
	rm -rf outputs data/raw data/shards
