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
	rm -rf $(VENV) out build *.egg-info .pytest_cache
