# The two commands a newcomer needs: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install -q --disable-pip-version-check
# One pytest worker per core; a test module stays in one worker (module fixtures run once).
PYTEST_WORKERS ?= 2
PYTEST := $(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile --durations=25
# torch pinned to the CPU build before the extras (an unpinned torch pulls a CUDA build of GBs).
TORCH_PIN ?= torch==2.13.0

.PHONY: test test-tensorflow test-jax test-torch test-fast demo demo-quick bench lint clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# Stamps re-run the install only when pyproject.toml changes.
$(VENV)/.dev-installed: pyproject.toml | $(PY)
	$(PIP) $(TORCH_PIN)
	$(PIP) -e ".[dev]"
	touch $@

$(VENV)/.examples-installed: pyproject.toml | $(PY)
	$(PIP) -e ".[examples]"
	touch $@

lint: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check .

# The whole suite on TensorFlow, then the cross-backend suite on JAX and on torch; each backend
# in its own pytest process (KERAS_BACKEND is read when Keras is first imported).
test: lint
	KERAS_BACKEND=tensorflow $(PYTEST)
	KERAS_BACKEND=jax $(PYTEST) -m cross_backend
	KERAS_BACKEND=torch $(PYTEST) -m cross_backend

test-tensorflow: lint
	KERAS_BACKEND=tensorflow $(PYTEST)

test-jax: lint
	KERAS_BACKEND=jax $(PYTEST) -m cross_backend

test-torch: lint
	KERAS_BACKEND=torch $(PYTEST) -m cross_backend

test-fast: lint
	KERAS_BACKEND=tensorflow $(PYTEST) -m "not slow"

demo: $(VENV)/.examples-installed
	$(PY) examples/tour.py

demo-quick: $(VENV)/.examples-installed
	$(PY) examples/tour.py --quick

bench: $(VENV)/.dev-installed
	$(PY) -m benchmarks.run_all

clean:
	rm -rf $(VENV) out build site *.egg-info .pytest_cache

# The documentation site (mkdocs.yml): `make docs` builds it into site/, `make docs-serve` serves
# it at http://127.0.0.1:8000, `make docs-test` builds it with the tutorials in quick mode, then
# checks it (tests/docs_site/: a rendered reference entry for every public symbol, the executed
# tutorials and their figures, and the pages in headless Chromium, from Debian's `chromium` and
# `chromium-driver`). KERASEXT_DOCS_QUICK=1 makes `docs` and `docs-serve` train the tutorials
# briefly too.
DOCS_ENV := TF_CPP_MIN_LOG_LEVEL=2 NO_MKDOCS_2_WARNING=1
.PHONY: docs docs-serve docs-test

$(VENV)/.docs-installed: pyproject.toml | $(PY)
	$(PIP) -e ".[docs]"
	touch $@

docs: $(VENV)/.docs-installed
	$(DOCS_ENV) $(VENV)/bin/mkdocs build --strict

docs-serve: $(VENV)/.docs-installed
	$(DOCS_ENV) $(VENV)/bin/mkdocs serve

docs-test: $(VENV)/.docs-installed
	$(DOCS_ENV) KERASEXT_DOCS_QUICK=$${KERASEXT_DOCS_QUICK:-1} $(VENV)/bin/mkdocs build --strict
	$(DOCS_ENV) KERASEXT_DOCS_TEST=1 $(PY) -m pytest -p no:cacheprovider tests/docs_site
