"""Every public name of kerasext has a docstring whose Example runs.

Public names are those each subpackage lists in `__all__`, plus every class
registered through `kerasext_export`.
"""

import importlib
import inspect
import re

import matplotlib
import pytest

import kerasext
from kerasext.api_export import REGISTERED

matplotlib.use("Agg")

SUBPACKAGES = [
    "layers", "models", "training", "callbacks", "metrics", "tuning",
    "model_selection", "distribute", "plot",
]
EXAMPLE = re.compile(r"Example[s]?:\s*\n\s*```python\n(.*?)```", re.S)


def exported_objects():
    found = {}
    for name in SUBPACKAGES:
        try:
            module = importlib.import_module(f"kerasext.{name}")
        except ImportError:
            continue
        for attr in getattr(module, "__all__", []):
            found[f"kerasext.{name}.{attr}"] = getattr(module, attr)
    return found


EXPORTED = exported_objects()
PUBLIC = {
    **{f"{cls.__module__}.{cls.__name__}": cls for cls in REGISTERED.values()},
    **EXPORTED,
}


def test_every_registered_class_is_exported_from_its_subpackage():
    exported = {id(obj) for obj in EXPORTED.values()}
    missing = [key for key, cls in REGISTERED.items() if id(cls) not in exported]
    assert not missing, f"registered but in no subpackage's __all__: {missing}"


@pytest.mark.slow
@pytest.mark.cross_backend  # every example runs on TensorFlow, JAX and torch
@pytest.mark.parametrize(
    "qualname",
    # kerasext.distribute's examples build a MultiWorkerMirroredStrategy: own interpreter.
    [pytest.param(q, marks=pytest.mark.own_process) if q.startswith("kerasext.distribute.")
     else q for q in sorted(PUBLIC)],
    ids=lambda q: q.removeprefix("kerasext."),
)
def test_public_docstring_example_runs(qualname, tmp_path, monkeypatch):
    obj = PUBLIC[qualname]
    doc = inspect.getdoc(obj) or ""
    assert doc.strip(), f"{qualname} has no docstring"
    match = EXAMPLE.search(doc)
    assert match, f"{qualname}'s docstring has no `Example:` with a ```python block"
    monkeypatch.chdir(tmp_path)
    exec(compile(match.group(1), f"<{qualname} example>", "exec"), {"kx": kerasext})
