"""The double-float core of the counts, against exact references (fractions, math.fsum).

Every check runs on the backend's float32 operations, eagerly and compiled
(XLA on TensorFlow and JAX), where a compiler that reassociated additions or
fused products inexactly would break the error-free transformations.
"""

import math
from fractions import Fraction

import keras
import numpy as np
import pytest
from keras import ops

from kerasext.metrics import _doublefloat as D

pytestmark = pytest.mark.cross_backend

BACKEND = keras.backend.backend()


def _compiled(function):
    """`function` compiled by the backend's own compiler (XLA on TF and JAX; torch: as is)."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        return tf.function(function, jit_compile=True, autograph=False)
    if BACKEND == "jax":
        import jax

        return jax.jit(function)
    return function  # torch.compile costs ~30 s per graph on CPU; the harness skips it too


def _numpy(structure):
    return keras.tree.map_structure(lambda t: np.asarray(ops.convert_to_numpy(t)), structure)


def _exact(pair):
    hi, lo = _numpy(pair)
    return [Fraction(float(high)) + Fraction(float(low))
            for high, low in zip(hi.ravel(), lo.ravel())]


def _significant_bits(value):
    numerator = abs(Fraction(value).numerator)
    while numerator and numerator % 2 == 0:
        numerator //= 2
    return numerator.bit_length()


def _wide_float32(rng, n, low=-30, high=30, signed=True):
    """float32 values over a wide range of magnitudes, both signs."""
    values = rng.uniform(0.5, 1.0, n) * 2.0 ** rng.integers(low, high, n)
    if signed:
        values *= rng.choice([-1.0, 1.0], n)
    return values.astype("float32")


@pytest.mark.parametrize("compiled", [False, True])
def test_two_sum_add_and_two_product_are_error_free(compiled, rng):
    a, b, c, d = (_wide_float32(rng, 64) for _ in range(4))
    # Pairs (hi, lo) with |lo| <= ulp(hi) / 2, as the state keeps them.
    c_hi, c_lo = a, (a * np.float32(2.0**-25) * rng.uniform(-1, 1, 64)).astype("float32")
    d_hi, d_lo = b, (b * np.float32(2.0**-25) * rng.uniform(-1, 1, 64)).astype("float32")

    def run(a, b, c_hi, c_lo, d_hi, d_lo):
        return D.two_sum(a, b), D.two_product(a, b), D.add((c_hi, c_lo), (d_hi, d_lo))

    run = _compiled(run) if compiled else run
    sums, products, pairs = run(*(ops.convert_to_tensor(x) for x in (a, b, c_hi, c_lo, d_hi, d_lo)))
    exact_a = [Fraction(float(x)) for x in a]
    exact_b = [Fraction(float(x)) for x in b]
    assert _exact(sums) == [x + y for x, y in zip(exact_a, exact_b)]
    assert _exact(products) == [x * y for x, y in zip(exact_a, exact_b)]
    expected = [sum(Fraction(float(x)) for x in values) for values in zip(c_hi, c_lo, d_hi, d_lo)]
    for got, want in zip(_exact(pairs), expected):  # the accurate double-float addition
        assert abs(got - want) <= abs(want) * Fraction(2) ** -45
    hi, lo = _numpy(pairs)
    assert np.all(hi + lo.astype("float32") == hi)  # renormalized: lo below half an ulp of hi


@pytest.mark.parametrize("compiled", [False, True])
def test_add_whole_is_exact_on_whole_counts_past_2_to_the_40(compiled, rng):
    # Whole-number state (normalized pairs of counts up to 2**46) plus batch counts as the
    # unit-count path makes them (int32 counts below 2**31 split into pairs).
    state = rng.integers(0, 2**46, 300, dtype=np.int64)
    state[:4] = [0, 2**24 - 1, 2**40 + 1, 2**44 + 12345]
    batch = rng.integers(0, 2**31 - 1, 300, dtype=np.int64)
    batch[:4] = [1, 1, 2**24 + 1, 0]
    x_hi = state.astype("float32")
    x_lo = (state - x_hi.astype(np.int64)).astype("float32")
    y_hi = batch.astype("float32")
    y_lo = (batch - y_hi.astype(np.int64)).astype("float32")

    def run(a, b, c, d):
        return D.add_whole((a, b), (c, d))

    run = _compiled(run) if compiled else run
    pair = run(*(ops.convert_to_tensor(v) for v in (x_hi, x_lo, y_hi, y_lo)))
    assert _exact(pair) == [Fraction(int(a + b)) for a, b in zip(state, batch)]
    hi, lo = _numpy(pair)
    assert np.all(hi + lo.astype("float32") == hi)  # normalized, as `add` leaves it


@pytest.mark.parametrize("compiled", [False, True])
@pytest.mark.parametrize("path", ["float64 where real", "pairs"])
def test_add_counts_is_exact_past_2_to_the_40_and_poisons_a_failed_batch(compiled, path, rng,
                                                                          monkeypatch):
    # The unweighted update: a (2, ...) pair state plus int32 batch counts.
    if path == "pairs":
        monkeypatch.setattr(D, "counts_dtype", lambda: "float32")
    state = rng.integers(0, 2**46, 300, dtype=np.int64)
    state[:4] = [0, 2**24 - 1, 2**40 + 1, 2**44 + 12345]
    batch = rng.integers(0, 2**31 - 1, 300, dtype=np.int64)
    batch[:4] = [1, 1, 2**24 + 1, 0]
    x_hi = state.astype("float32")
    stacked = np.stack([x_hi, (state - x_hi.astype(np.int64)).astype("float32")])

    def run(state, counts, failed):
        return D.add_counts(state, counts, failed)

    run = _compiled(run) if compiled else run
    args = (ops.convert_to_tensor(stacked), ops.convert_to_tensor(batch.astype("int32")))
    pair = run(*args, ops.convert_to_tensor(False))
    assert _exact(pair) == [Fraction(int(a + b)) for a, b in zip(state, batch)]
    hi, lo = _numpy(pair)
    assert hi.dtype == lo.dtype == np.float32
    assert np.all(hi + lo == hi)  # normalized: hi is the total rounded to float32
    poisoned, _ = _numpy(run(*args, ops.convert_to_tensor(True)))
    assert np.all(np.isnan(poisoned))


def test_next_power_of_two_and_constant_terms(rng):
    values = np.abs(_wide_float32(rng, 200, low=-120, high=100))
    values[:3] = [1.0, 2.0**-126, 3.0 * 2.0**-100]  # a power of two, the smallest normal
    powers = _numpy(D.next_power_of_two(ops.convert_to_tensor(values)))
    assert powers.tolist() == [2.0 ** math.ceil(math.log2(float(v))) for v in values]
    for value in (1.0, 0.25, 4.0, 1.0 + 0.3**2, 0.3**2, 1.0 / 3.0):
        terms = D.constant_terms(value)
        assert math.fsum(terms) == value  # exactly, in float64
        assert all(_significant_bits(term) <= 12 for term in terms)


@pytest.mark.parametrize("compiled", [False, True])
def test_segment_sums_equal_fsum_within_2_to_the_minus_44(compiled, rng):
    n, segments = 4096, 7
    ids = rng.integers(0, segments + 1, n).astype("int32")  # id 7: dropped
    values = _wide_float32(rng, n, low=-40, high=40, signed=False)
    values[ids == 3] = _wide_float32(rng, int(np.sum(ids == 3)), -60, -50, signed=False)  # tiny
    signed = _wide_float32(rng, n)
    integers = rng.integers(0, 2**20, n).astype("float32")

    def run(ids, values, signed, integers):
        return (D.segment_sums(ids, segments), D.segment_sums(ids, segments, values),
                D.segment_sums(ids, segments, signed), D.segment_sums(ids, segments, integers))

    run = _compiled(run) if compiled else run
    units, weighted, mixed, whole = run(*(ops.convert_to_tensor(x)
                                          for x in (ids, values, signed, integers)))
    for segment, count in enumerate(_exact(units)):
        assert count == np.sum(ids == segment)
    for segment, (got, got_whole) in enumerate(zip(_exact(weighted), _exact(whole))):
        chosen = ids == segment
        want = Fraction(math.fsum(values[chosen].astype("float64")))
        assert abs(got - want) <= want * Fraction(2) ** -44, segment
        assert got_whole == int(np.sum(integers[chosen].astype("int64")))  # exact
    for segment, got in enumerate(_exact(mixed)):  # signs mixed: relative to the sum of |x|
        chosen = ids == segment
        want = sum(Fraction(float(x)) for x in signed[chosen])
        scale = Fraction(math.fsum(np.abs(signed[chosen]).astype("float64")))
        assert abs(got - want) <= scale * Fraction(2) ** -44, segment


@pytest.mark.tensorflow_only("a batch size unknown until run time is a TensorFlow graph's")
def test_segment_sums_with_an_unknown_batch_size(rng):
    import tensorflow as tf

    n = 70_000  # more positions than the trace-time assumption: the digits must still not overflow
    ids = rng.integers(0, 3, n).astype("int32")
    values = _wide_float32(rng, n, low=0, high=24, signed=False)
    run = tf.function(lambda ids, values: D.segment_sums(ids, 3, values), jit_compile=True,
                      input_signature=[tf.TensorSpec([None], "int32"),
                                       tf.TensorSpec([None], "float32")])
    for segment, got in enumerate(_exact(run(ids, values))):
        want = Fraction(math.fsum(values[ids == segment].astype("float64")))
        assert abs(got - want) <= want * Fraction(2) ** -40


@pytest.mark.parametrize("compiled", [False, True])
def test_divide_and_sum_pairs_are_accurate(compiled, rng):
    numerators = rng.integers(0, 4097, 64).astype("float32")
    denominators = rng.integers(1, 4097, 64).astype("float32")
    beta2 = Fraction(0.3**2)
    scaled = [np.float32(t) for t in D.constant_terms(float(beta2))]

    def run(numerators, denominators):
        fbeta_denominator = D.sum_terms([t * denominators for t in scaled] + [numerators])
        quotient = D.divide((numerators, ops.zeros_like(numerators)),
                            (denominators, ops.zeros_like(denominators)))[:2]
        fbeta = D.divide((numerators, ops.zeros_like(numerators)), fbeta_denominator)[:2]
        matrix = (ops.reshape(numerators, (8, 8)), ops.reshape(numerators * 2.0**-30, (8, 8)))
        return quotient, fbeta, D.sum_pairs(matrix, axis=0), D.sum_pairs(matrix, axis=1)

    run = _compiled(run) if compiled else run
    quotient, fbeta, columns, rows = run(ops.convert_to_tensor(numerators),
                                         ops.convert_to_tensor(denominators))
    for got, n, d in zip(_exact(quotient), numerators, denominators):
        want = Fraction(int(n), int(d))
        assert abs(got - want) <= want * Fraction(2) ** -44
    for got, n, d in zip(_exact(fbeta), numerators, denominators):
        want = Fraction(int(n)) / (beta2 * int(d) + int(n)) if n else 0
        assert abs(got - want) <= want * Fraction(2) ** -44
    matrix = [[Fraction(int(x)) * (1 + Fraction(2) ** -30) for x in row]
              for row in numerators.reshape(8, 8)]
    for got, want in zip(_exact(columns), [sum(col) for col in zip(*matrix)]):
        assert abs(got - want) <= want * Fraction(2) ** -40
    for got, want in zip(_exact(rows), [sum(row) for row in matrix]):
        assert abs(got - want) <= want * Fraction(2) ** -40
