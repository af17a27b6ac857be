"""`keras.ops` for the metrics' every-step code, without the dispatch cost on torch.

A metric's `update_state` and `result()` run every training step. On
TensorFlow and JAX they are traced once into the step's graph, so the cost of
a `keras.ops` call is paid at trace time only. On torch they run eagerly,
and each `keras.ops` call first walks its arguments for symbolic tensors and
converts them (measured: 4-12 us a call, against 1.5-2 us for the torch
function itself): for the ~40 calls of an F1 update and result, more than
the arithmetic. `ops` here is `keras.ops` on every backend, except that on
torch the functions below call torch directly when every argument is
already a torch tensor or a Python number (the result then has the dtype
`keras.ops` gives); anything else goes to `keras.ops` unchanged.

    from kerasext.metrics._fast import ops

A metric's state is read and written every step too: `read_variable` and
`assign_variable` are `keras.ops.convert_to_tensor(variable)` and
`variable.assign(value)`, except that on torch they take the variable's
tensor directly where its `value` is that tensor (`_compat.torch_variable_tensor`:
no stateless or autocast scope, not Keras' symbolic pass): ~1 us instead of
~4 us a read and ~9 us an assign.
"""

import keras
from keras import ops as keras_ops

from kerasext import _compat

_TORCH_DTYPES = ("float32", "float64", "int32", "int64", "bool")


def _torch_functions():
    import torch

    dtypes = {name: getattr(torch, name) for name in _TORCH_DTYPES}
    is_tensor = torch.is_tensor

    def plain(*values):
        return all(is_tensor(v) or (isinstance(v, (int, float)) and not isinstance(v, bool))
                   for v in values)

    def native(name, function, check=plain):
        fallback = getattr(keras_ops, name)

        def call(*args, **kwargs):
            if not kwargs and check(*args):
                return function(*args)
            return fallback(*args, **kwargs)

        call.__name__ = name
        return call

    def tensors(*values):
        return all(is_tensor(v) for v in values)

    def convert_to_tensor(x, dtype=None, **kwargs):
        # A keras.Variable goes through keras.ops: under Keras' symbolic pass (the "meta"
        # device) its value is moved there.
        if dtype is None and not kwargs and is_tensor(x):
            return x
        return keras_ops.convert_to_tensor(x, dtype=dtype, **kwargs)

    def cast(x, dtype):
        if is_tensor(x) and dtype in dtypes:
            return x.to(dtypes[dtype])
        return keras_ops.cast(x, dtype)

    def reshape(x, shape):
        if is_tensor(x):
            return x.reshape(tuple(shape))
        return keras_ops.reshape(x, shape)

    def where(condition, x1, x2):
        # Both values tensors of one dtype, or a tensor and a number of its kind.
        if is_tensor(condition) and plain(x1, x2) and (is_tensor(x1) or is_tensor(x2)):
            tensor = x1 if is_tensor(x1) else x2
            other = x2 if is_tensor(x1) else x1
            same = (other.dtype == tensor.dtype if is_tensor(other)
                    else tensor.dtype.is_floating_point or isinstance(other, int))
            if same:
                return torch.where(condition, x1, x2)
        return keras_ops.where(condition, x1, x2)

    def reduction(name, function):
        fallback = getattr(keras_ops, name)

        def call(x, axis=None):
            # Integer sums widen to int64 in torch; keras.ops keeps the dtype: those fall back.
            if is_tensor(x) and (name == "any" or x.dtype.is_floating_point):
                return function(x) if axis is None else function(x, dim=axis)
            return fallback(x, axis=axis)

        call.__name__ = name
        return call

    def maximum(x1, x2):
        if is_tensor(x1) and isinstance(x2, float) and x1.dtype == torch.float32:
            return torch.clamp(x1, min=x2)
        if tensors(x1, x2) and x1.dtype == x2.dtype:
            return torch.maximum(x1, x2)
        return keras_ops.maximum(x1, x2)

    def unstack(x, num=None, axis=0):
        if is_tensor(x) and num is None:
            return torch.unbind(x, dim=axis)  # a tuple, as keras.ops.unstack's on torch
        return keras_ops.unstack(x, num=num, axis=axis)

    def ones_like(x, dtype=None):
        if is_tensor(x) and dtype is None:
            return torch.ones_like(x)
        return keras_ops.ones_like(x, dtype=dtype)

    def divide_no_nan(x1, x2):
        # Two float tensors of one dtype: 0 where x2 is 0 (the quotient there is never kept).
        if tensors(x1, x2) and x1.dtype == x2.dtype and x1.dtype.is_floating_point:
            return torch.where(x2 == 0, 0.0, x1 / x2)
        return keras_ops.divide_no_nan(x1, x2)

    def argmax(x, axis=None):
        if is_tensor(x) and x.dtype.is_floating_point:
            return torch.argmax(x, dim=axis).to(torch.int32)
        return keras_ops.argmax(x, axis=axis)

    def joined(name, function):
        fallback = getattr(keras_ops, name)

        def call(xs, axis=0):
            xs = list(xs)
            if all(is_tensor(x) for x in xs) and len({x.dtype for x in xs}) == 1:
                return function(xs, dim=axis)
            return fallback(xs, axis=axis)

        call.__name__ = name
        return call

    functions = {
        "convert_to_tensor": convert_to_tensor,
        "cast": cast,
        "reshape": reshape,
        "where": where,
        "maximum": maximum,
        "divide_no_nan": divide_no_nan,
        "argmax": argmax,
        "unstack": unstack,
        "ones_like": ones_like,
        "sum": reduction("sum", torch.sum),
        "any": reduction("any", torch.any),
        "concatenate": joined("concatenate", torch.cat),
        "stack": joined("stack", torch.stack),
        "isnan": native("isnan", torch.isnan, tensors),
        "floor": native("floor", torch.floor, tensors),
        "logical_not": native("logical_not", torch.logical_not, tensors),
        "logical_and": native("logical_and", torch.logical_and, tensors),
        "logical_or": native("logical_or", torch.logical_or, tensors),
    }
    for name, function in (("equal", torch.eq), ("not_equal", torch.ne),
                           ("greater", torch.gt), ("greater_equal", torch.ge),
                           ("less", torch.lt)):
        # A comparison with a number, or of two tensors of one dtype.
        functions[name] = native(
            name, function,
            lambda x1, x2: is_tensor(x1) and (isinstance(x2, (int, float))
                                              and not isinstance(x2, bool)
                                              or is_tensor(x2) and x1.dtype == x2.dtype))
    return functions


class _Ops:
    """`keras.ops`, with the torch functions of `_torch_functions` on torch."""

    def __init__(self):
        self._functions = None

    def __getattr__(self, name):
        # Only called for names not yet resolved: each is then kept as an attribute, so that
        # later `ops.name` lookups are plain attribute reads (every step, ~40 of them).
        if self._functions is None:
            self._functions = (_torch_functions() if keras.backend.backend() == "torch"
                               else {})
        function = self._functions.get(name)
        if function is None:
            function = getattr(keras_ops, name)
        setattr(self, name, function)
        return function


#: Use as `keras.ops` (see the module docstring).
ops = _Ops()


def read_variable(variable):
    """`keras.ops.convert_to_tensor(variable)`, on torch without Keras' generic path."""
    if keras.backend.backend() == "torch":
        tensor = _compat.torch_variable_tensor(variable)
        if tensor is not None:
            return tensor
    return keras_ops.convert_to_tensor(variable)


def assign_variable(variable, value):
    """`variable.assign(value)`, on torch a copy into its tensor where that is the same.

    The copy is taken when `value` is a torch tensor of the variable's shape
    and neither needs gradients (a metric's state never does; otherwise
    `assign` copies under `torch.no_grad()`); it casts to the variable's dtype
    as `assign` does.
    """
    if keras.backend.backend() == "torch":
        tensor = _compat.torch_variable_tensor(variable)
        if (tensor is not None and hasattr(value, "requires_grad") and not value.requires_grad
                and not tensor.requires_grad and value.shape == tensor.shape):
            tensor.copy_(value)
            return
    variable.assign(value)
