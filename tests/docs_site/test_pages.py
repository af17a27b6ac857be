"""The built site holds a rendered reference entry for every public symbol, and the tutorials.

Walks each public module's `__all__` (the same modules tests/test_docstrings.py walks) and
finds, in the module's reference page, the entry's heading and, for each section its docstring
has, the rendered section: signature, Parameters (`Args:`), `Call arguments:`, `Returns:`,
`Example:` with its code, and `Reference:`.
"""

import html
import importlib
import inspect
import json
import re
import struct

import pytest

from tests.docs_site.conftest import ROOT

MODULES = ["layers", "models", "training", "callbacks", "metrics", "tuning",
           "model_selection", "distribute", "plot"]
TUTORIALS = sorted((ROOT / "docs" / "tutorials").glob("[0-9][0-9]_*.py"))
GUIDES = sorted(p for p in (ROOT / "docs").glob("*.md") if p.name != "index.md")


def public_symbols():
    for module_name in MODULES:
        module = importlib.import_module(f"kerasext.{module_name}")
        for name in module.__all__:
            yield module_name, name, getattr(module, name)


SYMBOLS = list(public_symbols())


def test_every_public_module_has_a_reference_page(site):
    missing = [m for m in MODULES if not (site / "reference" / m / "index.html").exists()]
    assert not missing, f"no reference page for {missing}"


def entry_html(page, qualname):
    """The HTML of one reference entry: from its heading to the next heading of its level."""
    match = re.search(rf'<h(\d)[^>]*\bid="{re.escape(qualname)}"', page)
    if match is None:
        return None
    level = match.group(1)
    end = page.find(f"<h{level} ", match.end())
    return page[match.start():end if end != -1 else len(page)]


def text_of(fragment):
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


@pytest.mark.parametrize(
    "module_name,name,obj", SYMBOLS, ids=[f"{m}.{n}" for m, n, _ in SYMBOLS]
)
def test_public_symbol_has_a_rendered_reference_entry(site, module_name, name, obj):
    qualname = f"kerasext.{module_name}.{name}"
    page = (site / "reference" / module_name / "index.html").read_text()
    entry = entry_html(page, qualname)
    assert entry is not None, f"{qualname} has no entry (heading id) in reference/{module_name}/"
    docstring = inspect.getdoc(obj) or ""
    assert docstring, f"{qualname} has no docstring"
    text = text_of(entry)
    summary = re.sub(r"[`*]", "", docstring.strip().splitlines()[0].strip())[:30]
    assert summary in " ".join(text.split()), (
        f"{qualname}: the docstring's summary line {summary!r} is not rendered")
    # The signature, in its own block, names the object and its first argument.
    signature = re.search(r'class="doc-signature[^"]*"(.*?)</div>', entry, re.S)
    assert signature, f"{qualname}: no rendered signature"
    signature_text = text_of(signature.group(1))
    assert name in signature_text, f"{qualname}: signature {signature_text!r} lacks the name"
    parameters = [p for p in inspect.signature(obj).parameters
                  if p not in ("self", "args", "kwargs")]
    if parameters:
        assert parameters[0] in signature_text, (
            f"{qualname}: signature {signature_text!r} lacks `{parameters[0]}`")
    expected_sections = {
        "Args:": "Parameters:",
        "Call arguments:": "Call arguments:",
        "Returns:": "Returns:",
        "Example:": "Example:",
        "Reference:": "Reference",
    }
    for in_docstring, rendered in expected_sections.items():
        if re.search(rf"^\s*{re.escape(in_docstring)}\s*$", docstring, re.M):
            assert rendered in text, f"{qualname}: its `{in_docstring}` section is not rendered"
    if "Example:" in docstring:
        example = entry.split("Example:", 1)[1]
        assert '<div class="highlight">' in example or "language-python" in example, (
            f"{qualname}: the example's code is not rendered as a code block")
    if "Args:" in docstring:
        # Every argument the docstring documents is listed (Griffe drops unknown ones silently).
        args = re.search(r"^Args:\n(.*?)(?:\n\S|\Z)", docstring, re.M | re.S).group(1)
        for argument in re.findall(r"^    (\*{0,2}\w+):", args, re.M):
            assert argument.lstrip("*") in text, f"{qualname}: argument {argument} not rendered"


@pytest.mark.parametrize("module_name", MODULES)
def test_reference_page_documents_only_the_public_api(site, module_name):
    """A module's page has an entry for what `__all__` lists, and for nothing else."""
    page = (site / "reference" / module_name / "index.html").read_text()
    entries = set(re.findall(rf'<h2[^>]*\bid="kerasext\.{module_name}\.([A-Za-z_0-9]+)"', page))
    public = set(importlib.import_module(f"kerasext.{module_name}").__all__)
    assert entries == public, (
        f"reference/{module_name}: not public {sorted(entries - public)}, "
        f"missing {sorted(public - entries)}")


def test_search_index_lists_every_public_symbol(site):
    index = json.loads((site / "search" / "search_index.json").read_text())
    locations = {doc["location"] for doc in index["docs"]}
    missing = [f"{m}.{n}" for m, n, _ in SYMBOLS
               if f"reference/{m}/#kerasext.{m}.{n}" not in locations]
    assert not missing, f"not in the search index: {missing}"


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("source", TUTORIALS, ids=lambda p: p.stem)
def test_tutorial_page_is_executed_with_its_figures(site, source):
    page_path = site / "tutorials" / source.stem / "index.html"
    assert page_path.exists(), f"no page for {source.name}"
    page = page_path.read_text()
    assert "Traceback" not in page, f"{source.stem}: a traceback on the page"
    figures = re.findall(r'<img[^>]+src="([^"]+\.png)"', page)
    assert figures, f"{source.stem}: no figure on the page"
    for src in figures:
        path = (page_path.parent / src).resolve()
        assert path.exists(), f"{source.stem}: figure {src} missing from the site"
        width, height = png_size(path)
        assert width > 100 and height > 100, f"{src}: {width}x{height}"
    # Printed output is on the page, and the executed notebook is there to download.
    assert 'class="filename">output<' in page, f"{source.stem}: no printed output"
    notebook = json.loads((site / "tutorials" / f"{source.stem}.ipynb").read_text())
    code_cells = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    assert code_cells and all(c.get("execution_count") for c in code_cells), (
        f"{source.stem}.ipynb: not every code cell was executed")
    assert not [o for c in code_cells for o in c["outputs"] if o["output_type"] == "error"]


@pytest.mark.parametrize("source", TUTORIALS, ids=lambda p: p.stem)
def test_tutorial_code_fits_the_page(source):
    """Code lines of at most 80 characters show without a sideways scroll on a 1280 px screen."""
    import jupytext

    notebook = jupytext.read(source)
    assert notebook.cells[0].cell_type == "markdown", f"{source.name}: no title cell"
    long = [line for cell in notebook.cells if cell.cell_type == "code"
            for line in cell.source.splitlines() if len(line) > 80]
    assert not long, f"{source.name}: code lines over 80 characters: {long}"


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.stem)
def test_guide_page_is_built(site, guide):
    page = site / guide.stem / "index.html"
    assert page.exists(), f"{guide.name} has no page"
    title = guide.read_text().splitlines()[0].lstrip("# ").replace("`", "")
    assert title[:30] in text_of(page.read_text()), f"{guide.name}: title not rendered"
