"""What every kerasext HyperModel shares: pins, compilation, seeding, memory, early stopping."""

import gc
import json
import weakref
import zlib

import keras
import keras_tuner
from keras_tuner.engine import metrics_tracking

from kerasext import _compat
from kerasext import _validation as v
from kerasext._direction import metric_direction
from kerasext._memory import SessionReleaser
from kerasext.tuning import space as space_lib

#: Names of the hyperparameters of the shared training group.
TRAINING_NAMES = ("optimizer", "learning_rate", "momentum", "weight_decay", "batch_size")


def _is_array_like(x):
    """Whether `fit` accepts `batch_size` with this `x` (arrays, not datasets / generators)."""
    import numpy as np

    if isinstance(x, (dict, list, tuple)):
        return all(_is_array_like(v) for v in (x.values() if isinstance(x, dict) else x))
    return isinstance(x, np.ndarray) or hasattr(x, "__array__") or keras.ops.is_tensor(x)


class KerasextHyperModel(keras_tuner.HyperModel):
    """Base of the kerasext HyperModels (see the subclasses for the search spaces).

    Subclasses implement `_declare(space)` (declare the architecture's
    hyperparameters through a `SearchSpace`, return the model's constructor
    arguments), `_make_model(kwargs)`, `_input_shape()`, `_loss()` and
    `_default_metrics()`.

    Args:
        fixed: dict `{name: value}` pinning hyperparameters (declared as
            `hp.Fixed` in the same conditional scope). Unknown names raise a
            `ValueError`. Defaults to `None`.
        metrics: metrics to compile each model with (names, Keras or kerasext
            metric objects; objects are cloned for every model). Defaults to
            `None`: accuracy and a macro F1 score for classifiers, RMSE and MAE
            for regression.
        early_stopping: whether each trial's `fit` gets a kerasext
            `EarlyStopping` on the tuner's objective (left out when the tuner
            is Hyperband, whose brackets already decide how long a model
            trains). Defaults to `True`.
        early_stopping_patience: its patience, in epochs. Defaults to `3`.
        seed: base of the per-trial seeds: each trial builds and trains under
            `keras.utils.set_random_seed(s)`, with `s` derived from `seed`, the
            trial's hyperparameter values and the execution number, so a
            trial's score depends only on its values and two searches with
            the same tuner seed give the same trials and scores (a nonzero
            tuner seed: keras-tuner's oracles read `seed=0` as "draw a random
            seed"; `kerasext.tuning.CrossValidated` tuners keep 0). `None`
            leaves the random state alone. Defaults to `0`.
        name: name of the HyperModel. Defaults to `None`.
        tunable: see `keras_tuner.HyperModel`. Defaults to `True`.

    Example:

    ```python
    import keras_tuner
    hypermodel = kx.tuning.HyperConvNet((8, 8), num_classes=10, fixed={"batch_size": 64})
    assert isinstance(hypermodel, kx.tuning.KerasextHyperModel)
    assert hypermodel.objective("val_f1_score").direction == "max"
    hp = keras_tuner.HyperParameters()
    model = hypermodel.build(hp)  # compiled, with its weights and optimizer slots
    assert hp.get("batch_size") == 64 and model.optimizer.built
    ```
    """

    def __init__(
        self,
        fixed=None,
        metrics=None,
        early_stopping=True,
        early_stopping_patience=3,
        seed=0,
        name=None,
        tunable=True,
    ):
        super().__init__(name=name, tunable=tunable)
        if fixed is not None and not isinstance(fixed, dict):
            raise v.invalid_argument("fixed", fixed, "a dict {name: value}")
        v.check_number("seed", seed, integer=True, allow_none=True)
        v.check_number("early_stopping_patience", early_stopping_patience, minimum=0,
                       integer=True)
        self.fixed = dict(fixed or {})
        self.metrics = metrics
        self.early_stopping = bool(early_stopping)
        self.early_stopping_patience = early_stopping_patience
        self.seed = seed
        self._executions = weakref.WeakKeyDictionary()
        self._releaser = SessionReleaser()
        if self.fixed:
            from kerasext.tuning.describe import explore

            known = {hp.name for hp in explore(_Unpinned(self))}
            unknown = sorted(set(self.fixed) - known)
            if unknown:
                raise v.invalid_argument(
                    "fixed", self.fixed,
                    f"hyperparameter names among {sorted(known)}; unknown: {unknown}")

    # ------------------------------------------------------------------ to implement

    def _declare(self, space):  # pragma: no cover - abstract
        raise NotImplementedError

    def _make_model(self, kwargs):  # pragma: no cover - abstract
        raise NotImplementedError

    def _input_shape(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def _loss(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def _default_metrics(self):  # pragma: no cover - abstract
        raise NotImplementedError

    #: Whether the training group tunes decoupled weight decay (False where the
    #: model tunes its own L1 / L2 penalty instead).
    _weight_decay = True
    #: Default learning rate of the training group.
    _learning_rate = 1e-3

    # ------------------------------------------------------------------ the space

    def declare_space(self, hp, fixed=None):
        """Declares every hyperparameter on `hp` without building a model.

        Returns `(model_kwargs, training)`: the model's constructor arguments
        and the training group's values for the current values of `hp`.
        """
        space = space_lib.SearchSpace(hp, self.fixed if fixed is None else fixed)
        model_kwargs = self._declare(space)
        training = space_lib.declare_training(
            space, weight_decay=self._weight_decay, learning_rate=self._learning_rate
        )
        return model_kwargs, training

    def build(self, hp):
        """Builds and compiles the model for the hyperparameter values in `hp`."""
        self._release_session()
        executions = self._executions.get(hp, 0)
        self._executions[hp] = executions + 1
        self._seed_trial(hp, executions)
        model_kwargs, training = self.declare_space(hp)
        model = self._make_model(model_kwargs)
        self._build_weights(model)
        model.compile(
            optimizer=space_lib.make_optimizer(training),
            loss=self._loss(),
            metrics=self._compile_metrics(),
        )
        # Slots made now, eagerly, rather than inside the first traced train step: the model
        # handed to the tuner is complete, optimizer variables included.
        model.optimizer.build(model.trainable_variables)
        return model

    def _build_weights(self, model):
        model.build((None, *self._input_shape()))

    # ------------------------------------------------------------------ metrics, objective

    def _compile_metrics(self):
        if self.metrics is None:
            return self._default_metrics()
        metrics = self.metrics if isinstance(self.metrics, (list, tuple)) else [self.metrics]
        return [
            keras.metrics.deserialize(keras.metrics.serialize(m))
            if isinstance(m, keras.metrics.Metric)
            else m
            for m in metrics
        ]

    def _metric_directions(self):
        """`{name: "max" | "min"}` of the compiled metrics that say their direction."""
        directions = {}
        for metric in self._compile_metrics():
            if isinstance(metric, keras.metrics.Metric):
                direction = metric_direction(metric)
                if direction is None:
                    direction = metrics_tracking.infer_metric_direction(metric)
                if direction is not None:
                    directions[metric.name] = direction
        return directions

    def objective(self, name):
        """A `keras_tuner.Objective` for `name` with the direction of the metric it names.

        keras-tuner guesses the direction of an objective given as a string
        from Keras' built-in names, and guesses wrong for F-scores
        (`"val_f1_score"` is minimized). This reads the direction from the
        metrics this HyperModel compiles (kerasext metrics say theirs), then
        falls back to keras-tuner's guess.

        Args:
            name: the objective, e.g. `"val_f1_score"`, `"val_loss"`.

        Returns:
            A `keras_tuner.Objective`.
        """
        base = name.removeprefix("val_")
        direction = self._metric_directions().get(base)
        if direction is None:
            direction = metrics_tracking.infer_metric_direction(name)
        if direction is None:
            raise ValueError(
                f"Cannot tell whether {name!r} is to be maximized or minimized: it names none "
                f"of this HyperModel's metrics ({sorted(self._metric_directions())}). "
                f"Use keras_tuner.Objective({name!r}, direction=...)."
            )
        return keras_tuner.Objective(name, direction)

    # ------------------------------------------------------------------ trials

    def _release_session(self):
        """Frees what the models of earlier trials hold (see `kerasext._memory`).

        Clears the Keras session (keeping the dtype policy) and forgets the
        traced train steps TensorFlow's gradient registry keeps of the models
        built since the previous call. Skipped under a `tf.distribute` strategy,
        whose scope must outlive the session.
        """
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            if tf.distribute.has_strategy():
                return
        self._releaser(free_memory=False)

    def trial_seed(self, hp, execution=0):
        """The seed a trial with these values builds and trains under (None if `seed` is None)."""
        if self.seed is None:
            return None
        values = json.dumps(sorted(hp.values.items()), default=str)
        return zlib.crc32(f"{self.seed}|{execution}|{values}".encode()) % (2**31 - 1)

    def _seed_trial(self, hp, execution):
        seed = self.trial_seed(hp, execution)
        if seed is not None:
            _compat.set_random_seed(seed)

    @staticmethod
    def _tuner_of(callbacks):
        for callback in callbacks or []:
            if isinstance(callback, _compat.tuner_callback_class()):
                return callback.tuner
        return None

    def _check_objective(self, tuner):
        objective = getattr(getattr(tuner, "oracle", None), "objective", None)
        if objective is None:
            return
        objectives = getattr(objective, "objectives", [objective])
        directions = self._metric_directions()
        directions["loss"] = "min"
        for obj in objectives:
            expected = directions.get(obj.name.removeprefix("val_"))
            if expected is not None and obj.direction != expected:
                raise keras_tuner.errors.FatalValueError(
                    f"The tuner's objective {obj.name!r} has direction {obj.direction!r}, but "
                    f"the metric it names is better when {'higher' if expected == 'max' else 'lower'}"
                    f" (keras-tuner guesses directions from Keras' built-in names). Pass "
                    f"objective=hypermodel.objective({obj.name!r}) or "
                    f"keras_tuner.Objective({obj.name!r}, direction={expected!r})."
                )

    @staticmethod
    def _is_hyperband(hp, tuner):
        if "tuner/epochs" in hp.values:
            return True
        oracle = getattr(tuner, "oracle", None)
        return isinstance(oracle, keras_tuner.oracles.HyperbandOracle)

    def _early_stopping_callback(self, tuner):
        from kerasext import callbacks as kx_callbacks

        monitor, mode = "val_loss", "min"
        objective = getattr(getattr(tuner, "oracle", None), "objective", None)
        if objective is not None and not hasattr(objective, "objectives"):
            if objective.name != "default_objective":
                monitor, mode = objective.name, objective.direction
        cls = getattr(kx_callbacks, "EarlyStopping", keras.callbacks.EarlyStopping)
        return cls(
            monitor=monitor,
            mode=mode,
            patience=self.early_stopping_patience,
            restore_best_weights=True,
        )

    def fit(self, hp, model, *args, **kwargs):
        """Trains `model` with the tuned `batch_size` (and early stopping, unless Hyperband).

        Also frees the models of earlier trials (`gc.collect`) and seeds the
        trial. An explicit `batch_size` passed to `search` wins over the tuned
        one (pin it with `fixed={"batch_size": n}` to keep the space honest).
        """
        gc.collect()
        callbacks = list(kwargs.pop("callbacks", None) or [])
        tuner = self._tuner_of(callbacks)
        if tuner is not None:
            self._check_objective(tuner)
        self._seed_trial(hp, max(self._executions.get(hp, 1) - 1, 0))
        if self.early_stopping and not self._is_hyperband(hp, tuner):
            callbacks.append(self._early_stopping_callback(tuner))
        x = args[0] if args else kwargs.get("x")
        if "batch_size" not in kwargs and "batch_size" in hp and _is_array_like(x):
            kwargs["batch_size"] = hp.get("batch_size")
        history = model.fit(*args, callbacks=callbacks, **kwargs)
        return history


class _Unpinned:
    """A view of a HyperModel that declares its space with no pins (to list every name)."""

    def __init__(self, hypermodel):
        self.hypermodel = hypermodel

    def declare_space(self, hp):
        return self.hypermodel.declare_space(hp, fixed={})
