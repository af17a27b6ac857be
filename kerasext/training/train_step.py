"""`TrainStep`: the reference custom training step, as a model wrapper."""

import warnings

import keras
import tensorflow as tf
from keras import ops

from kerasext.api_export import kerasext_export

# --------------------------------------------------------------------------- helpers
# Shared by every step in kerasext.training. They mirror what Keras' own
# TensorFlow trainer does (keras/src/backend/tensorflow/trainer.py), using only
# public TensorFlow / Keras API.


def num_replicas_in_sync():
    """The number of replicas the current `tf.distribute` strategy runs."""
    return tf.distribute.get_strategy().num_replicas_in_sync


def unscale_loss_for_distribution(loss):
    """Undoes the `1 / num_replicas` scaling Keras losses apply per replica.

    Keras' `Loss` objects divide each replica's mean loss by the number of
    replicas, so that summing gradients across replicas gives the gradient of
    the global mean. Loss trackers must see the per-replica mean instead.
    """
    replicas = num_replicas_in_sync()
    if replicas > 1:
        loss = ops.multiply(loss, ops.cast(replicas, loss.dtype))
    return loss


def all_reduce_sum(values):
    """Sums a list of tensors over the replicas (identity on one device).

    Used where a step needs the *global* gradient (e.g. SAM's ascent
    direction), which the optimizer otherwise only forms inside `apply`.
    """
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return list(values)
    return context.all_reduce(tf.distribute.ReduceOp.SUM, list(values))


def batch_size_of(x):
    """The (dynamic) batch size of the first non-`None` input."""
    first = next(t for t in keras.tree.flatten(x) if t is not None)
    return tf.shape(first)[0]


def update_mean_tracker(tracker, loss, x):
    """Updates a `keras.metrics.Mean` loss tracker exactly as Keras' own step does."""
    tracker.update_state(unscale_loss_for_distribution(loss), sample_weight=batch_size_of(x))


# --------------------------------------------------------------------------- TrainStep


@kerasext_export
class TrainStep(keras.Model):
    """The reference custom training step: a model wrapper that trains like `fit`.

    `TrainStep(model)` wraps any Keras model (Sequential, functional,
    subclassed) and trains it with a step that does exactly what Keras' built-in
    TensorFlow step does, so that it can be subclassed safely:

    - unpacks `(x, y, sample_weight)` from the batch;
    - computes the loss with `compute_loss`, so compiled losses, regularization
      losses and `add_loss` terms all count, and sample weights are honoured;
    - scales the loss with `optimizer.scale_loss` before differentiating, so
      that under `mixed_float16` (where `compile` wraps the optimizer in a
      `LossScaleOptimizer`) the gradients the optimizer unscales were in fact
      scaled (the keras.io guide's step forgets this and stops learning);
    - keeps Keras' per-replica loss scaling under `tf.distribute`, so that N
      replicas take the same step as one device with the same global batch;
    - applies the gradients with `optimizer.apply` (clipping, gradient
      accumulation, EMA and loss scaling stay the optimizer's business);
    - updates the loss tracker and the compiled metrics;
    - stays XLA-compilable (`jit_compile=True`).

    Subclasses change how gradients are made by overriding one hook,
    `compute_gradients(x, y, sample_weight)`; everything else is inherited.

    The wrapper forwards `call` (hence `predict` and `evaluate`) to the inner
    model, which it keeps at `trainer.model`, and saves / loads as a `.keras`
    file with `safe_mode=True`, the inner model included. Only the TensorFlow
    backend is supported.

    Args:
        model: the `keras.Model` (or layer) to train.
        **kwargs: base `keras.Model` arguments (`name`, `dtype`, ...). The
            dtype policy defaults to the inner model's.

    Call arguments:
        inputs: the inner model's inputs.
        training: Python boolean, forwarded to the inner model.

    Returns:
        The inner model's outputs.

    Example:

    ```python
    import keras
    import numpy as np

    x = np.random.default_rng(0).normal(size=(32, 3)).astype("float32")
    y = x @ np.array([[1.0], [-2.0], [0.5]], dtype="float32")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    trainer = kx.training.TrainStep(model)
    trainer.compile(optimizer="sgd", loss="mse")
    history = trainer.fit(x, y, epochs=2, batch_size=8, verbose=0)
    predictions = trainer.predict(x, verbose=0)  # the inner model's outputs

    # A subclass overrides one hook; scaling, replicas and metrics are inherited.
    class ClippedToZeroMean(kx.training.TrainStep):
        def compute_gradients(self, x, y, sample_weight):
            loss, y_pred, gradients = super().compute_gradients(x, y, sample_weight)
            return loss, y_pred, [g - keras.ops.mean(g) for g in gradients]
    ```
    """

    #: Names of metrics that only a training step updates; dropped from
    #: `evaluate` logs, where they would always read 0.
    _train_only_metrics = ()

    def __init__(self, model, **kwargs):
        if keras.backend.backend() != "tensorflow":
            raise ValueError(
                f"{type(self).__name__} supports the TensorFlow backend only. "
                f"Received: backend={keras.backend.backend()!r}"
            )
        if not isinstance(model, keras.layers.Layer):
            raise ValueError(
                f"Invalid `model` argument value. Expected a keras.Model. Received: model={model!r}"
            )
        kwargs.setdefault("dtype", model.dtype_policy)
        super().__init__(**kwargs)
        self.model = model

    def call(self, inputs, training=None):
        return self.model(inputs, training=training)

    @property
    def output_names(self):
        # `compile` matches per-output losses and metrics given as dicts to these.
        names = getattr(self.__dict__.get("model"), "output_names", None)
        if names is None:
            raise AttributeError(f"{type(self).__name__} wraps a model without `output_names`")
        return names

    # ----------------------------------------------------------------- the step

    def loss_and_predictions(self, x, y, sample_weight, training=True):
        """Runs the forward pass and returns `(loss, y_pred)`.

        The loss comes from `compute_loss` (compiled losses, regularization
        and `add_loss` terms, sample weights, per-replica scaling), unscaled
        by the optimizer's loss scale.
        """
        y_pred = self(x, training=training)
        loss = self._compute_loss(
            x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training
        )
        return loss, y_pred

    def scale_loss(self, loss):
        """The loss multiplied by the optimizer's loss scale (mixed precision)."""
        if self.optimizer is None:
            return loss
        return self.optimizer.scale_loss(loss)

    def compute_gradients(self, x, y, sample_weight):
        """The hook subclasses override: how gradients are made for one batch.

        Args:
            x: the batch's inputs.
            y: the batch's targets (may be `None`).
            sample_weight: the batch's sample weights (may be `None`).

        Returns:
            A tuple `(loss, y_pred, gradients)`: the loss to report (before
            loss scaling), the predictions the compiled metrics are updated
            with, and one gradient per `self.trainable_weights` entry (or
            `None`) of the *scaled* loss `self.scale_loss(loss)`; the
            optimizer unscales them in `apply`.
        """
        with tf.GradientTape() as tape:
            loss, y_pred = self.loss_and_predictions(x, y, sample_weight)
            scaled_loss = self.scale_loss(loss)
        gradients = tape.gradient(scaled_loss, self.trainable_weights)
        return loss, y_pred, gradients

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        loss, y_pred, gradients = self.compute_gradients(x, y, sample_weight)
        update_mean_tracker(self._loss_tracker, loss, x)
        if self.trainable_weights:
            self.optimizer.apply(list(gradients), self.trainable_weights)
        else:
            warnings.warn("The model does not have any trainable weights.", stacklevel=2)
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def test_step(self, data):
        logs = super().test_step(data)
        return {key: value for key, value in logs.items() if key not in self._train_only_metrics}

    # ----------------------------------------------------------------- serialization

    def get_config(self):
        return {**super().get_config(), "model": keras.saving.serialize_keras_object(self.model)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["model"] = keras.saving.deserialize_keras_object(
            config["model"], custom_objects=custom_objects
        )
        return cls(**config)
