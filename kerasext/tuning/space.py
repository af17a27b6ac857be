"""Declaring a search space: pinned values, and the training group every HyperModel shares."""

import keras

from kerasext import _validation as v

#: Optimizers of the shared training group (all take `weight_decay`, decoupled as in AdamW).
OPTIMIZERS = ("adam", "sgd", "rmsprop")

#: Decoupled weight decay values (0 is off); an ordered choice, so Bayesian
#: optimization sees it as numeric while "off" stays reachable (a log range cannot hold 0).
WEIGHT_DECAYS = (0.0, 1e-5, 1e-4, 1e-3)

#: Batch sizes tuned through `HyperModel.fit`.
BATCH_SIZES = (16, 32, 64, 128)


class SearchSpace:
    """A `keras_tuner.HyperParameters` seen through the pins of a HyperModel.

    Declares hyperparameters with the same methods and arguments as
    `keras_tuner.HyperParameters`, except that a name listed in `fixed` is
    declared as `hp.Fixed(name, value)` instead, inside the same conditional
    scopes: a pinned child stays inactive while its parent is off, and a pinned
    parent switches its children on or off as any other value would.
    """

    def __init__(self, hp, fixed=None):
        self.hp = hp
        self.fixed = dict(fixed or {})

    def _declare(self, kind, name, *args, **kwargs):
        if name in self.fixed:
            return self.hp.Fixed(name, self.fixed[name])
        return getattr(self.hp, kind)(name, *args, **kwargs)

    def Int(self, name, *args, **kwargs):
        return self._declare("Int", name, *args, **kwargs)

    def Float(self, name, *args, **kwargs):
        return self._declare("Float", name, *args, **kwargs)

    def Choice(self, name, *args, **kwargs):
        return self._declare("Choice", name, *args, **kwargs)

    def Boolean(self, name, *args, **kwargs):
        return self._declare("Boolean", name, *args, **kwargs)

    def conditional_scope(self, parent_name, parent_values):
        return self.hp.conditional_scope(parent_name, list(parent_values))


def declare_dropout(space, default=0.0, max_value=0.5):
    """The shared `dropout` hyperparameter: a rate in [0, `max_value`] by steps of 0.1."""
    return space.Float("dropout", 0.0, max_value, step=0.1, default=default)


def declare_penalty(space):
    """Lasso / ridge / elastic net: `penalty`, with `l1` and `l2` active only where they apply.

    Returns `(l1, l2)` factors, 0.0 for a penalty that is off.
    """
    penalty = space.Choice("penalty", ["none", "l1", "l2", "l1_l2"], default="none")
    with space.conditional_scope("penalty", ["l1", "l1_l2"]):
        l1 = space.Float("l1", 1e-6, 1e-1, sampling="log", default=1e-4)
    with space.conditional_scope("penalty", ["l2", "l1_l2"]):
        l2 = space.Float("l2", 1e-6, 1e-1, sampling="log", default=1e-4)
    del penalty
    return (l1 or 0.0), (l2 or 0.0)


def declare_training(space, *, weight_decay=True, learning_rate=1e-3):
    """The training group: optimizer, log-scale learning rate, momentum, weight decay, batch size.

    `momentum` is active only under `optimizer="sgd"`; `weight_decay` is left
    out where the model tunes its own L1 / L2 penalty (`weight_decay=False`).
    Returns the chosen values as a dict.
    """
    optimizer = space.Choice("optimizer", list(OPTIMIZERS), default="adam")
    values = {
        "optimizer": optimizer,
        "learning_rate": space.Float(
            "learning_rate", 1e-4, 3e-2, sampling="log", default=learning_rate
        ),
    }
    with space.conditional_scope("optimizer", ["sgd"]):
        values["momentum"] = space.Float("momentum", 0.0, 0.95, step=0.05, default=0.9)
    if weight_decay:
        values["weight_decay"] = space.Choice(
            "weight_decay", list(WEIGHT_DECAYS), ordered=True, default=0.0
        )
    values["batch_size"] = space.Choice(
        "batch_size", list(BATCH_SIZES), ordered=True, default=32
    )
    return values


def make_optimizer(training):
    """A fresh Keras optimizer from the values `declare_training` returned."""
    kwargs = {"learning_rate": training["learning_rate"]}
    if training.get("weight_decay"):
        kwargs["weight_decay"] = training["weight_decay"]
    name = training["optimizer"]
    if name == "sgd":
        return keras.optimizers.SGD(momentum=training.get("momentum") or 0.0, **kwargs)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(**kwargs)
    if name == "adam":
        return keras.optimizers.Adam(**kwargs)
    raise v.invalid_argument("optimizer", name, f"one of {v.format_choices(OPTIMIZERS)}")
