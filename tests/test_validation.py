"""The argument checks every kerasext component validates with (kerasext._validation)."""

import numpy as np
import pytest

from kerasext import _validation as v


def _message(check, *args, **kwargs):
    with pytest.raises(ValueError) as info:
        check(*args, **kwargs)
    return str(info.value)


def test_message_names_argument_expected_and_received():
    message = _message(v.check_choice, "mode", "best", ("auto", "min", "max"))
    assert message == (
        "Invalid `mode` argument value. Expected one of ('auto', 'min', 'max'). "
        "Received: mode='best'"
    )


def test_choices_keep_the_given_order_and_sets_are_sorted():
    # The order is part of the message: the same on every run (a set's iteration order
    # depends on string hashing, which changes between processes).
    assert "('zeta', 'alpha', None)" in _message(v.check_choice, "x", 1, ("zeta", "alpha", None))
    assert "('a', 'b', 'c')" in _message(v.check_choice, "x", 1, {"c", "a", "b"})
    assert "('a', 'b')" in _message(v.check_choice, "x", 1, {"b": 0, "a": 1}.keys() & {"a", "b"})


def test_choice_accepts_every_choice_including_none():
    for choice in ("max", "avg", None):
        assert v.check_choice("pooling", choice, ("max", "avg", None)) == choice


@pytest.mark.parametrize("value", [1, 2.5, 0, np.float32(0.5), np.int64(3)])
def test_number_accepts_finite_reals(value):
    assert v.check_number("x", value) is value


@pytest.mark.parametrize("value", [True, "1", None, float("nan"), float("inf"), [1]])
def test_number_refuses_bools_strings_none_and_non_finite(value):
    assert f"Received: x={value!r}" in _message(v.check_number, "x", value)


def test_number_bounds_in_the_message():
    assert "Expected a number > 0." in _message(
        v.check_number, "eps", 0, minimum=0, min_inclusive=False)
    assert "Expected a number in [0, 1]." in _message(
        v.check_number, "w", 1.5, minimum=0, maximum=1)
    assert "Expected a number in [0, 1)." in _message(v.check_rate, "dropout", 1.0)
    assert "Expected a number <= 3." in _message(v.check_number, "x", 4, maximum=3)
    assert "Expected an integer >= 2 or None." in _message(
        v.check_number, "n", 1, minimum=2, integer=True, allow_none=True)
    assert v.check_number("n", None, allow_none=True) is None
    assert v.check_rate("dropout", 0.0) == 0.0


@pytest.mark.parametrize("value", [0, -1, 1.0, True, "2", None])
def test_positive_int_refuses(value):
    assert "Expected an integer >= 1." in _message(v.check_positive_int, "units", value)


def test_positive_int_accepts_numpy_integers():
    assert v.check_positive_int("units", np.int32(4)) == 4


def test_non_negative_and_bool():
    assert v.check_non_negative("l2", 0) == 0
    assert "Expected a number >= 0." in _message(v.check_non_negative, "l2", -1e-3)
    assert v.check_bool("adaptive", False) is False
    assert "Expected one of (True, False). Received: adaptive=1" in _message(
        v.check_bool, "adaptive", 1)


def test_string():
    assert v.check_string("monitor", "val_loss") == "val_loss"
    assert v.check_string("m", None, allow_none=True) is None
    assert "Expected a key of the epoch logs or None. Received: m=''" in _message(
        v.check_string, "m", "", expected="a key of the epoch logs", allow_none=True)


def test_instance_raises_type_error():
    with pytest.raises(TypeError, match=r"Invalid `model` argument type\. Expected a "
                                        r"keras\.Model\. Received: model=3 of type int"):
        v.check_instance("model", 3, (str,), "a keras.Model")


def test_positive_int_tuple():
    assert v.as_positive_int_tuple("kernel_sizes", 3) == (3,)
    assert v.as_positive_int_tuple("kernel_sizes", [3, np.int64(4)]) == (3, 4)
    assert v.as_positive_int_tuple("units", (), allow_empty=True) == ()
    assert "non-empty sequence" in _message(v.as_positive_int_tuple, "units", ())
    assert "Received: shape=(8, 0)" in _message(v.as_positive_int_tuple, "shape", (8, 0))
    message = _message(v.as_positive_int_tuple, "input_shape", (8,), lengths=(2, 3))
    assert "Expected a tuple of 2 or 3 positive integers." in message
    assert v.as_positive_int_tuple("input_shape", [8, 8], lengths=(2, 3)) == (8, 8)
    assert "Received: shape='ab'" in _message(v.as_positive_int_tuple, "shape", "ab")


def test_num_classes():
    assert v.check_num_classes(None) is None
    assert v.check_num_classes(3, allow_none=False) == 3
    assert "Expected an integer >= 2 or None (regression head)." in _message(
        v.check_num_classes, 1)
    assert "Expected an integer >= 2. Received: num_classes=None" in _message(
        v.check_num_classes, None, allow_none=False)


def test_components_use_the_shared_format():
    import kerasext as kx

    cases = [
        (lambda: kx.layers.DenseBlock(0), "units", "an integer >= 1"),
        (lambda: kx.models.ConvNet(10, pooling="mean"), "pooling", "one of ('max', 'avg', None)"),
        (lambda: kx.callbacks.EarlyStopping(mode="best"), "mode",
         "one of ('auto', 'min', 'max')"),
        (lambda: kx.callbacks.OverfitDetector(criterion="x"), "criterion",
         "one of ('gl', 'pq', 'up')"),
        (lambda: kx.tuning.HyperConvNet((8, 8), 1), "num_classes", "an integer >= 2"),
    ]
    for build, name, expected in cases:
        with pytest.raises(ValueError, match=rf"Invalid `{name}` argument value\. Expected "
                                             rf"{__import__('re').escape(expected)}\. "):
            build()
