"""Checks of the built documentation site (site/), run by `make docs-test` after `make docs`.

They read the site that `mkdocs build` wrote, so they are left out of `make test`: pytest
collects them only with `KERASEXT_DOCS_TEST=1`, which `make docs-test` sets. Without a built
site they fail, saying how to build it.
"""

import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SITE = ROOT / "site"
#: Screenshots for a person to look at.
OUT = ROOT / "out" / "docs"

if not os.environ.get("KERASEXT_DOCS_TEST"):
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture(scope="session")
def site():
    if not (SITE / "index.html").exists():
        pytest.fail(f"no built site at {SITE}: run `make docs` (or `make docs-test`) first")
    return SITE
