# The two commands a newcomer needs: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install -q --disable-pip-version-check
# One pytest worker per core; a test module stays in one worker (module fixtures run once).
PYTEST_WORKERS ?= 2
PYTEST := $(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile --durations=25

.PHONY: test test-fast demo demo-quick bench lint clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# Stamps re-run the install only when pyproject.toml changes.
$(VENV)/.dev-installed: pyproject.toml | $(PY)
	$(PIP) -e ".[dev]"
	touch $@

$(VENV)/.examples-installed: pyproject.toml | $(PY)
	$(PIP) -e ".[examples]"
	touch $@

lint: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check .

test: lint
	$(PYTEST)

test-fast: lint
	$(PYTEST) -m "not slow"

demo: $(VENV)/.examples-installed
	$(PY) examples/tour.py

demo-quick: $(VENV)/.examples-installed
	$(PY) examples/tour.py --quick

bench: $(VENV)/.dev-installed
	$(PY) -m benchmarks.run_all

clean:
	rm -rf $(VENV) out build *.egg-info .pytest_cache
