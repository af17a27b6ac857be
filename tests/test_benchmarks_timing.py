"""The shared benchmark helper alternates setups and reports medians and ratios."""

import statistics

import numpy as np
import pytest

from benchmarks.timing import compare


def test_compare_alternates_and_reports_medians():
    calls = []
    reported = {"a": [9.0, 1.0, 2.0, 3.0], "b": [9.0, 2.0, 4.0, 6.0]}

    def setup(name):
        def run():
            calls.append(name)
            return reported[name][sum(c == name for c in calls) - 1]

        return run

    comparison = compare("t", {"a": setup("a"), "b": setup("b")}, repeats=3, warmup=1)
    # warm-up a b, then rounds a b / b a / a b: never the same order twice in a row.
    assert calls == ["a", "b", "a", "b", "b", "a", "a", "b"]
    assert comparison.times == {"a": [1.0, 2.0, 3.0], "b": [2.0, 4.0, 6.0]}
    assert comparison.medians == {"a": statistics.median([1.0, 2.0, 3.0]), "b": 4.0}
    assert comparison.ratios["b"] == 2.0
    table = comparison.to_markdown()
    assert "| b | 4.0000 | 3 | 2.000 |" in table


@pytest.mark.cross_backend
def test_the_metrics_benchmark_floor_sums_every_prediction_of_a_compiled_step():
    # The floor every metric is compared with must read y_pred in every step Keras compiles
    # (evaluate's test step runs the compiled metrics as fit's train step does).
    import keras

    from benchmarks.bench_metrics import PredictionSum

    rng = np.random.default_rng(0)
    x = rng.normal(size=(10, 3)).astype("float32")
    y = rng.normal(size=(10, 2)).astype("float32")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    metric = PredictionSum()
    model.compile(loss="mse", metrics=[metric])
    logs = model.evaluate(x, y, batch_size=4, verbose=0, return_dict=True)
    expected = np.sum(model.predict(x, verbose=0).astype("float64"))
    assert logs["prediction_sum"] == pytest.approx(expected, rel=1e-5, abs=1e-5)
    assert float(metric.result()) == pytest.approx(expected, rel=1e-5, abs=1e-5)
