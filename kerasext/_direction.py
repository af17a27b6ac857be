"""Which way a monitored quantity is better: "min" or "max", kerasext's one vocabulary.

Two vocabularies meet in Keras: a metric object says which way it is better
through the attribute `_direction = "up" | "down"`, which Keras' own callbacks
read in `mode="auto"` (a private attribute, read through `kerasext._compat`) (`keras.callbacks.EarlyStopping`, `ModelCheckpoint`,
`ReduceLROnPlateau`); callbacks and tuners are told it through
`mode="min" | "max"` (Keras) or `direction="min" | "max"`
(`keras_tuner.Objective`). kerasext's metrics keep `_direction = "up"` so
that Keras' callbacks read them; every other part of kerasext (its callbacks'
`mode`, its tuning objectives, `kerasext.plot`'s `direction`) speaks
"min" / "max" only, and reads a metric's `_direction` through
`metric_direction` here, the one place where "up" / "down" are translated.
"""

from kerasext import _compat

MIN = "min"
MAX = "max"

#: A metric's `_direction` ("up" / "down", Keras' words) in kerasext's words.
_FROM_METRIC = {"up": MAX, "down": MIN, MAX: MAX, MIN: MIN}


def metric_direction(metric):
    """"min" or "max" for a metric object that says which way is better, else None.

    Reads the metric's `_direction` attribute: "up" (Keras' word, e.g.
    `keras.metrics.F1Score`) is "max", "down" is "min"; a metric written with
    "max" / "min" there is read as such.
    """
    return _FROM_METRIC.get(_compat.metric_direction(metric))


def is_better(direction, value, reference):
    """Whether `value` is better than `reference` for a quantity to `direction` ("min"/"max")."""
    return value < reference if direction == MIN else value > reference
