"""Every ```python block in docs/*.md and README.md runs, so the guides cannot rot.

Blocks of one file run in order in one namespace, like a reader pasting them
into one session. A block fenced as ```python no-run is shown but not run
(for cluster launch commands and the like).
"""

import pathlib
import re

import matplotlib
import pytest

matplotlib.use("Agg")

ROOT = pathlib.Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"^```python[ \t]*(no-run)?[ \t]*\n(.*?)^```", re.S | re.M)
FILES = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]


def python_blocks(path):
    return [code for no_run, code in BLOCK.findall(path.read_text()) if not no_run]


# The distributed guide builds a MultiWorkerMirroredStrategy and patches Keras' trainer.
OWN_PROCESS = {"distributed.md"}


# The README's quick start and tour also run on JAX and torch (its feature table claims them).
CROSS_BACKEND = {"README.md"}


@pytest.mark.slow
@pytest.mark.parametrize(
    "path",
    [pytest.param(p, marks=pytest.mark.own_process) if p.name in OWN_PROCESS
     else pytest.param(p, marks=pytest.mark.cross_backend) if p.name in CROSS_BACKEND else p
     for p in FILES],
    ids=lambda p: p.name,
)
def test_doc_snippets_run(path, tmp_path, monkeypatch):
    blocks = python_blocks(path)
    if not blocks:
        pytest.skip(f"{path.name} has no python blocks")
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__docs__"}
    for index, code in enumerate(blocks):
        try:
            exec(compile(code, f"{path.name}[block {index}]", "exec"), namespace)
        except Exception as error:  # noqa: BLE001
            pytest.fail(f"{path.name} block {index} fails: {error!r}\n{code}")
