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

from kerasext.metrics._fast import ops as fast_ops

pytestmark = pytest.mark.cross_backend

BACKEND = keras.backend.backend()
NAMES = ("convert_to_tensor", "cast", "reshape", "where", "maximum", "argmax", "sum", "any",
         "concatenate", "stack", "isnan", "floor", "logical_not", "logical_and", "logical_or",
         "equal", "not_equal", "greater", "greater_equal", "less")


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
    ]


@pytest.mark.parametrize("call", range(len(_calls())))
def test_every_call_gives_keras_ops_result(call):
    name, args = _calls()[call]
    want = getattr(keras_ops, name)(*args)
    got = getattr(fast_ops, name)(*args)
    assert keras.backend.standardize_dtype(got.dtype) == keras.backend.standardize_dtype(
        want.dtype), (name, got.dtype, want.dtype)
    np.testing.assert_array_equal(keras_ops.convert_to_numpy(got),
                                  keras_ops.convert_to_numpy(want))


def test_torch_only_swaps_functions_and_still_reads_variables():
    variable = keras.Variable(np.arange(3, dtype="float32"))
    np.testing.assert_array_equal(keras_ops.convert_to_numpy(fast_ops.convert_to_tensor(variable)),
                                  [0.0, 1.0, 2.0])
    for name in NAMES:
        native = getattr(fast_ops, name) is not getattr(keras_ops, name)
        assert native == (BACKEND == "torch"), name
    assert fast_ops.segment_max is keras_ops.segment_max  # anything else is keras.ops' own
