"""`TrainStep`: the reference custom training step, as a model wrapper."""

import warnings

import keras
from keras import ops

from kerasext._validation import invalid_argument
from kerasext.api_export import kerasext_export
from kerasext.training import _backend

# --------------------------------------------------------------------------- helpers
# Shared by every step in kerasext.training. They mirror what Keras' own
# trainers do (keras/src/backend/*/trainer.py), using only public API.


def unscale_loss_for_distribution(loss):
    """Undoes the `1 / num_replicas` scaling Keras losses apply per replica.

    Keras' `Loss` objects divide each replica's mean loss by the number of
    `tf.distribute` replicas, so that summing gradients across replicas gives
    the gradient of the global mean. Loss trackers must see the per-replica
    mean instead. The identity off TensorFlow.
    """
    replicas = _backend.num_replicas_in_sync()
    if replicas > 1:
        loss = ops.multiply(loss, ops.cast(replicas, loss.dtype))
    return loss


def update_mean_tracker(tracker, loss, x):
    """Updates a `keras.metrics.Mean` loss tracker exactly as Keras' own step does."""
    tracker.update_state(
        unscale_loss_for_distribution(loss), sample_weight=_backend.batch_size_of(x)
    )


def loss_tracker_of(model):
    """The loss tracker Keras' own train step updates: the first of `model.metrics`
    named "loss" (a `keras.metrics.Mean`, listed first once the model is compiled)."""
    for metric in model.metrics:
        if metric.name == "loss":
            return metric
    raise ValueError(
        f"{type(model).__name__} has no loss tracker among its metrics "
        f"({[metric.name for metric in model.metrics]}): call `compile()` with a `loss` first."
    )


# --------------------------------------------------------------------------- TrainStep


@kerasext_export
class TrainStep(keras.Model):
    """The reference custom training step: a model wrapper that trains like `fit`.

    `TrainStep(model)` wraps any Keras model (Sequential, functional,
    subclassed) and trains it with a step that does exactly what Keras' built-in
    step does, on every backend (TensorFlow, JAX, torch), so that it can be
    subclassed safely:

    - unpacks `(x, y, sample_weight)` from the batch;
    - computes the loss with `compute_loss`, so compiled losses, regularization
      losses and `add_loss` terms all count, and sample weights are honoured;
    - scales the loss with `optimizer.scale_loss` before differentiating, so
      that under `mixed_float16` (where `compile` wraps the optimizer in a
      `LossScaleOptimizer`) the gradients the optimizer unscales were in fact
      scaled (the keras.io guide's step forgets this and stops learning);
    - keeps Keras' per-replica loss scaling under `tf.distribute`, so that N
      replicas take the same step as one device with the same global batch;
    - applies the gradients with the optimizer (clipping, gradient
      accumulation, EMA and loss scaling stay the optimizer's business);
    - updates the loss tracker and the compiled metrics;
    - compiles (`jit_compile=True`: XLA on TensorFlow and JAX,
      `torch.compile` on torch).

    Subclasses change how gradients are made by overriding one hook,
    `compute_gradients(x, y, sample_weight)`, which returns
    `(loss, y_pred, gradients)` on every backend; everything else is
    inherited. Inside it, `self.loss_and_gradients(...)` is the one way to
    differentiate the loss (with respect to the weights, the inputs, or
    both; at the current weights or at other values), whatever the backend.

    On JAX, Keras calls `train_step(state, data)` and expects
    `(logs, state)` back: the step runs in a `keras.StatelessScope` that
    holds the state, so `compute_gradients` is written with ordinary,
    stateful-looking calls (`self.trainable_variables`, metric updates,
    `keras.random` with a `SeedGenerator`) and its updates are threaded from
    step to step.

    The wrapper forwards `call` (hence `predict` and `evaluate`) to the inner
    model, which it keeps at `trainer.model`, and saves / loads as a `.keras`
    file with `safe_mode=True`, the inner model included.

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
        if not isinstance(model, keras.layers.Layer):
            raise invalid_argument("model", model, "a keras.Model")
        kwargs.setdefault("dtype", model.dtype_policy)
        super().__init__(**kwargs)
        self.model = model

    def call(self, inputs, training=None):
        return self.model(inputs, training=training)

    @property
    def output_names(self):
        # `compile` matches per-output losses and metrics given as dicts to these.
        # Read without attribute lookup magic: before `__init__` sets it there is
        # no `model` yet (torch keeps a sub-module in `_modules`, not `__dict__`).
        model = self.__dict__.get("model")
        if model is None:
            model = self.__dict__.get("_modules", {}).get("model")
        names = getattr(model, "output_names", None)
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
        loss = self.compute_loss(
            x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training
        )
        return loss, y_pred

    def scale_loss(self, loss):
        """The loss multiplied by the optimizer's loss scale (mixed precision)."""
        if self.optimizer is None:
            return loss
        return self.optimizer.scale_loss(loss)

    def _state_variables(self):
        """Every variable a forward pass may read or update, other than the trainable ones."""
        groups = [self.non_trainable_variables, self.metrics_variables]
        if self.optimizer is not None:
            groups.append(self.optimizer.variables)
        seen, variables = set(), []
        for variable in (v for group in groups for v in group):
            if id(variable) not in seen:
                seen.add(id(variable))
                variables.append(variable)
        return variables

    def loss_and_gradients(
        self,
        x,
        y=None,
        sample_weight=None,
        *,
        weights=None,
        wrt_weights=True,
        wrt_inputs=False,
        training=True,
        keep_state=True,
    ):
        """The loss and its gradients, on every backend: the steps' one autodiff call.

        The forward pass runs in a `keras.StatelessScope` in which the
        trainable variables hold `weights`, so the loss can be differentiated
        at any point without assigning (and restoring) the variables.

        Args:
            x: the inputs (a tensor or structure of tensors).
            y: the targets (may be `None`).
            sample_weight: sample weights (may be `None`).
            weights: one value per `self.trainable_variables` entry, at which
                the loss is evaluated; `None` means their current values.
            wrt_weights: whether to return the gradients with respect to the
                weights.
            wrt_inputs: whether to return the gradients with respect to every
                input (which must then all be floating point).
            training: the mode the model runs in.
            keep_state: whether the forward pass's updates of non-trainable
                state (batch-norm statistics, dropout seeds, per-output loss
                trackers) are kept (`False`: discarded, e.g. for an attack or
                a probe of the loss landscape).

        Returns:
            A tuple `(loss, y_pred, weight_gradients, input_gradients)`:
            `loss` before loss scaling; the gradients are those of the
            *scaled* loss `self.scale_loss(loss)`: `weight_gradients` one per
            `self.trainable_variables` entry (or `None` when not asked
            for), `input_gradients` one per leaf of `keras.tree.flatten(x)`
            (or `None` when not asked for). A gradient may be `None`
            (TensorFlow, torch) or zeros (JAX) where the loss does not depend
            on the tensor.
        """
        variables = self.trainable_variables
        if weights is None:
            weights = [ops.convert_to_tensor(v) for v in variables]
        weights = list(weights)
        if len(weights) != len(variables):
            raise ValueError(
                "Invalid `weights` argument value. Expected one value per trainable "
                f"variable ({len(variables)}). Received: {len(weights)} values"
            )
        flat_x = [ops.convert_to_tensor(t) for t in keras.tree.flatten(x)]
        n_weights = len(weights) if wrt_weights else 0
        targets = (weights if wrt_weights else []) + (flat_x if wrt_inputs else [])
        state_variables = self._state_variables()
        maps_all_state = _backend.maps_all_state()
        changed = []  # indices into state_variables, set while tracing

        def loss_fn(values):
            current = values[:n_weights] if wrt_weights else weights
            inputs = keras.tree.pack_sequence_as(x, values[n_weights:]) if wrt_inputs else x
            mapping = list(zip(variables, current))
            if maps_all_state:
                mapping += [(v, v.value) for v in state_variables]
            with keras.StatelessScope(state_mapping=mapping, collect_losses=True) as scope:
                before = [scope.get_current_value(v) for v in state_variables]
                loss, y_pred = self.loss_and_predictions(
                    inputs, y, sample_weight, training=training
                )
                scaled_loss = self.scale_loss(loss)
            changed.clear()
            updates = []
            for index, (variable, old) in enumerate(zip(state_variables, before)):
                new = scope.get_current_value(variable)
                if new is not None and new is not old:
                    changed.append(index)
                    updates.append(new)
            return scaled_loss, (loss, y_pred, updates)

        (_, (loss, y_pred, updates)), gradients = _backend.value_and_grad(loss_fn, targets)
        if keep_state:
            for index, value in zip(changed, updates):
                state_variables[index].assign(value)
        weight_gradients = list(gradients[:n_weights]) if wrt_weights else None
        input_gradients = list(gradients[n_weights:]) if wrt_inputs else None
        return loss, y_pred, weight_gradients, input_gradients

    def compute_gradients(self, x, y, sample_weight):
        """The hook subclasses override: how gradients are made for one batch.

        It runs inside the training step on every backend (on JAX within the
        step's `keras.StatelessScope`); differentiate with
        `self.loss_and_gradients`, not with a backend's own autodiff.

        Args:
            x: the batch's inputs.
            y: the batch's targets (may be `None`).
            sample_weight: the batch's sample weights (may be `None`).

        Returns:
            A tuple `(loss, y_pred, gradients)`: the loss to report (before
            loss scaling), the predictions the compiled metrics are updated
            with, and one gradient per `self.trainable_variables` entry of the
            *scaled* loss `self.scale_loss(loss)`; the optimizer unscales them
            when it applies them.
        """
        loss, y_pred, gradients, _ = self.loss_and_gradients(x, y, sample_weight)
        return loss, y_pred, gradients

    def _step_on_batch(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        loss, y_pred, gradients = self.compute_gradients(x, y, sample_weight)
        update_mean_tracker(loss_tracker_of(self), loss, x)
        if self.trainable_variables:
            _backend.apply_gradients(self.optimizer, gradients, self.trainable_variables)
        else:
            warnings.warn("The model does not have any trainable weights.", stacklevel=2)
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def train_step(self, *args):
        """One training step, as the backend's Keras trainer calls it.

        `train_step(data) -> logs` on TensorFlow and torch;
        `train_step(state, data) -> (logs, state)` on JAX. Override
        `compute_gradients` rather than this.
        """
        return _backend.run_train_step(self, self._step_on_batch, *args)

    def test_step(self, *args):
        logs, rebuild = _backend.split_step_result(super().test_step(*args))
        return rebuild(
            {key: value for key, value in logs.items() if key not in self._train_only_metrics}
        )

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
