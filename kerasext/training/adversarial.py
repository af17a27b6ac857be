"""`AdversarialTraining`: FGSM / PGD adversarial training as a model wrapper."""

import keras
from keras import ops

from kerasext._validation import (
    check_bool,
    check_choice,
    check_number,
    check_positive_int,
    invalid_argument,
)
from kerasext.api_export import kerasext_export
from kerasext.training.train_step import TrainStep, update_mean_tracker

METHODS = ("fgsm", "pgd")


@kerasext_export
class AdversarialTraining(TrainStep):
    """Adversarial training with FGSM or PGD examples: a model wrapper.

    Each step minimises `(1 - a) * J(x) + a * J(x_adv)`, with `a` the
    `adversarial_weight` and `x_adv` an adversarial example inside the
    L-infinity ball of radius `epsilon` around `x`:

    - `method="fgsm"` (Goodfellow et al. 2015):
      `x_adv = x + epsilon * sign(grad_x J(x))`. The input gradient comes from
      the same forward-backward pass as the clean weight gradient, so a step
      costs two passes in all.
    - `method="pgd"` (Madry et al. 2018): start from a uniformly random point
      of the ball (`random_start=True`), then take `steps` signed-gradient
      steps of size `step_size`, projecting back into the ball after each.
      The attack's forward passes leave the model's state (batch-norm
      statistics, dropout seeds) untouched; the random start draws from the
      wrapper's `keras.random.SeedGenerator`, whose state advances every
      step on every backend (on JAX it is part of the step's state).

    `x_adv` is clipped to `[clip_min, clip_max]` when given (e.g. the valid
    pixel range). Every input must be floating point: integer inputs such as
    token ids cannot be perturbed and raise a `ValueError` at trace time
    (perturb embeddings inside the model instead). Loss scaling (mixed
    precision), sample weights, regularization and `tf.distribute` are handled
    as in `TrainStep`. The attacks are written once in `keras.ops` on top of
    `loss_and_gradients` and run on TensorFlow, JAX and torch.

    Logs, besides `loss` (the combined objective) and the compiled metrics
    (on clean predictions): `clean_loss` (`J(x)`) and `adversarial_loss`
    (`J(x_adv)`), averaged over the epoch. `evaluate` reports the clean loss.

    Args:
        model: the `keras.Model` to train.
        epsilon: radius of the L-infinity ball, `> 0`, in input units.
        method: `"fgsm"` or `"pgd"`. Defaults to `"fgsm"`.
        steps: number of PGD steps, `>= 1`; ignored by FGSM. Defaults to `10`.
        step_size: size of each PGD step; `None` means `2.5 * epsilon / steps`
            (Madry et al.). Ignored by FGSM. Defaults to `None`.
        adversarial_weight: the weight `a` of the adversarial loss, in
            `[0, 1]`. Defaults to `0.5`.
        random_start: whether PGD starts from a random point of the ball.
            Defaults to `True`.
        clip_min: lower bound of the valid input range, or `None`.
            Defaults to `None`.
        clip_max: upper bound of the valid input range, or `None`.
            Defaults to `None`.
        seed: seed of PGD's random start. Defaults to `None`.
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
    x = rng.uniform(size=(64, 8)).astype("float32")
    y = (x[:, :4].sum(axis=1) > x[:, 4:].sum(axis=1)).astype("int32")
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(2)])
    trainer = kx.training.AdversarialTraining(
        model, epsilon=0.05, method="pgd", steps=3, clip_min=0.0, clip_max=1.0
    )
    trainer.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    history = trainer.fit(x, y, epochs=2, batch_size=16, verbose=0)
    print(sorted(history.history))  # accuracy, adversarial_loss, clean_loss, loss
    x_adv = trainer.perturb(x[:4], y[:4])  # adversarial examples for new data
    ```

    Reference:
        - [Goodfellow et al., 2015. Explaining and Harnessing Adversarial
          Examples](https://arxiv.org/abs/1412.6572)
        - [Madry et al., 2018. Towards Deep Learning Models Resistant to
          Adversarial Attacks](https://arxiv.org/abs/1706.06083)
    """

    _train_only_metrics = ("clean_loss", "adversarial_loss")

    def __init__(
        self,
        model,
        epsilon,
        method="fgsm",
        steps=10,
        step_size=None,
        adversarial_weight=0.5,
        random_start=True,
        clip_min=None,
        clip_max=None,
        seed=None,
        **kwargs,
    ):
        check_number("epsilon", epsilon, minimum=0, min_inclusive=False)
        check_choice("method", method, METHODS)
        check_positive_int("steps", steps)
        check_number("step_size", step_size, minimum=0, min_inclusive=False, allow_none=True)
        check_number("adversarial_weight", adversarial_weight, minimum=0, maximum=1)
        check_bool("random_start", random_start)
        check_number("clip_min", clip_min, allow_none=True)
        check_number("clip_max", clip_max, allow_none=True)
        if clip_min is not None and clip_max is not None and clip_min >= clip_max:
            raise invalid_argument("clip_max", clip_max,
                                     f"a number > clip_min (clip_min={clip_min!r})")
        super().__init__(model, **kwargs)
        self.epsilon = epsilon
        self.method = method
        self.steps = steps
        self.step_size = step_size
        self.adversarial_weight = adversarial_weight
        self.random_start = random_start
        self.clip_min = clip_min
        self.clip_max = clip_max
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.clean_loss_tracker = keras.metrics.Mean(name="clean_loss")
        self.adversarial_loss_tracker = keras.metrics.Mean(name="adversarial_loss")

    # ----------------------------------------------------------------- attacks

    def _check_inputs(self, x):
        leaves = keras.tree.flatten(x)
        for index, leaf in enumerate(leaves):
            dtype = keras.backend.standardize_dtype(leaf.dtype)
            if "float" not in dtype:
                where = "" if len(leaves) == 1 else f" (input {index} of {len(leaves)})"
                raise ValueError(
                    f"{type(self).__name__} perturbs the model's inputs, which must be "
                    f"floating point; received an input of dtype {dtype} and shape "
                    f"{tuple(leaf.shape)}{where}. Integer inputs such as token ids cannot be "
                    "perturbed: cast them to float if they are measurements, or perturb "
                    "the embeddings inside the model instead."
                )

    def _project(self, x_adv, x):
        """Back into the epsilon ball around `x`, then into the valid range."""
        x_adv = ops.clip(x_adv, x - self.epsilon, x + self.epsilon)
        if self.clip_min is not None or self.clip_max is not None:
            low = -float("inf") if self.clip_min is None else self.clip_min
            high = float("inf") if self.clip_max is None else self.clip_max
            x_adv = ops.clip(x_adv, low, high)
        return x_adv

    def _signed_step(self, x, gradient, size):
        step = ops.sign(gradient)
        # A loss-scale overflow gives non-finite gradients: take no step there.
        step = ops.where(ops.isfinite(gradient), step, ops.zeros_like(step))
        return x + ops.cast(size, x.dtype) * ops.cast(step, x.dtype)

    def _input_gradients(self, x, y, sample_weight, training):
        """Gradients of the (scaled) loss with respect to every input, state untouched."""
        _, _, _, gradients = self.loss_and_gradients(
            x, y, sample_weight, wrt_weights=False, wrt_inputs=True, training=training,
            keep_state=False,
        )
        return gradients

    def _pgd(self, x, y, sample_weight, training):
        flat_x = [ops.convert_to_tensor(t) for t in keras.tree.flatten(x)]
        step_size = self.step_size or 2.5 * self.epsilon / self.steps
        if self.random_start:
            flat_adv = [
                self._project(
                    t + keras.random.uniform(ops.shape(t), -self.epsilon, self.epsilon,
                                             dtype=t.dtype, seed=self.seed_generator),
                    t,
                )
                for t in flat_x
            ]
        else:
            flat_adv = list(flat_x)
        for _ in range(self.steps):
            gradients = self._input_gradients(
                keras.tree.pack_sequence_as(x, flat_adv), y, sample_weight, training
            )
            flat_adv = [
                self._project(self._signed_step(a, g, step_size), t)
                for a, g, t in zip(flat_adv, gradients, flat_x)
            ]
        return flat_adv

    def perturb(self, x, y, sample_weight=None, training=False):
        """Adversarial examples for `x` against the current model.

        Uses the compiled loss, so the trainer must be compiled.

        Args:
            x: inputs (a tensor or structure of tensors, floating point).
            y: targets.
            sample_weight: optional sample weights.
            training: the mode the model runs in while attacked.
                Defaults to `False`.

        Returns:
            `x_adv`, structured like `x`.
        """
        x = keras.tree.map_structure(ops.convert_to_tensor, x)
        y = keras.tree.map_structure(ops.convert_to_tensor, y)
        self._check_inputs(x)
        if self.method == "fgsm":
            gradients = self._input_gradients(x, y, sample_weight, training)
            flat_adv = [
                self._project(self._signed_step(t, g, self.epsilon), t)
                for t, g in zip(keras.tree.flatten(x), gradients)
            ]
        else:
            flat_adv = self._pgd(x, y, sample_weight, training)
        return keras.tree.pack_sequence_as(x, flat_adv)

    # ----------------------------------------------------------------- the step

    def compute_gradients(self, x, y, sample_weight):
        self._check_inputs(x)
        weight = float(self.adversarial_weight)
        flat_x = [ops.convert_to_tensor(t) for t in keras.tree.flatten(x)]
        x = keras.tree.pack_sequence_as(x, flat_x)
        fgsm = self.method == "fgsm"

        # FGSM takes the input gradient from the clean pass itself.
        clean_loss, y_pred, clean_gradients, input_gradients = self.loss_and_gradients(
            x, y, sample_weight, wrt_inputs=fgsm
        )
        if fgsm:
            flat_adv = [
                self._project(self._signed_step(t, g, self.epsilon), t)
                for t, g in zip(flat_x, input_gradients)
            ]
        else:
            flat_adv = self._pgd(x, y, sample_weight, training=True)
        x_adv = keras.tree.pack_sequence_as(x, [ops.stop_gradient(a) for a in flat_adv])

        adversarial_loss, _, adversarial_gradients, _ = self.loss_and_gradients(
            x_adv, y, sample_weight
        )

        gradients = []
        for clean, adversarial in zip(clean_gradients, adversarial_gradients):
            if clean is None and adversarial is None:
                gradients.append(None)
            elif clean is None:
                gradients.append(weight * adversarial)
            elif adversarial is None:
                gradients.append((1.0 - weight) * clean)
            else:
                gradients.append((1.0 - weight) * clean + weight * adversarial)
        loss = (1.0 - weight) * clean_loss + weight * adversarial_loss

        update_mean_tracker(self.clean_loss_tracker, clean_loss, x)
        update_mean_tracker(self.adversarial_loss_tracker, adversarial_loss, x)
        return loss, y_pred, gradients

    def get_config(self):
        return {
            **super().get_config(),
            "epsilon": self.epsilon,
            "method": self.method,
            "steps": self.steps,
            "step_size": self.step_size,
            "adversarial_weight": self.adversarial_weight,
            "random_start": self.random_start,
            "clip_min": self.clip_min,
            "clip_max": self.clip_max,
            "seed": self.seed,
        }
