"""The per-sample sums behind the multilabel `samples` average."""

from keras import ops

from kerasext.metrics import _doublefloat


def score_sums(batch, label_ids, beta, zero_division, skip_empty):
    """(3, 4) pair of sums for the `samples` average of one multilabel batch.

    For precision, recall and F-beta (rows), the sums over samples of
    weight * score, weight, score and 1 (columns) over the samples where the
    score is defined: what scikit-learn's NaN-skipping weighted mean needs.
    `label_ids`: the labels a sample's set is read over (None: all);
    `zero_division`: the score of a 0/0 sample, which `skip_empty` leaves out.

    Each sample's score is a pair, the exact quotient of its counts to
    about 2**-46 (scikit-learn divides in float64), and every product
    with a weight is cut into terms that float32 holds exactly, so the
    sums are as exact as the counts'.
    """
    t = ops.cast(batch.true, "float32")
    p = ops.cast(batch.pred, "float32")
    if label_ids is not None:
        t = ops.take(t, label_ids, axis=1)
        p = ops.take(p, label_ids, axis=1)
    # Per sample, the counts of its label set (integers, exact in float32).
    tp = ops.sum(t * p, axis=1)
    predicted = ops.sum(p, axis=1)
    actual = ops.sum(t, axis=1)
    zero = ops.zeros_like(tp)
    parts = batch.weight or [ops.ones_like(tp)]
    weight = parts[0] if len(parts) == 1 else parts[0] + parts[1]  # only compared with 0
    valid = ops.ones_like(tp) if batch.valid is None else ops.cast(batch.valid, "float32")
    beta2 = beta**2

    def scaled(constant, counts):
        return [term * counts for term in _doublefloat.constant_terms(constant)] or [zero]

    fbeta = (_doublefloat.sum_terms(scaled(1.0 + beta2, tp)),
             _doublefloat.sum_terms(scaled(beta2, actual) + [predicted]))
    # Counts of a label set are integers below 2**12: their own 12-bit halves.
    fractions = (((tp, zero), (predicted, zero), True),
                 ((tp, zero), (actual, zero), True),
                 (*fbeta, False))
    weight_halves = [_doublefloat.halves(part) for part in parts]
    values, columns = [], []
    for row, (numerator, denominator, short) in enumerate(fractions):
        # scikit-learn weights each sample's counts, so a zero weight makes a 0/0 score.
        empty = ops.logical_or(ops.equal(denominator[0], 0.0), ops.equal(weight, 0.0))
        safe = (ops.where(empty, 1.0, denominator[0]), ops.where(empty, 0.0, denominator[1]))
        high, low, high_halves = _doublefloat.divide(
            numerator, safe, (safe[0], zero) if short else None)
        # An empty sample scores zero_division: 0 or 1 (exact halves), or is left out.
        fill = 0.0 if skip_empty else zero_division
        high = ops.where(empty, fill, high)
        high_halves = (ops.where(empty, fill, high_halves[0]),
                       ops.where(empty, 0.0, high_halves[1]))
        low = ops.where(empty, 0.0, low)
        defined = ops.where(empty, 0.0, valid) if skip_empty else valid
        for index, part in enumerate(parts):
            # Column 0: weight * score, 1: weight, 2: score, 3: 1 (the last two once).
            product, error = _doublefloat.two_product(part, high, weight_halves[index],
                                                      high_halves)
            cells = [(product, 0), (error, 0), (part * low, 0), (part, 1)]
            if index == 0:
                cells += [(high, 2), (low, 2), (ops.ones_like(high), 3)]
            for value, column in cells:
                values.append(defined * value)
                columns.append(4 * row + column)
    # One id per value array (a constant), repeated over the samples.
    ids = ops.broadcast_to(ops.expand_dims(ops.convert_to_tensor(columns, "int32"), 1),
                           (len(columns), ops.shape(tp)[0]))
    return _doublefloat.segment_sums(ops.reshape(ids, (-1,)), 12,
                                     ops.reshape(ops.stack(values), (-1,)))
