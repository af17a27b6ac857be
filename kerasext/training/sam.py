"""`SAM`: sharpness-aware minimization (and ASAM) as a model wrapper."""

import keras
from keras import ops

from kerasext._validation import check_bool, check_non_negative
from kerasext.api_export import kerasext_export
from kerasext.training import _backend
from kerasext.training.train_step import TrainStep, update_mean_tracker

# Added to the gradient norm, as in Foret et al.'s reference implementation.
_NORM_EPSILON = 1e-12


@kerasext_export
class SAM(TrainStep):
    """Sharpness-aware minimization: a model wrapper whose step seeks flat minima.

    Each step (Foret et al. 2021) computes the gradient `g` at the weights `w`,
    moves to the worst-case neighbour `w + e` with `e = rho * g / ||g||`, takes
    the gradient there, and applies *that* gradient to the original weights
    `w` with the compiled optimizer. With `adaptive=True` it is ASAM (Kwon et
    al. 2021): the neighbourhood is rescaled elementwise by `T = |w| + eta`,
    `e = rho * T^2 g / ||T g||`, which makes the sharpness measure invariant to
    weight rescaling (ASAM is usually run with a larger `rho`, e.g. 0.5-2.0).

    Each step costs two forward-backward passes. The gradient at `w + e` is
    taken without touching the model's variables (a `keras.StatelessScope`,
    through `loss_and_gradients`), so nothing has to be restored and the
    second pass leaves non-trainable state (batch-norm statistics, random
    seeds) untouched. The algorithm is written once in `keras.ops` and runs
    on TensorFlow, JAX and torch. Under
    `tf.distribute`, `||g||` is the norm of the *global* gradient (all-reduced
    across replicas), so N replicas take the same step as one device with the
    same global batch. Loss scaling, gradient clipping, gradient accumulation
    and EMA stay with the optimizer and compose: clipping applies to the final
    (sharpness-aware) gradient, and with `gradient_accumulation_steps` each
    micro-batch makes its own ascent step (m-sharpness with m the micro-batch
    size) before the gradients are averaged.

    Logs, besides the loss (at `w`) and the compiled metrics (on predictions
    at `w`): `perturbed_loss`, the loss at `w + e`, and `sharpness`, their
    difference, both averaged over the epoch.

    Args:
        model: the `keras.Model` to train.
        rho: radius of the neighbourhood, `>= 0`. Defaults to `0.05`.
        adaptive: whether to use ASAM's weight-scaled neighbourhood.
            Defaults to `False`.
        eta: ASAM's offset in `T = |w| + eta`, so that zero weights still
            move; ignored unless `adaptive`. Defaults to `0.01`.
        **kwargs: base `keras.Model` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: the inner model's inputs.
        training: Python boolean, forwarded to the inner model.

    Returns:
        The inner model's outputs.

    Example:

    ```python
    import keras
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x.sum(axis=1, keepdims=True) > 0).astype("float32")
    model = keras.Sequential([
        keras.Input((4,)),
        keras.layers.Dense(8, activation="relu"),
        keras.layers.Dense(1, activation="sigmoid"),
    ])
    trainer = kx.training.SAM(model, rho=0.05)
    trainer.compile(optimizer="adam", loss="binary_crossentropy")
    history = trainer.fit(x, y, epochs=2, batch_size=16, verbose=0)
    print(sorted(history.history))  # ['loss', 'perturbed_loss', 'sharpness']
    ```

    Reference:
        - [Foret et al., 2021. Sharpness-Aware Minimization for Efficiently
          Improving Generalization](https://arxiv.org/abs/2010.01412)
        - [Kwon et al., 2021. ASAM: Adaptive Sharpness-Aware Minimization for
          Scale-Invariant Learning of Deep Neural
          Networks](https://arxiv.org/abs/2102.11600)
    """

    _train_only_metrics = ("perturbed_loss", "sharpness")

    def __init__(self, model, rho=0.05, adaptive=False, eta=0.01, **kwargs):
        check_non_negative("rho", rho)
        check_bool("adaptive", adaptive)
        check_non_negative("eta", eta)
        super().__init__(model, **kwargs)
        self.rho = float(rho)
        self.adaptive = adaptive
        self.eta = float(eta)
        self.perturbed_loss_tracker = keras.metrics.Mean(name="perturbed_loss")
        self.sharpness_tracker = keras.metrics.Mean(name="sharpness")

    def perturbation(self, gradients):
        """The ascent step `e` for each trainable weight, from the global gradients.

        Args:
            gradients: one (all-reduced) gradient per trainable weight, or
                `None`. Any positive scaling of them (the loss scale) gives
                the same `e`.

        Returns:
            A list of tensors shaped like the weights (zeros where the
            gradient is `None`). After a loss-scale overflow the result is not
            finite, and the `LossScaleOptimizer` skips the step.
        """
        variables = self.trainable_variables
        pairs = [(g, v) for g, v in zip(gradients, variables) if g is not None]
        if not pairs:
            return [ops.zeros(v.shape, v.dtype) for v in variables]
        if self.adaptive:
            scales = {id(v): ops.abs(ops.convert_to_tensor(v)) + self.eta for _, v in pairs}
            directions = [scales[id(v)] * g for g, v in pairs]  # T g
        else:
            scales = {}
            directions = [g for g, _ in pairs]
        norm = ops.sqrt(ops.sum(ops.stack([ops.sum(ops.square(d)) for d in directions])))
        factor = self.rho / (norm + _NORM_EPSILON)
        perturbations = []
        for g, v in zip(gradients, variables):
            if g is None:
                perturbations.append(ops.zeros(v.shape, v.dtype))
                continue
            step = g * factor
            if self.adaptive:
                step = step * ops.square(scales[id(v)])  # T^2 g
            perturbations.append(ops.cast(step, v.dtype))
        return perturbations

    def compute_gradients(self, x, y, sample_weight):
        variables = self.trainable_variables
        loss, y_pred, gradients, _ = self.loss_and_gradients(x, y, sample_weight)

        # The ascent direction comes from the global gradient: under
        # tf.distribute each replica holds the gradient of its share
        # (1 / replicas) of the global mean loss.
        perturbations = self.perturbation(_backend.all_reduce_sum(gradients))
        perturbed = [ops.convert_to_tensor(v) + e for v, e in zip(variables, perturbations)]
        # The second pass leaves the non-trainable state as the first left it.
        perturbed_loss, _, sharp_gradients, _ = self.loss_and_gradients(
            x, y, sample_weight, weights=perturbed, keep_state=False
        )

        update_mean_tracker(self.perturbed_loss_tracker, perturbed_loss, x)
        update_mean_tracker(self.sharpness_tracker, perturbed_loss - loss, x)
        return loss, y_pred, sharp_gradients

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "adaptive": self.adaptive,
                "eta": self.eta}
