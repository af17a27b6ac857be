"""Property tests: every metric equals scikit-learn, streamed in random batch splits.

Each task gets 300 generated cases (50 on JAX: `MAX_EXAMPLES`)
over average x label format x zero_division x labels x ignore_class x sample
weights x logits x rank, the data fed in random batch splits (streaming must
equal one-shot).
"""

import os

import keras
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import kerasext as kx
from tests.metrics import _reference

#: Cases per task: 300, but 50 on JAX, where each new batch shape compiles an update (about
#: a fifth of a second per case), to keep the cross-backend suite within its budget. The same
#: derandomized prefix of cases runs on every backend; KERASEXT_PROPERTY_EXAMPLES overrides it.
MAX_EXAMPLES = int(os.environ.get("KERASEXT_PROPERTY_EXAMPLES", 0)) or (
    50 if keras.backend.backend() == "jax" else 300)

SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,  # reproducible in CI
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

METRICS = {
    "precision": (kx.metrics.Precision, 0),
    "recall": (kx.metrics.Recall, 1),
    "f1": (kx.metrics.F1Score, 2),
    "fbeta": (kx.metrics.FBetaScore, 2),
}

pytestmark = pytest.mark.cross_backend


def _check(case, which, beta):
    assume(case.true_flat.size > 0)
    cls, index = METRICS[which]
    kwargs = dict(case.kwargs)
    num_classes = None if case.task == "binary" else case.num_classes
    if which == "fbeta":
        kwargs["beta"] = beta
    metric = cls(task=case.task, num_classes=num_classes, **kwargs)
    for y_true, y_pred, weight in case.batches():
        metric.update_state(y_true, y_pred, sample_weight=weight)
    expected = _reference.reference(case, beta=beta if which == "fbeta" else 1.0)[index]
    np.testing.assert_allclose(
        np.asarray(metric.result(), dtype="float64"), expected, rtol=1e-6, atol=1e-6,
        equal_nan=True, err_msg=f"{which} {case.task} {kwargs}",
    )


def _property_test(task):
    @SETTINGS
    @given(
        case=_reference.cases(task),
        which=st.sampled_from(sorted(METRICS)),
        beta=st.sampled_from([0.0, 0.5, 2.0]),
    )
    def test(case, which, beta):
        _check(case, which, beta)

    return test


test_binary_matches_sklearn = _property_test("binary")
test_multiclass_matches_sklearn = _property_test("multiclass")
test_multilabel_matches_sklearn = _property_test("multilabel")


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
def test_property_tests_cover_every_format(task):
    """The strategy reaches every label format, average and zero_division."""
    seen = set()

    @settings(max_examples=150, deadline=None, derandomize=True, database=None)
    @given(case=_reference.cases(task))
    def collect(case):
        seen.add(("shape", (case.y_true.ndim, case.y_pred.ndim, case.y_true.shape[-1] == 1)))
        seen.add(("average", case.kwargs["average"]))
        seen.add(("zero_division", case.kwargs["zero_division"]))

    collect()
    for average in _reference.AVERAGES[task]:
        assert ("average", average) in seen
    for zero_division in (0.0, 1.0, "nan"):
        assert ("zero_division", zero_division) in seen
    # binary: (n,) / (n, 1) labels and scores, and (n, steps[, 1]); multiclass: sparse,
    # (n, 1) and one-hot, flat and with a time axis; multilabel: flat and with a time axis.
    minimum = {"binary": 6, "multiclass": 5, "multilabel": 2}[task]
    assert len({kind for key, kind in seen if key == "shape"}) >= minimum
