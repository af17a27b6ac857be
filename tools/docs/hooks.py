"""MkDocs hooks for the kerasext site (named in mkdocs.yml).

- Tutorials: every `docs/tutorials/NN_*.py` (a Jupytext percent-format notebook) is executed
  with nbclient (two kernels at a time) and becomes a page `tutorials/NN_*.md` with its code,
  printed output and figures (PNG files beside the page), plus the executed
  `tutorials/NN_*.ipynb` to download. A cell that raises fails the build.
  `KERASEXT_DOCS_QUICK=1` (the notebooks read it) makes every tutorial train briefly.
  Executed notebooks are cached under build/docs-notebooks/, keyed by the notebook source,
  the quick flag and kerasext's sources (`mkdocs build`); under `mkdocs serve`, by the first
  two only, so that editing a docstring reloads the site without re-running every notebook.
- Cross-links: in the guides and tutorials, inline code naming a public symbol,
  `kx.metrics.F1Score` or `kerasext.metrics.F1Score` (with or without a call), links to its
  reference entry.
"""

import ast
import asyncio
import base64
import hashlib
import logging
import os
import pathlib
import re
import shutil
import tempfile
import time

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

log = logging.getLogger("mkdocs.hooks.kerasext")

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "kerasext"
CACHE = ROOT / "build" / "docs-notebooks"
QUICK_ENV = "KERASEXT_DOCS_QUICK"
NOTEBOOK = re.compile(r"^tutorials/\d\d_[a-z0-9_]+\.py$")
#: Seconds one cell may run (a tutorial's search in full mode is the longest).
CELL_TIMEOUT = 600
#: Kernels run at once (the CI machine has two cores).
PARALLEL = int(os.environ.get("KERASEXT_DOCS_JOBS", "2"))
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
TF_LOG = re.compile(r"^(WARNING|INFO|ERROR):tensorflow:")
#: Public modules whose `__all__` the cross-links cover.
MODULES = ["layers", "models", "training", "callbacks", "metrics", "tuning",
           "model_selection", "distribute", "plot"]


#: Set by `on_startup`: under `mkdocs serve` a library edit does not re-run the notebooks.
_SERVING = False


def on_startup(command, dirty):
    global _SERVING
    _SERVING = command == "serve"


def _quick():
    return os.environ.get(QUICK_ENV, "0") not in ("", "0", "false", "False")


def _public_names():
    """`{"metrics.F1Score": "kerasext.metrics.F1Score", ...}` from each module's `__all__` (no import)."""
    names = {}
    for module in MODULES:
        path = PACKAGE / module / "__init__.py"
        if not path.exists():
            path = PACKAGE / f"{module}.py"
        for node in ast.parse(path.read_text()).body:
            if (isinstance(node, ast.Assign)
                    and any(getattr(t, "id", None) == "__all__" for t in node.targets)):
                for name in ast.literal_eval(node.value):
                    names[f"{module}.{name}"] = f"kerasext.{module}.{name}"
    return names


# ----------------------------------------------------------------------------- notebooks


def _library_digest():
    digest = hashlib.sha256()
    for path in sorted(PACKAGE.rglob("*.py")):
        digest.update(path.relative_to(ROOT).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


async def _execute(notebook, workdir, semaphore, name):
    from nbclient import NotebookClient

    async with semaphore:
        start = time.perf_counter()
        log.info("tutorials: executing %s", name)
        client = NotebookClient(notebook, timeout=CELL_TIMEOUT, kernel_name="python3",
                                resources={"metadata": {"path": str(workdir)}})
        await client.async_execute()
        log.info("tutorials: %s executed in %.1f s", name, time.perf_counter() - start)
        notebook.metadata["kerasext_execution_seconds"] = round(time.perf_counter() - start, 1)
    return notebook


async def _execute_all(jobs):
    semaphore = asyncio.Semaphore(max(1, PARALLEL))
    tasks = [_execute(notebook, workdir, semaphore, name) for name, notebook, workdir in jobs]
    return await asyncio.gather(*tasks, return_exceptions=True)


def _executed_notebooks(sources):
    """`{src_uri: executed nbformat notebook}`, executing those not in the cache."""
    import jupytext
    import nbformat

    CACHE.mkdir(parents=True, exist_ok=True)
    library = "serve" if _SERVING else _library_digest()
    quick = _quick()
    results, jobs, keys = {}, [], {}
    tmp = None
    for file in sources:
        text = pathlib.Path(file.abs_src_path).read_text()
        key = hashlib.sha256(f"{text}\0{quick}\0{library}".encode()).hexdigest()[:16]
        cached = CACHE / f"{pathlib.Path(file.src_uri).stem}-{key}.ipynb"
        if cached.exists():
            results[file.src_uri] = nbformat.read(cached, as_version=4)
            log.info("tutorials: %s unchanged, from the cache", file.src_uri)
            continue
        notebook = jupytext.reads(text, fmt="py:percent")
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                           "language": "python"}
        tmp = tmp or pathlib.Path(tempfile.mkdtemp(prefix="kerasext-docs-"))
        workdir = tmp / pathlib.Path(file.src_uri).stem
        workdir.mkdir()
        jobs.append((file.src_uri, notebook, workdir))
        keys[file.src_uri] = cached
    if jobs:
        start = time.perf_counter()
        try:
            outcomes = asyncio.run(_execute_all(jobs))
        finally:
            # What the notebooks wrote (saved models, tuner trials) is not part of the site.
            shutil.rmtree(tmp, ignore_errors=True)
        log.info("tutorials: %d executed in %.1f s (quick mode: %s)", len(jobs),
                 time.perf_counter() - start, quick)
        failures = []
        for (name, _, _), outcome in zip(jobs, outcomes):
            if isinstance(outcome, BaseException):
                failures.append(f"tutorial {name} failed to execute:\n{ANSI.sub('', str(outcome))}")
                continue
            for stale in CACHE.glob(f"{pathlib.Path(name).stem}-*.ipynb"):
                stale.unlink()
            nbformat.write(outcome, keys[name])
            results[name] = outcome
        if failures:
            raise PluginError("\n\n".join(failures))
    return results


def _fence(text, language="text", title=None):
    longest = max((len(m) for m in re.findall(r"`{3,}", text)), default=2)
    ticks = "`" * max(3, longest + 1)
    attrs = f' title="{title}"' if title else ""
    return f"{ticks}{language}{attrs}\n{text.rstrip()}\n{ticks}\n"


def _as_text(value):
    return "".join(value) if isinstance(value, list) else value


def _notebook_markdown(notebook, stem, quick, source_name):
    """The page for one executed notebook, and `{relative path: bytes}` of its figures."""
    figures = {}
    seconds = notebook.metadata.get("kerasext_execution_seconds")
    mode = "quick mode (`KERASEXT_DOCS_QUICK=1`)" if quick else "full mode"
    header = (
        f'!!! info "An executed notebook"\n'
        f"    This page is [`docs/tutorials/{source_name}`]({source_name}), a Jupytext notebook, "
        f"run when the site was built, in {mode}"
        + (f", in {seconds:.0f} s" if seconds is not None else "")
        + f". Download it as a notebook: [{stem}.ipynb]({stem}.ipynb).\n\n"
    )
    parts = []
    for cell in notebook.cells:
        tags = set(cell.metadata.get("tags", []))
        if "remove-cell" in tags:
            continue
        if cell.cell_type == "markdown":
            parts.append(cell.source.strip() + "\n")
            continue
        if cell.cell_type != "code":
            continue
        if cell.source.strip() and "hide-input" not in tags:
            parts.append(_fence(cell.source, "python"))
        if "remove-output" in tags:
            continue
        for output in cell.get("outputs", []):
            kind = output.get("output_type")
            if kind == "stream":
                if output.get("name") == "stderr":
                    # Warnings are for the build log, not the page.
                    log.info("tutorials: %s wrote to stderr: %s", stem,
                             _as_text(output["text"]).strip()[:2000])
                    continue
                text = ANSI.sub("", _as_text(output["text"]))
                # TensorFlow's Python logger prints to stdout (retracing notices): build log.
                noise = [line for line in text.splitlines() if TF_LOG.match(line)]
                if noise:
                    log.info("tutorials: %s logged: %s", stem, " ".join(noise)[:2000])
                    text = "\n".join(line for line in text.splitlines()
                                     if not TF_LOG.match(line))
                if text.strip():
                    parts.append(_fence(text, title="output"))
            elif kind in ("execute_result", "display_data"):
                data = output.get("data", {})
                if "image/png" in data:
                    name = f"{stem}_files/figure_{len(figures) + 1}.png"
                    figures[name] = base64.b64decode(_as_text(data["image/png"]))
                    alt = f"{stem} figure {len(figures)}"
                    # A click opens the figure at full size (wide figures are scaled down).
                    parts.append(f'[![{alt}]({name})]({name}){{ .kerasext-figure '
                                 f'title="open at full size" }}\n')
                elif "text/markdown" in data:
                    parts.append(_as_text(data["text/markdown"]) + "\n")
                elif "text/plain" in data:
                    parts.append(_fence(ANSI.sub("", _as_text(data["text/plain"])),
                                        title="output"))
            elif kind == "error":
                raise PluginError(f"tutorial {stem} holds an error output: {output.get('ename')}")
    body = "\n".join(parts)
    # The notebook's first heading stays the page title; the notice goes under it.
    title, _, rest = body.partition("\n")
    if not title.startswith("# "):
        raise PluginError(f"tutorial {stem} must start with a '# Title' markdown cell")
    return f"{title}\n\n{header}{rest}", figures


def on_files(files, config):
    sources = [file for file in files if NOTEBOOK.match(file.src_uri)]
    if not sources:
        return files
    import nbformat

    executed = _executed_notebooks(sources)
    quick = _quick()
    for file in sources:
        stem = pathlib.Path(file.src_uri).stem
        notebook = executed[file.src_uri]
        page, figures = _notebook_markdown(notebook, stem, quick, pathlib.Path(file.src_uri).name)
        files.append(File.generated(config, f"tutorials/{stem}.md", content=page))
        files.append(File.generated(config, f"tutorials/{stem}.ipynb",
                                    content=nbformat.writes(notebook)))
        for name, data in figures.items():
            files.append(File.generated(config, f"tutorials/{name}", content=data))
    return files


# ----------------------------------------------------------------------------- cross-links

_CODE_SPAN = re.compile(
    r"(?<!`)`(k(?:x|erasext)\.([a-z_]+\.[A-Za-z_][A-Za-z0-9_]*)(\([^`]*\))?)`(?!`)"
)
_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})")


def _link_code_spans(markdown, names):
    lines, fence = [], None
    for line in markdown.split("\n"):
        match = _FENCE.match(line)
        if match:
            marker = match.group(2)
            if fence is None:
                fence = marker
            elif marker[0] == fence[0] and len(marker) >= len(fence):
                fence = None
            lines.append(line)
            continue
        if fence is None and not line.startswith("    "):

            def replace(m):
                target = names.get(m.group(2))
                if target is None:
                    return m.group(0)
                return f"[`{m.group(1)}`][{target}]"

            line = _CODE_SPAN.sub(replace, line)
        lines.append(line)
    return "\n".join(lines)


_NAMES = None


def on_page_markdown(markdown, page, config, files):
    global _NAMES
    if page.file.src_uri.startswith("reference/"):
        return markdown
    if _NAMES is None:
        _NAMES = _public_names()
    return _link_code_spans(markdown, _NAMES)

