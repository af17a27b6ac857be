"""Argument checks: the one module every kerasext component validates its arguments with.

Each check raises at construction, in keras' form, naming the argument, what
was received and what is expected:

    Invalid `mode` argument value. Expected one of ('auto', 'min', 'max').
    Received: mode='best'

A wrong value of the right kind is a `ValueError` (as keras raises for its own
arguments); `check_instance` raises `TypeError` where an object of the wrong
class is passed. Choices are listed in the order the caller gives them (a
`set` or `frozenset` is listed sorted), so a message reads the same on every
run. Each check returns the value it accepted, so that callers can write
`self.rate = check_rate("rate", rate)`.
"""

import math
import numbers


def invalid_argument(name, value, expected):
    """The `ValueError` for argument `name`: "Invalid `name` ... Expected ... Received: ..."."""
    return ValueError(
        f"Invalid `{name}` argument value. Expected {expected}. Received: {name}={value!r}"
    )


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def format_choices(choices):
    """`choices` as text in a stable order: as given, or sorted when given as a set."""
    if isinstance(choices, (set, frozenset)):
        choices = sorted(choices, key=repr)
    return "(" + ", ".join(repr(choice) for choice in choices) + ")"


def check_choice(name, value, choices):
    """`value` is one of `choices` (compared with `==`; `None` may be a choice)."""
    if value not in tuple(choices):
        raise invalid_argument(name, value, f"one of {format_choices(choices)}")
    return value


def check_bool(name, value):
    """`value` is `True` or `False` (not 0 / 1, not a string)."""
    if not isinstance(value, bool):
        raise invalid_argument(name, value, "one of (True, False)")
    return value


def _bounds_text(minimum, maximum, min_inclusive, max_inclusive):
    if minimum is not None and maximum is not None:
        left = "[" if min_inclusive else "("
        right = "]" if max_inclusive else ")"
        return f" in {left}{minimum}, {maximum}{right}"
    if minimum is not None:
        return f" {'>=' if min_inclusive else '>'} {minimum}"
    if maximum is not None:
        return f" {'<=' if max_inclusive else '<'} {maximum}"
    return ""


def check_number(name, value, *, minimum=None, maximum=None, min_inclusive=True,
                 max_inclusive=True, integer=False, allow_none=False):
    """A finite real number (an integer when `integer=True`), optionally within bounds.

    `bool` is never a number here. `allow_none=True` also accepts `None`.
    """
    if value is None and allow_none:
        return value
    valid = is_int(value) if integer else _is_real(value) and math.isfinite(value)
    if valid and minimum is not None:
        valid = value >= minimum if min_inclusive else value > minimum
    if valid and maximum is not None:
        valid = value <= maximum if max_inclusive else value < maximum
    if not valid:
        expected = ("an integer" if integer else "a number") + _bounds_text(
            minimum, maximum, min_inclusive, max_inclusive)
        if allow_none:
            expected += " or None"
        raise invalid_argument(name, value, expected)
    return value


def check_positive_int(name, value, *, allow_none=False):
    """An integer >= 1."""
    return check_number(name, value, minimum=1, integer=True, allow_none=allow_none)


def check_non_negative(name, value):
    """A number >= 0 (e.g. a regularization factor)."""
    return check_number(name, value, minimum=0)


def check_rate(name, value):
    """A dropout-like rate in [0, 1)."""
    return check_number(name, value, minimum=0, maximum=1, max_inclusive=False)


def check_string(name, value, *, expected="a non-empty string", allow_none=False):
    """A non-empty `str`; `expected` says what it names (e.g. "a key of the epoch logs")."""
    if value is None and allow_none:
        return value
    if not isinstance(value, str) or not value:
        raise invalid_argument(name, value, expected + (" or None" if allow_none else ""))
    return value


def check_instance(name, value, types, expected):
    """`value` is an instance of `types`; a `TypeError` naming `expected` otherwise."""
    if not isinstance(value, types):
        raise TypeError(
            f"Invalid `{name}` argument type. Expected {expected}. "
            f"Received: {name}={value!r} of type {type(value).__name__}"
        )
    return value


def as_positive_int_tuple(name, value, *, allow_empty=False, lengths=None, expected=None):
    """An int or a sequence of ints, as a tuple of positive ints.

    `lengths`: the tuple lengths accepted (e.g. `(2, 3)` for an image shape
    without its batch axis); any length when None. `expected` replaces the
    default description in the error message.
    """
    values = (value,) if is_int(value) and lengths is None else value
    try:
        values = tuple(values) if not isinstance(values, (str, bytes)) else None
    except TypeError:
        values = None
    if (
        values is None
        or (not values and not allow_empty)
        or (lengths is not None and len(values) not in lengths)
        or any(not is_int(v) or v < 1 for v in values)
    ):
        if expected is None:
            if lengths is not None:
                expected = (f"a tuple of {' or '.join(map(str, lengths))} positive integers")
            else:
                expected = (f"a positive integer or a "
                            f"{'possibly empty ' if allow_empty else 'non-empty '}"
                            "sequence of positive integers")
        raise invalid_argument(name, value, expected)
    return tuple(int(v) for v in values)


def check_num_classes(value, *, allow_none=True, minimum=2, none_means="regression head"):
    """A class count >= `minimum`; `None` too when `allow_none` (it means `none_means`)."""
    if value is None and allow_none:
        return value
    if not is_int(value) or value < minimum:
        expected = f"an integer >= {minimum}"
        if allow_none:
            expected += f" or None ({none_means})" if none_means else " or None"
        raise invalid_argument("num_classes", value, expected)
    return value
