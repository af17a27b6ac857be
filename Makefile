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

.PHONY: test test-tensorflow test-jax test-torch test-fast test-min demo demo-quick bench lint clean

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

# The declared minimum versions (pyproject.toml), in their own venv, TensorFlow backend only:
# keras and keras-tuner at their minimums, with TensorFlow 2.20 (the release before the newest,
# 2.21, that `make test` runs). Keras 3.14.0 is the first whose `ops.scatter_update` takes
# `reduction` (the metrics' exact counts use it); 3.11.3-3.13 fail.
MIN_VENV ?= .venv-min
MIN_PY := $(MIN_VENV)/bin/python
MIN_PINS ?= keras==3.14.0 keras-tuner==1.4.7 tensorflow==2.20.0
# The short suite: the compat tripwires (tests/test_compat.py), the conformance harness's own tests,
# the distribute guard, and one test per component (its conformance test, or a fast one).
MIN_TESTS ?= -m "not slow" tests/test_compat.py tests/test_conformance.py \
	tests/test_distribute.py::test_the_version_range_decides_which_releases_are_patched \
	tests/test_distribute.py::test_apply_patches_each_needed_spot_once_and_warns_once \
	$(MIN_COMPONENT_TESTS)
MIN_COMPONENT_TESTS ?= \
	tests/layers/test_conv_block.py::test_conformance \
	tests/models/test_linear_regression.py::test_conformance \
	tests/training/test_train_step.py::test_train_step_conformance \
	tests/callbacks/test_backup_and_restore.py::test_conformance \
	tests/metrics/test_confusion_matrix.py::test_confusion_matrix_passes_the_conformance_harness \
	tests/tuning/test_describe.py \
	tests/test_model_selection.py::test_no_held_out_sample_reaches_fit

$(MIN_VENV)/.min-installed: pyproject.toml Makefile
	rm -rf $(MIN_VENV)
	$(PYTHON) -m venv $(MIN_VENV)
	$(MIN_PY) -m pip install -q --disable-pip-version-check $(MIN_PINS) -e . \
		pytest pytest-timeout pytest-xdist hypothesis
	touch $@

test-min: $(MIN_VENV)/.min-installed
	KERAS_BACKEND=tensorflow $(MIN_PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile \
		-p no:cacheprovider $(MIN_TESTS)

demo: $(VENV)/.examples-installed
	$(PY) examples/tour.py

demo-quick: $(VENV)/.examples-installed
	$(PY) examples/tour.py --quick

bench: $(VENV)/.dev-installed
	$(PY) -m benchmarks.run_all

clean:
	rm -rf $(VENV) $(MIN_VENV) out build site *.egg-info .pytest_cache

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
