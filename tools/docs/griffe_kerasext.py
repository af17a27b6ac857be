"""A Griffe extension (named in mkdocs.yml): kerasext's keras-style docstrings and public API.

Griffe's Google parser knows `Args:` and `Returns:` but not keras' `Call arguments:` (it would
render the entries as one run-on paragraph in a note box) and treats `Example:` followed by a
blank line as plain text. This rewrites, before parsing:

- `Call arguments:` and its `name: description` entries into a titled bullet list, styled as
  the `Parameters:` list above it;
- a lone `Example:` / `Examples:` line into a title styled as the other sections.

A module that has `__all__` documents only what it lists (a module constant such as
`kerasext.distribute.UPSTREAM_ISSUE` would otherwise be rendered, with `str`'s docstring). It also
leaves private base classes (`kerasext.metrics.scores._Score`) out of the "Bases:"
line, and resolves a public name that shadows its own submodule (`kerasext.tuning.describe`, the
function, defined in the module `kerasext/tuning/describe.py`): Griffe would document the module
under that name and the function would have no reference entry.

The docstrings themselves stay in keras' form (tests/test_docstrings.py runs their examples).
"""

import importlib
import inspect
import re

import griffe

_TITLE = re.compile(r"^(?P<indent>[ \t]*)(?P<title>Call arguments|Examples?):[ \t]*$")
_ENTRY = re.compile(r"^(?P<name>\*{0,2}[A-Za-z_][A-Za-z0-9_]*):\s*(?P<text>.*)$")


def _indent(line):
    return len(line) - len(line.lstrip())


def rewrite(docstring):
    """Returns `docstring` with its `Call arguments:` and `Example:` sections rewritten."""
    lines = docstring.split("\n")
    out, index = [], 0
    while index < len(lines):
        line = lines[index]
        match = _TITLE.match(line)
        if not match:
            out.append(line)
            index += 1
            continue
        indent, title = match.group("indent"), match.group("title")
        out.extend([f"{indent}**{title}:**", ""])
        index += 1
        if title != "Call arguments":
            continue
        # The entries: every following line indented deeper than the title (blank lines too).
        block = []
        while index < len(lines) and (not lines[index].strip()
                                      or _indent(lines[index]) > len(indent)):
            block.append(lines[index])
            index += 1
        while block and not block[-1].strip():
            index -= 1
            block.pop()
        entry_indent = min((_indent(b) for b in block if b.strip()), default=0)
        for body in block:
            if not body.strip():
                out.append("")
                continue
            entry = _ENTRY.match(body.strip())
            if _indent(body) == entry_indent and entry:
                out.append(f"{indent}- **`{entry.group('name')}`** – {entry.group('text')}")
            else:
                out.append(f"{indent}  {body.strip()}")
        out.append("")
    return "\n".join(out)


class KerasextDocstrings(griffe.Extension):
    """Rewrites each docstring's keras-only sections as it is loaded."""

    def _rewrite(self, obj):
        if obj.docstring is not None:
            obj.docstring.value = rewrite(obj.docstring.value)

    def on_instance(self, *, node, obj, agent, **kwargs):  # noqa: ARG002 - Griffe's hook
        self._rewrite(obj)

    def on_class_instance(self, *, node, cls, agent, **kwargs):  # noqa: ARG002 - Griffe's hook
        private = [base for base in cls.bases
                   if any(part.startswith("_") for part in str(base).split("."))]
        cls.extra["kerasext"]["private_bases"] = [str(base) for base in private]
        cls.bases = [base for base in cls.bases if base not in private]

    def on_package(self, *, pkg, loader, **kwargs):  # noqa: ARG002 - Griffe's hook
        _unshadow(pkg)
        _inherit_private_constructors(pkg)
        _keep_exports(pkg)


def _inherit_private_constructors(module):
    """A class whose constructor comes from a private base (dropped from its bases and from
    the page) documents that constructor as its own, so its `Args:` match a signature."""
    for member in list(module.members.values()):
        if member.is_alias:
            continue
        if member.is_module:
            _inherit_private_constructors(member)
        elif member.is_class and "__init__" not in member.members:
            for path in member.extra["kerasext"].get("private_bases", []):
                # A base of the same module, by name (inspected classes name bases by path).
                base = module.members.get(path.rsplit(".", 1)[-1])
                init = None if base is None or base.is_alias else base.members.get("__init__")
                if init is not None and not init.is_alias and init.is_function:
                    member.set_member("__init__", griffe.Function(
                        "__init__", lineno=init.lineno, endlineno=init.endlineno,
                        parameters=init.parameters))
                    break


def _keep_exports(module):
    """Drops the members of `module` that its `__all__` does not list (submodules stay)."""
    for member in list(module.members.values()):
        if not member.is_alias and member.is_module:
            _keep_exports(member)
    if module.exports is None:
        return
    exported = {str(name) for name in module.exports}
    for name, member in list(module.members.items()):
        if name not in exported and (member.is_alias or not member.is_module):
            module.del_member(name)


def _unshadow(module):
    """Documents `module.name` as what it is at run time when a submodule has the same name."""
    try:
        runtime = importlib.import_module(module.path)
    except ImportError:
        return
    for name, member in list(module.members.items()):
        if not member.is_alias and member.is_module:
            _unshadow(member)
            value = getattr(runtime, name, None)
            if value is None or inspect.ismodule(value) or name not in member.members:
                continue
            module.set_member(name, griffe.Alias(name, member.members[name], parent=module))
