"""Exact counts without float64: each count is a float32 pair (hi, lo), summed without error.

A count is kept as the unevaluated sum `hi + lo` of two float32 numbers
("double-float"): 48 significant bits, so integer counts are exact to beyond
2**44 and a weighted count is within about 2**-44 (relative) of the exact
sum, on every backend and without float64 (no `jax_enable_x64`, none on
TPUs). Three pieces make that hold:

- `add` adds two pairs with Knuth's error-free TwoSum (the accurate
  double-float addition), so accumulating batches into the state loses
  nothing that the pair can hold;
- `add_counts` adds a batch's unit counts (int32) to a pair: in float64
  where float64 is real (every operand and the sum are exact there below
  2**53, and nine operations beat the pair arithmetic every step), else
  with `add_whole`;
- `segment_sums` makes each batch's per-cell sums exact too: unit counts are
  int32 scatter-adds (exact to 2**31 per batch); weights are cut into
  int32 digits on a power-of-two grid chosen per cell from its largest
  weight (Rump, Ogita and Oishi's extraction, in integers), so every digit
  sum is exact in any summation order (scatter, XLA reductions, sharded
  all-reduces), and only the bits below the last digit are summed in
  float32;
- every step is an addition, a subtraction, a truncation, or a product that is
  exact (by a power of two, or of two 12-bit halves): a compiler that fuses
  a product and an addition (FMA) gets the same results, and none of XLA,
  Grappler or Inductor reassociates floating-point additions unless told
  to (fast-math), which kerasext never does.

Reference:
    Rump, Ogita and Oishi, "Accurate floating-point summation part I:
    faithful rounding", SIAM J. Sci. Comput. 31(1), 2008.
    Dekker, "A floating-point technique for extending the available
    precision", Numer. Math. 18, 1971 (mul12, div2).
    Knuth, *The Art of Computer Programming* vol. 2, 4.2.2 (TwoSum).
"""

import math

import keras

from kerasext.metrics._fast import ops, read_variable

#: The dtype of both parts of a pair, and so of every metric state variable (TPUs and JAX
#: without x64 have no float64; two float32 numbers hold 48 bits).
STATE_DTYPE = "float32"

#: Digits are summed in int32; keeping each digit sum below 2**30 leaves a bit of room.
_DIGIT_SUM_BITS = 30
#: The number of positions assumed per update when the batch size is unknown at trace time
#: (a TensorFlow graph with a None batch axis): the digits' width still adapts to the real
#: size at run time (no overflow); only the number of digits, and so the error bound, assumes it.
_ASSUMED_POSITIONS = 2**16
#: A batch sum errs by at most 2**-_TARGET_BITS of its cell's largest weight.
_TARGET_BITS = 44


def float64_available():
    """Whether float64 tensors really are float64 on device.

    Not on JAX without `jax_enable_x64` (they are float32 there), nor under
    a TensorFlow `TPUStrategy` (TPUs have no float64).
    """
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return bool(jax.config.jax_enable_x64)
    if backend == "tensorflow":
        import tensorflow as tf

        return not isinstance(tf.distribute.get_strategy(), tf.distribute.TPUStrategy)
    return True


def counts_dtype():
    """The dtype in which counts and scores are computed on device: float64 where real."""
    return "float64" if float64_available() else "float32"


# --------------------------------------------------------------------------- error-free sums


def two_sum(a, b):
    """(s, e) with s = fl(a + b) and s + e = a + b exactly (Knuth)."""
    s = a + b
    b_virtual = s - a
    a_virtual = s - b_virtual
    return s, (a - a_virtual) + (b - b_virtual)


def fast_two_sum(a, b):
    """(s, e) with s + e = a + b exactly, when |a| >= |b| or a is 0 (Dekker)."""
    s = a + b
    return s, b - (s - a)


def add(x, y):
    """x + y for pairs (hi, lo), renormalized (the accurate double-float addition)."""
    s, e = two_sum(x[0], y[0])
    t, f = two_sum(x[1], y[1])
    s, e = fast_two_sum(s, e + t)
    return fast_two_sum(s, e + f)


def add_whole(x, y):
    """x + y for pairs of whole numbers (unweighted counts): 11 operations instead of 20.

    Exact when every part is a whole number and the sum is below 2**48 (the
    low parts are then whole numbers below 2**24 whose float32 sum is exact).
    For other pairs it is Dekker's add2, within about 2**-47 of |x| + |y|.
    """
    s, e = two_sum(x[0], y[0])
    return fast_two_sum(s, e + (x[1] + y[1]))


def add_counts(state, counts, failed=None):
    """A (2, ...) pair `state` plus integer `counts` of its shape: the new pair (hi, lo).

    The unweighted update of every counting metric. Where float64 is real
    (`float64_available`) the sum is taken in float64, 9 operations: the pair
    (two float32 whole numbers) and the counts are exact there below 2**53,
    and `hi = float32(total)`, `lo = total - hi` is the pair `add_whole` makes,
    exactly (a torch step pays ~2 us an operation). Elsewhere it is
    `add_whole` on the counts as pairs. `failed` (a boolean scalar, or None):
    where True, the high part is NaN (see `confusion.accumulate`).
    """
    if counts_dtype() == "float64":
        # torch widens mixed operands inside an op: no cast ops there (6 operations).
        widen = keras.backend.backend() != "torch"
        total = _sum_parts(state, "float64") + (ops.cast(counts, "float64") if widen else counts)
        if failed is not None:
            total = ops.where(failed, math.nan, total)
        hi = ops.cast(total, "float32")
        return hi, ops.cast(total - (ops.cast(hi, "float64") if widen else hi), "float32")
    hi, lo = _int32_to_pair(counts)
    if failed is not None:
        hi = ops.where(failed, math.nan, hi)
    return add_whole((state[0], state[1]), (hi, lo))


def from_float32(values):
    values = ops.cast(values, "float32")
    return values, ops.zeros_like(values)


def split(values):
    """A float64 / integer tensor as float32 parts [hi, lo] whose sum is its value.

    Exact for float64 values within float32's exponent range, and for
    integers below 2**48.
    """
    dtype = keras.backend.standardize_dtype(values.dtype)
    hi = ops.cast(values, "float32")
    if "int" in dtype:
        values = ops.cast(values, "int64" if dtype.endswith("64") else "int32")
        return [hi, ops.cast(values - ops.cast(hi, values.dtype), "float32")]
    return [hi, ops.cast(values - ops.cast(hi, dtype), "float32")]


def stack(pair):
    """The pair as one (2, ...) tensor, the layout of the metric variables."""
    return ops.stack(list(pair))


def to_dtype(pair, dtype):
    """hi + lo in `dtype`: exact in float64, correctly rounded in float32."""
    hi, lo = pair
    return ops.cast(hi, dtype) + ops.cast(lo, dtype)


def take(pair, indices, axis=0):
    return tuple(ops.take(part, indices, axis=axis) for part in pair)


# --------------------------------------------------------------------------- batch sums


def next_power_of_two(p):
    """2**ceil(log2 |p|) for float32 |p| < 2**104 (0 for 0), with float operations only.

    Rump, Ogita and Oishi's NextPowerTwo: exact in round-to-nearest.
    """
    p = ops.abs(p)
    q = p * 2.0**24
    power = ops.abs((q + p) - q)
    return ops.where(ops.equal(power, 0.0), p, power)


def _power_of_two_at_least(n):
    """The smallest power of two >= n (>= 1): a Python float if n is static, else a tensor."""
    if isinstance(n, int):
        return float(2 ** max(0, math.ceil(math.log2(max(n, 1)))))
    return next_power_of_two(ops.maximum(ops.cast(n, "float32"), 1.0))


def digit_rounds(n):
    """How many int32 digits cut each weight so that a batch sum errs by <= 2**-44.

    With n positions (n <= 2**L), each digit has B = 30 - L bits; after K
    digits every remainder is below 2**-(K B) of the cell's largest weight M
    (rounded up to a power of two), and the float32 sum of n remainders errs
    by at most n**2 * 2**-24 * 2**-(K B) * 2 M: K B >= 2 L + 21 makes that
    <= 2**-44 M.
    """
    n = _ASSUMED_POSITIONS if n is None else max(int(n), 1)
    bits = math.ceil(math.log2(n))
    width = max(_DIGIT_SUM_BITS - bits, 1)
    return max(1, math.ceil((2 * bits + 1 - 24 + _TARGET_BITS) / width))


def _scatter_add(ids, values, num_segments):
    """Sums of `values` per id in [0, num_segments), in the values' dtype (int32 stays int32)."""
    zero = ops.zeros((num_segments,), dtype=values.dtype)
    return ops.scatter_update(zero, ops.expand_dims(ids, 1), values, reduction="add")


def _count_ids(ids, num_segments):
    """int32 number of times each id in [0, num_segments) occurs.

    One native op where the backend has one (a metric runs this every step:
    `ops.scatter_update` costs four graph ops on TensorFlow and ~30 us on torch).
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.math.unsorted_segment_sum(tf.ones_like(ids), ids, num_segments)
    if backend == "torch" and ids.device.type != "meta":
        import torch

        return torch.bincount(ids, minlength=num_segments).to(torch.int32)
    return _scatter_add(ids, ops.ones_like(ids, dtype="int32"), num_segments)


def count_ids(ids, num_segments, shape=None):
    """int32 (num_segments,) counts of each id in [0, num_segments); id num_segments is dropped.

    `shape`: the counts reshaped to it (its size `num_segments`).
    """
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        # One op: `DenseBincount` ignores ids past `size` (with XLA too), where
        # `unsorted_segment_sum` would need a slice to drop them.
        counts = tf.raw_ops.DenseBincount(input=ids, size=num_segments,
                                          weights=tf.zeros((0,), "int32"), binary_output=False)
        return counts if shape is None else ops.reshape(counts, shape)
    counts = _count_ids(ids, num_segments + 1)[:num_segments]
    return counts if shape is None else ops.reshape(counts, shape)


def counts_rows_at_once():
    """Whether `count_rows` is one op on this backend (TensorFlow's 2-D `DenseBincount`)."""
    return keras.backend.backend() == "tensorflow"


def count_rows(rows, num_segments):
    """int32 (len(rows), num_segments): row k counts the ids of `rows[k]` in [0, num_segments).

    Each row is an int32 vector (all of one length); id `num_segments` is
    dropped. TensorFlow only (`counts_rows_at_once`): one `DenseBincount` of
    the stacked rows (with XLA too), where ids offset by row and
    concatenated take two additions, a concatenation and a reshape more,
    every step.
    """
    import tensorflow as tf

    return tf.raw_ops.DenseBincount(input=tf.stack(rows), size=num_segments,
                                    weights=tf.zeros((0,), "int32"), binary_output=False)


def segment_sums(ids, num_segments, values=None, shape=None):
    """Per-segment sums as pairs (hi, lo) of shape (num_segments,).

    Args:
        ids: int32 (n,), segment ids in [0, num_segments]; id `num_segments`
            collects what must not be counted and is dropped.
        num_segments: a Python int.
        values: None (each position counts 1), or float32 (n,).
        shape: the shape of each returned part (its size `num_segments`);
            defaults to `(num_segments,)`.

    Unit counts are exact. Weighted sums are exact but for the bits of each
    value below 2**-(K B) of its cell's largest value (see `digit_rounds`),
    whose float32 sum errs by at most 2**-44 of that value.
    """
    size = num_segments + 1
    if values is None:
        return _int32_to_pair(count_ids(ids, num_segments, shape))

    static_n = values.shape[0]
    n = static_n if static_n is not None else ops.shape(values)[0]
    rounds = digit_rounds(static_n)
    # Digits stay below 2**B = 2**30 / (n rounded up), so that n of them sum below 2**30.
    digit_range = 2.0**_DIGIT_SUM_BITS / _power_of_two_at_least(n)
    largest = ops.segment_max(ops.abs(values), ids, num_segments=size)
    # Empty segments (-inf) and all-zero ones take any grid: their digits are 0.
    top = ops.where(ops.greater(largest, 0.0), next_power_of_two(largest), 1.0)
    cell_unit = top / digit_range  # what one unit of the first digit weighs, per segment
    unit = ops.take(cell_unit, ids, axis=0)
    inverse = 1.0 / unit  # powers of two: every product below is exact
    remainder = values
    digits = []
    for _ in range(rounds):
        # Toward zero: the remainder keeps the value's sign and low bits, exactly (a floor
        # would turn a tiny negative value into unit - |value|, which float32 rounds).
        digit = ops.trunc(remainder * inverse)
        remainder = remainder - digit * unit
        digits.append(ops.cast(digit, "int32"))
        unit, inverse = unit / digit_range, inverse * digit_range
    # Digit k of segment s is summed in cell k * size + s: one scatter for every digit.
    offsets = [ids + k * size for k in range(rounds)]
    counts = ops.reshape(
        _scatter_add(ops.concatenate(offsets), ops.concatenate(digits), rounds * size),
        (rounds, size))
    hi = lo = None
    for k in range(rounds):
        count_hi, count_lo = _int32_to_pair(counts[k])
        count_hi, count_lo = count_hi * cell_unit, count_lo * cell_unit
        if hi is None:
            hi, lo = count_hi, count_lo
        else:
            # The float32 low parts, far below hi, are summed in float32.
            hi, error = two_sum(hi, count_hi)
            lo = lo + (error + count_lo)
        cell_unit = cell_unit / digit_range
    lo = lo + _scatter_add(ids, remainder, size)
    hi, lo = fast_two_sum(hi, lo)
    hi, lo = hi[:num_segments], lo[:num_segments]
    if shape is not None:
        hi, lo = ops.reshape(hi, shape), ops.reshape(lo, shape)
    return hi, lo


def _int32_to_pair(counts):
    """int32 counts (|c| <= 2**30) as exact pairs."""
    hi = ops.cast(counts, "float32")
    return hi, ops.cast(counts - ops.cast(hi, "int32"), "float32")


def sum_pairs(pair, axis):
    """The sum of pairs over `axis`, within about 2**-44 (one extraction, Rump et al.).

    The high parts are cut on a power-of-two grid wide enough that their
    leading parts sum exactly in float32; the rest, tiny, is summed in float32.
    """
    hi, lo = pair
    size = hi.shape[axis]
    largest = ops.max(ops.abs(hi), axis=axis, keepdims=True)
    sigma = next_power_of_two(largest) * (2.0 * _power_of_two_at_least(size + 1))
    leading = (sigma + hi) - sigma
    total, error = fast_two_sum(ops.sum(leading, axis=axis),
                                ops.sum(hi - leading, axis=axis) + ops.sum(lo, axis=axis))
    return total, error


# --------------------------------------------------------------------------- products


def halves(x):
    """(h, l), h + l = x exactly, each with at most 12 significant bits (additions only)."""
    sigma = next_power_of_two(x) * 6144.0  # 1.5 * 2**12 * 2**e: x +- 2**e stays in one binade
    h = (sigma + x) - sigma
    return h, x - h


def two_product(a, b, a_halves=None, b_halves=None):
    """(p, e) with p = fl(a * b) and p + e = a * b exactly (Dekker's mul12).

    `a_halves` / `b_halves`: `halves(a)` / `halves(b)` when already known
    (`(x, 0)` for x of at most 12 significant bits, such as small integers).
    The 12-bit halves multiply exactly, so a fused multiply-add in place of
    any product and addition below gives the same result.
    """
    product = a * b
    a_high, a_low = a_halves or halves(a)
    b_high, b_low = b_halves or halves(b)
    error = ((a_high * b_high - product) + a_high * b_low + a_low * b_high) + a_low * b_low
    return product, error


def constant_terms(value):
    """A Python float as terms of at most 12 significant bits (on the host).

    Their products with integers below 2**12 are exact in float32.
    """
    terms = []
    rest = float(value)
    while rest and len(terms) < 6:
        exponent = math.frexp(rest)[1]  # 2**(exponent - 1) <= |rest| < 2**exponent
        term = math.ldexp(round(math.ldexp(rest, 12 - exponent)), exponent - 12)
        terms.append(term)
        rest -= term
    return terms


def sum_terms(terms):
    """The sum of float32 tensors as a pair, with exact additions."""
    if len(terms) == 1:
        return from_float32(terms[0])
    total = two_sum(terms[0], terms[1])
    for term in terms[2:]:
        total = add(total, from_float32(term))
    return total


def divide(numerator, denominator, denominator_halves=None):
    """numerator / denominator for pairs (denominator nonzero), to about 2**-46.

    Returns the float32 quotient q, its correction, and `halves(q)` (for
    products with q). Dekker's div2: the remainder of q is exact.
    """
    quotient = numerator[0] / denominator[0]
    quotient_halves = halves(quotient)
    product, error = two_product(quotient, denominator[0], quotient_halves, denominator_halves)
    remainder = ((numerator[0] - product) - error) + numerator[1] - quotient * denominator[1]
    return quotient, remainder / denominator[0], quotient_halves


# --------------------------------------------------------------------------- reading


def read_as(variable, dtype):
    """A pair variable as hi + lo in `dtype` (see `to_dtype`), in two ops when it is one part."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        if isinstance(variable.value, tf.distribute.DistributedValues):
            return to_dtype(read(variable), dtype)
    return _sum_parts(read_variable(variable), dtype)


def _sum_parts(state, dtype):
    """hi + lo of a (2, ...) pair tensor, in `dtype` (one op on torch, which casts as it sums)."""
    if keras.backend.backend() == "torch" and dtype in ("float32", "float64"):
        import torch

        return torch.sum(state, dim=0, dtype=getattr(torch, dtype))
    return ops.sum(ops.cast(state, dtype), axis=0)


def read(variable):
    """A (2, ...) pair variable as a normalized pair (hi, lo).

    Outside the replica function of its `tf.distribute` strategy, reading an
    on-read variable would sum each component over the replicas in float32,
    losing the high parts' rounding errors: the replicas' pairs are added
    exactly instead, when they are all on this worker (with several workers,
    the components' float32 sum is what every worker can read).
    """
    parts = None
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        value = variable.value
        if isinstance(value, tf.distribute.DistributedValues):
            strategy = value.distribute_strategy
            context = tf.distribute.get_replica_context()
            if context is None or context.strategy is not strategy:
                parts = strategy.experimental_local_results(value)
                if len(parts) != strategy.num_replicas_in_sync:
                    parts = None
    if parts is None:
        parts = [variable]
    parts = [ops.convert_to_tensor(part) for part in parts]
    if len(parts) == 1:
        return parts[0][0], parts[0][1]  # kept normalized by every update
    pair = (parts[0][0], parts[0][1])
    for part in parts[1:]:
        pair = add(pair, (part[0], part[1]))
    return pair
