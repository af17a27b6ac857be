"""`kerasext.metrics._fast.ops`: keras.ops itself, or torch calls that give keras.ops' results.

On torch the metrics' every-step code calls torch directly (no keras.ops
dispatch); each such call is compared here with `keras.ops` on the same
arguments: values and dtype. On TensorFlow and JAX `_fast.ops` must be
`keras.ops`' own functions.
"""

import math

import keras
import numpy as np
import pytest
from keras import ops as keras_ops

from kerasext.metrics._fast import assign_variable, read_variable
from kerasext.metrics._fast import ops as fast_ops

pytestmark = pytest.mark.cross_backend

BACKEND = keras.backend.backend()
NAMES = ("convert_to_tensor", "cast", "reshape", "where", "maximum", "argmax", "sum", "any",
         "concatenate", "stack", "isnan", "floor", "logical_not", "logical_and", "logical_or",
         "equal", "not_equal", "greater", "greater_equal", "less", "unstack", "ones_like",
         "divide_no_nan")


def _t(values, dtype):
    return keras_ops.convert_to_tensor(np.asarray(values, dtype=dtype))


def _calls():
    f = _t([0.5, -0.0, np.nan, 3.0], "float32")
    g = _t([1.5, 2.0, 1.0, -3.0], "float32")
    d = _t([0.25, 1.0, 0.0, 2.0], "float64")
    i = _t([0, 3, 1, 2], "int32")
    j = _t([2, 3, 0, 2], "int32")
    b = _t([True, False, True, False], "bool")
    c = _t([False, False, True, True], "bool")
    m = _t([[0.1, 0.7, 0.2], [0.5, 0.5, 0.0]], "float32")
    return [
        ("convert_to_tensor", (f,)), ("cast", (i, "float32")), ("cast", (f, "int32")),
        ("cast", (b, "float64")), ("cast", (d, "float32")), ("reshape", (m, (-1,))),
        ("reshape", (i, (2, 2))), ("where", (b, f, g)), ("where", (b, i, 7)),
        ("where", (b, 0.0, d)), ("where", (b, f, math.nan)), ("where", (b, i, 0.5)),
        ("where", (b, i, j)), ("maximum", (d, 1.0)), ("maximum", (f, g)), ("maximum", (i, 1)),
        ("argmax", (m,)), ("sum", (f,)), ("sum", (d,)), ("sum", (m, 0)), ("sum", (i,)),
        ("sum", (b,)), ("any", (b,)), ("any", (keras_ops.reshape(b, (2, 2)), -1)),
        ("concatenate", ([i, j],)), ("concatenate", ([f, d],)), ("stack", ([f, g],)),
        ("isnan", (f,)), ("floor", (g,)), ("logical_not", (b,)), ("logical_and", (b, c)),
        ("logical_or", (b, c)), ("equal", (i, j)), ("equal", (f, 0.0)),
        ("not_equal", (i, 3)), ("greater", (f, 0.5)), ("greater_equal", (i, 0)),
        ("less", (i, 3)), ("less", (f, g)), ("equal", (i, f)),
        ("unstack", (m,)), ("unstack", (m, None, 1)), ("unstack", (d, 4)), ("ones_like", (d,)),
        ("ones_like", (i,)), ("ones_like", (b, "float32")),
        # a -0.0 and a NaN denominator, a 0 / 0, an int fallback
        ("divide_no_nan", (g, f)), ("divide_no_nan", (d, d)), ("divide_no_nan", (i, j)),
    ]


@pytest.mark.parametrize("call", range(len(_calls())))
def test_every_call_gives_keras_ops_result(call):
    name, args = _calls()[call]
    want = getattr(keras_ops, name)(*args)
    got = getattr(fast_ops, name)(*args)
    if name == "unstack":  # a sequence of tensors, of keras.ops' own type
        assert type(got) is type(want) and len(got) == len(want), (name, got, want)
    else:
        got, want = [got], [want]
    for got_part, want_part in zip(got, want):
        want_dtype = keras.backend.standardize_dtype(want_part.dtype)
        if name == "divide_no_nan" and all("float" in str(a.dtype) for a in args):
            # The inputs' dtype, as keras.ops.divide gives and TensorFlow's divide_no_nan:
            # Keras 3.15's torch divide_no_nan rounds a float64 quotient to float32.
            want_dtype = keras.backend.standardize_dtype(keras_ops.divide(*args).dtype)
        assert keras.backend.standardize_dtype(got_part.dtype) == want_dtype, (
            name, got_part.dtype, want_part.dtype)
        np.testing.assert_array_equal(keras_ops.convert_to_numpy(got_part),
                                      keras_ops.convert_to_numpy(want_part))


def test_torch_only_swaps_functions_and_still_reads_variables():
    variable = keras.Variable(np.arange(3, dtype="float32"))
    np.testing.assert_array_equal(keras_ops.convert_to_numpy(fast_ops.convert_to_tensor(variable)),
                                  [0.0, 1.0, 2.0])
    for name in NAMES:
        native = getattr(fast_ops, name) is not getattr(keras_ops, name)
        assert native == (BACKEND == "torch"), name
    assert fast_ops.segment_max is keras_ops.segment_max  # anything else is keras.ops' own


def _state():
    return keras.metrics.Sum().variables[0], keras.Variable(np.zeros((2, 3), "float32"),
                                                            trainable=False)


def test_read_and_assign_variable_do_what_keras_does():
    _, variable = _state()
    value = keras_ops.convert_to_tensor(np.arange(6, dtype="float64").reshape(2, 3) / 4)
    assign_variable(variable, value)  # cast to the variable's float32, as assign does
    reference = keras.Variable(np.zeros((2, 3), "float32"), trainable=False)
    reference.assign(value)
    np.testing.assert_array_equal(keras_ops.convert_to_numpy(read_variable(variable)),
                                  keras_ops.convert_to_numpy(keras_ops.convert_to_tensor(reference)))
    assert keras.backend.standardize_dtype(read_variable(variable).dtype) == "float32"
    with pytest.raises(ValueError, match="shape"):  # Keras' own shape error
        assign_variable(variable, keras_ops.zeros((3, 2)))


def test_read_and_assign_variable_respect_a_stateless_scope():
    _, variable = _state()
    new = keras_ops.ones((2, 3))
    with keras.StatelessScope(state_mapping=[(variable, keras_ops.full((2, 3), 5.0))]) as scope:
        np.testing.assert_array_equal(keras_ops.convert_to_numpy(read_variable(variable)),
                                      np.full((2, 3), 5.0))
        assign_variable(variable, new)
        recorded = scope.get_current_value(variable)
    np.testing.assert_array_equal(keras_ops.convert_to_numpy(recorded), np.ones((2, 3)))
    np.testing.assert_array_equal(keras_ops.convert_to_numpy(variable), np.zeros((2, 3)))


@pytest.mark.skipif(BACKEND != "torch", reason="torch: gradients and in-place copies")
def test_assign_variable_of_a_value_with_gradients_attaches_no_graph():
    import torch

    _, variable = _state()
    source = torch.ones((2, 3), requires_grad=True)
    assign_variable(variable, source * 2.0)
    tensor = keras_ops.convert_to_tensor(variable)
    assert not tensor.requires_grad and tensor.grad_fn is None
    np.testing.assert_array_equal(keras_ops.convert_to_numpy(tensor), np.full((2, 3), 2.0))


def test_read_variable_under_autocast_reads_as_keras_does():
    variable, _ = _state()  # a metric's variable (autocast, float32)
    assign_variable(variable, keras_ops.convert_to_tensor(np.float32(1.0 + 2.0**-20)))

    read = {}

    class Reads(keras.layers.Layer):  # a mixed_float16 layer's call autocasts variables
        def call(self, x):
            read["got"], read["want"] = read_variable(variable), keras_ops.convert_to_tensor(variable)
            return x

    Reads(dtype="mixed_float16")(keras_ops.ones((1,)))
    want = keras.backend.standardize_dtype(read["want"].dtype)
    assert keras.backend.standardize_dtype(read["got"].dtype) == want
    assert want == "float16" or BACKEND == "tensorflow"  # TensorFlow reads the float32 value
    np.testing.assert_array_equal(keras_ops.convert_to_numpy(read["got"]),
                                  keras_ops.convert_to_numpy(read["want"]))
