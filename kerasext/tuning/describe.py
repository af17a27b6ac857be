"""`describe(hypermodel)`: a search space laid out as a table, without training anything."""

import collections

import keras_tuner

Hyperparameter = collections.namedtuple(
    "Hyperparameter", ["name", "type", "range", "default", "condition"]
)
Hyperparameter.__doc__ = """One hyperparameter of a search space, as `describe` lists it.

Fields: `name`; `type` ("Int", "Float", "Choice", "Boolean" or "Fixed");
`range` (bounds, step and sampling, or the choices); `default`; `condition`
("always", or when it is active, e.g. "cell in {'lstm', 'gru'}").
"""

#: Declarations tried at most while looking for hyperparameters hidden in inactive branches.
MAX_DECLARATIONS = 512


class SpaceDescription(list):
    """The hyperparameters of a search space: a list of `Hyperparameter` rows.

    `str()` (and `print`) gives an aligned text table; `to_markdown()` a
    Markdown one; `names` the names in declaration order.
    """

    COLUMNS = Hyperparameter._fields

    @property
    def names(self):
        return list(dict.fromkeys(row.name for row in self))

    def get(self, name):
        """The rows named `name` (one per condition it is declared under)."""
        rows = [row for row in self if row.name == name]
        if not rows:
            raise KeyError(f"No hyperparameter named {name!r}. Known: {self.names}")
        return rows

    def _cells(self):
        return [[str(value) for value in row] for row in self]

    def __str__(self):
        cells = [list(self.COLUMNS), *self._cells()]
        widths = [max(len(row[i]) for row in cells) for i in range(len(self.COLUMNS))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)

    __repr__ = __str__

    def to_markdown(self):
        lines = [
            "| " + " | ".join(self.COLUMNS) + " |",
            "|" + "---|" * len(self.COLUMNS),
        ]
        for row in self._cells():
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |")
        return "\n".join(lines) + "\n"


def _range(hp):
    kind = type(hp).__name__
    if kind in ("Int", "Float"):
        text = f"[{hp.min_value}, {hp.max_value}]"
        if hp.step is not None and not (kind == "Int" and hp.step == 1):
            text += f" step {hp.step}"
        if hp.sampling != "linear":
            text += f" {hp.sampling}"
        return text
    if kind == "Fixed":
        return f"= {hp.value!r}"
    return "{" + ", ".join(repr(v) for v in hp.values) + "}"


def _condition(hp):
    if not hp.conditions:
        return "always"
    parts = []
    for condition in hp.conditions:
        values = list(condition.values)
        if len(values) == 1:
            parts.append(f"{condition.name} == {values[0]!r}")
        else:
            parts.append(f"{condition.name} in {{{', '.join(repr(v) for v in values)}}}")
    return " and ".join(parts)


def _key(hp):
    return (hp.name, _condition(hp))


def _discrete_values(hp):
    try:
        return list(hp.values)
    except Exception:  # noqa: BLE001 - a continuous Float parent has no finite values
        return []


def _declaration_function(hypermodel):
    declare = getattr(hypermodel, "declare_space", None)
    if declare is not None:
        return declare
    if isinstance(hypermodel, keras_tuner.HyperModel):
        return hypermodel.build
    if callable(hypermodel):
        return hypermodel
    raise TypeError(
        "`describe` expects a keras_tuner.HyperModel or a model-building function "
        f"`build(hp)`. Received: {hypermodel!r} of type {type(hypermodel)}"
    )


def explore(hypermodel):
    """Every hyperparameter the space can declare, including those under inactive branches.

    Declares the space with the defaults, then again with each value of each
    parent of a conditional scope (recursively, from every declaration that
    revealed something new), so that hyperparameters declared only when a
    branch is taken are found too. kerasext HyperModels only declare (no model
    is built); any other HyperModel or build function is built each time.

    Returns a list of `keras_tuner` HyperParameter objects, in order of discovery.
    """
    declare = _declaration_function(hypermodel)
    found = {}
    tried = set()
    queue = collections.deque([{}])
    while queue and len(tried) < MAX_DECLARATIONS:
        overrides = queue.popleft()
        signature = tuple(sorted(overrides.items(), key=lambda item: item[0]))
        if signature in tried:
            continue
        tried.add(signature)
        hp = keras_tuner.HyperParameters()
        hp.values.update(overrides)
        declare(hp)
        new = [h for h in hp.space if _key(h) not in found]
        for h in new:
            found[_key(h)] = h
        if not new and overrides:
            continue
        parents = {c.name for h in hp.space for c in h.conditions}
        for parent in sorted(parents):
            for candidate in [h for h in hp.space if h.name == parent]:
                for value in _discrete_values(candidate):
                    queue.append({**overrides, parent: value})
    return list(found.values())


def describe(hypermodel):
    """Lists every hyperparameter of a search space, with its range, default and condition.

    Nothing is trained. For a kerasext HyperModel nothing is built either: the
    space is only declared. Hyperparameters declared only under a branch that
    the defaults do not take (the units of an LSTM when the default cell is
    GRU, the width of a third layer when the default depth is two) are found by
    declaring the space again with each value of each parent hyperparameter.
    Works on any `keras_tuner.HyperModel` or build function too (those are
    built once per branch explored).

    Args:
        hypermodel: a kerasext HyperModel, any `keras_tuner.HyperModel`, or a
            function `build(hp)` returning a model.

    Returns:
        A `SpaceDescription`: a list of `(name, type, range, default,
        condition)` rows that prints as a table (`print(...)`) and renders as
        Markdown (`.to_markdown()`).

    Example:

    ```python
    space = kx.tuning.describe(kx.tuning.HyperRecurrentNet((20, 4), num_classes=3))
    print(space)
    assert "lstm" in space.get("gated_units")[0].condition
    assert space.get("learning_rate")[0].range.endswith("log")
    ```
    """
    return SpaceDescription(
        Hyperparameter(
            name=hp.name,
            type=type(hp).__name__,
            range=_range(hp),
            default=hp.default,
            condition=_condition(hp),
        )
        for hp in explore(hypermodel)
    )
