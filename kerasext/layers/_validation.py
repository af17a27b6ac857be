"""Argument checks shared by the seed-architecture layers and models.

Each raises `ValueError` at construction in keras' form, naming the argument.
"""

import numbers


def check_rate(name, value):
    """A dropout-like rate in [0, 1)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not 0.0 <= float(value) < 1.0
    ):
        raise ValueError(
            f"Invalid `{name}` argument value. Expected a float in [0, 1). "
            f"Received: {name}={value!r}"
        )


def check_non_negative(name, value):
    """A regularization factor >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or float(value) < 0.0:
        raise ValueError(
            f"Invalid `{name}` argument value. Expected a float >= 0. Received: {name}={value!r}"
        )


def check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(
            f"Invalid `{name}` argument value. Expected a positive integer. "
            f"Received: {name}={value!r}"
        )


def as_positive_int_tuple(name, value, *, allow_empty=False):
    """An int or a sequence of ints, as a tuple of positive ints."""
    values = (value,) if isinstance(value, numbers.Integral) else value
    try:
        values = tuple(values)
    except TypeError:
        values = None
    if (
        values is None
        or (not values and not allow_empty)
        or any(isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1 for v in values)
    ):
        raise ValueError(
            f"Invalid `{name}` argument value. Expected a positive integer or a "
            f"{'possibly empty ' if allow_empty else 'non-empty '}sequence of positive "
            f"integers. Received: {name}={value!r}"
        )
    return tuple(int(v) for v in values)


def check_choice(name, value, choices):
    if value not in choices:
        shown = "{" + ", ".join(repr(c) for c in choices) + "}"
        raise ValueError(
            f"Invalid `{name}` argument value. Expected one of {shown}. Received: {name}={value!r}"
        )


def check_num_classes(value, *, allow_none=True, minimum=2):
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        expected = f"an integer >= {minimum}" + (" or None (regression head)" if allow_none else "")
        raise ValueError(
            f"Invalid `num_classes` argument value. Expected {expected}. "
            f"Received: num_classes={value!r}"
        )


def l1_l2(l1, l2):
    """A serialisable L1L2 regularizer, or None when both factors are zero."""
    import keras

    if not l1 and not l2:
        return None
    return keras.regularizers.L1L2(l1=float(l1), l2=float(l2))
