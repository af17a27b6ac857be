"""One MultiWorkerMirroredStrategy worker running plain Keras, first without, then with the fix.

Usage: plain_keras_worker.py RESULT_JSON

The process imports kerasext (which must patch nothing on import), creates the
strategy, calls `fit` on the unpatched Keras (expected to fail with
keras-team/keras#20585), then applies `kerasext.distribute`'s fix and runs
fit / evaluate / predict on a fresh model. `run(strategy)` is also what the
test calls in-process, without a strategy, for the single-process reference.
"""

import json
import sys

import keras
import numpy as np

GLOBAL_BATCH = 8


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype("float32")
    y = np.eye(2, dtype="float32")[(x.sum(axis=1) > 0).astype("int32")]
    return x, y


def build(strategy):
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
        # F1Score(average=None) logs a per-class vector: the fix must keep its shape.
        model.compile("sgd", "categorical_crossentropy",
                      metrics=["accuracy", keras.metrics.F1Score(average=None, name="f1")])
    return model


def run(strategy):
    """fit / evaluate / predict; everything as plain lists."""
    x, y = data()
    model = build(strategy)
    history = model.fit(x, y, batch_size=GLOBAL_BATCH, epochs=2, shuffle=False, verbose=0)
    evaluation = model.evaluate(x, y, batch_size=GLOBAL_BATCH, verbose=0, return_dict=True)
    return {
        "history": {k: np.asarray(v).tolist() for k, v in history.history.items()},
        "evaluate": {k: np.asarray(v).tolist() for k, v in evaluation.items()},
        "predict": model.predict(x, batch_size=GLOBAL_BATCH, verbose=0).tolist(),
        "weights": [w.tolist() for w in model.get_weights()],
    }


def main(result_path):
    import tensorflow as tf

    from kerasext import distribute

    # Created right after the imports: in multi-worker mode TensorFlow configures
    # its collectives once, and importing kerasext must not have run a TF op.
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    result = {"num_replicas": strategy.num_replicas_in_sync, "imported_kerasext_first": True,
              "patched_on_import": sorted(distribute._originals)}
    x, y = data()
    try:
        build(strategy).fit(x, y, batch_size=GLOBAL_BATCH, epochs=1, shuffle=False, verbose=0)
        result["plain"] = "ok"
    except Exception as error:  # noqa: BLE001
        result["plain"] = f"{type(error).__name__}: {error}"[:500]
    result["patched"] = distribute.apply_keras_multi_worker_fix()
    result.update(run(strategy))
    with open(result_path, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main(sys.argv[1])
