"""cross_validate against hand-written loops over scikit-learn's own folds."""

import keras
import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import GroupKFold, KFold, StratifiedKFold, train_test_split

import kerasext as kx
from kerasext import model_selection
from kerasext._compat import set_random_seed
from kerasext.model_selection import CrossValidationResult, cross_validate


def _breast_cancer():
    x, y = load_breast_cancer(return_X_y=True)
    x = ((x - x.mean(0)) / x.std(0)).astype("float32")
    return x, y


def _build_logistic_regression():
    model = kx.models.LogisticRegression()
    model.compile(
        optimizer=keras.optimizers.Adam(0.05),
        loss="binary_crossentropy",
        metrics=["accuracy"],
        jit_compile=False,
    )
    return model


def _build_dense(inputs=4, outputs=1, activation="sigmoid", loss="binary_crossentropy"):
    def build():
        model = keras.Sequential(
            [keras.Input((inputs,)), keras.layers.Dense(outputs, activation=activation)]
        )
        model.compile("sgd", loss, metrics=["mae"], jit_compile=False)
        return model

    return build


@pytest.mark.cross_backend
def test_matches_hand_written_loop_on_breast_cancer(monkeypatch):
    x, y = _breast_cancer()
    seed, folds, fit_kwargs = 11, 3, {"epochs": 2, "batch_size": 64}
    cleared = []
    real_clear = keras.backend.clear_session
    monkeypatch.setattr(
        keras.backend, "clear_session", lambda **kw: (cleared.append(1), real_clear(**kw))
    )

    result = cross_validate(
        _build_logistic_regression, x, y, cv=folds, fit_kwargs=fit_kwargs, seed=seed
    )

    # The documented seeding: StratifiedKFold(shuffle=True, random_state=seed) for integer
    # labels, and set_random_seed(seed + fold) before each model is built.
    expected = []
    hand_splits = list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y))
    for fold, (train, test) in enumerate(hand_splits):
        set_random_seed(seed + fold)
        model = _build_logistic_regression()
        model.fit(x[train], y[train], verbose=0, **fit_kwargs)
        expected.append(
            model.evaluate(x[test], y[test], batch_size=64, verbose=0, return_dict=True)
        )

    assert len(result.splits) == folds
    for (train, test), (hand_train, hand_test) in zip(result.splits, hand_splits):
        np.testing.assert_array_equal(train, hand_train)
        np.testing.assert_array_equal(test, hand_test)
    accuracies = np.array([scores["accuracy"] for scores in result.fold_scores])
    hand_accuracies = np.array([scores["accuracy"] for scores in expected])
    np.testing.assert_allclose(accuracies, hand_accuracies, rtol=0, atol=1e-6)
    np.testing.assert_allclose(
        [s["loss"] for s in result.fold_scores], [s["loss"] for s in expected], atol=1e-6
    )
    assert hand_accuracies.min() > 0.85  # the models did learn
    assert result.mean["accuracy"] == pytest.approx(hand_accuracies.mean(), abs=1e-6)
    assert result.std["accuracy"] == pytest.approx(hand_accuracies.std(), abs=1e-6)
    # No validation data unless asked for, one history per fold, memory released between folds.
    assert [len(h["loss"]) for h in result.histories] == [2] * folds
    assert not any("val_accuracy" in h for h in result.histories)
    assert len(cleared) >= folds
    assert result.models is None
    table = str(result)
    assert "accuracy" in table and "mean" in table and "std" in table
    assert f"{result.mean['accuracy']:.4f}" in table


@pytest.mark.cross_backend
def test_dict_inputs_index_pairs_sample_weight_and_returned_models(rng):
    n = 24
    x = {
        "a": rng.normal(size=(n, 3)).astype("float32"),
        "b": rng.normal(size=(n, 2)).astype("float32"),
    }
    y = rng.normal(size=(n, 1)).astype("float32")
    weights = rng.uniform(0.0, 2.0, size=n).astype("float32")
    groups = np.repeat(np.arange(4), 6)
    pairs = list(GroupKFold(2).split(x["a"], y, groups))

    def build():
        a, b = keras.Input((3,), name="a"), keras.Input((2,), name="b")
        out = keras.layers.Dense(1)(keras.layers.Concatenate()([a, b]))
        model = keras.Model({"a": a, "b": b}, out)
        model.compile("sgd", "mse", metrics=["mae"], jit_compile=False)
        return model

    result = cross_validate(
        build,
        x,
        y,
        cv=(pair for pair in pairs),
        fit_kwargs={"epochs": 1, "sample_weight": weights, "batch_size": 8},
        return_models=True,
        seed=3,
    )
    assert len(result.models) == 2
    for (train, test), (hand_train, hand_test), model, scores in zip(
        result.splits, pairs, result.models, result.fold_scores
    ):
        np.testing.assert_array_equal(train, hand_train)
        np.testing.assert_array_equal(test, hand_test)
        x_test = {key: value[test] for key, value in x.items()}
        # Held-out MSE and MAE computed with NumPy: the loss is weighted (Keras' reduction
        # "sum_over_batch_size" divides by the number of samples); `metrics=` are not.
        error = model.predict(x_test, verbose=0) - y[test]
        w = weights[test]
        assert scores["loss"] == pytest.approx(np.mean(w * error[:, 0] ** 2), rel=1e-5)
        assert scores["mae"] == pytest.approx(np.mean(np.abs(error[:, 0])), rel=1e-5)


def _sample_ids(x):
    return None if x is None else np.asarray(keras.ops.convert_to_numpy(x))[:, 0].astype(int)


class RecordingModel(keras.Sequential):
    """Records the samples (column 0 holds each sample's index) that fit and evaluate get."""

    calls = []

    def fit(self, x=None, y=None, **kwargs):
        validation = kwargs.get("validation_data")
        type(self).calls.append(
            ("fit", _sample_ids(x), None if validation is None else _sample_ids(validation[0]))
        )
        return super().fit(x, y, **kwargs)

    def evaluate(self, x=None, y=None, **kwargs):
        type(self).calls.append(("evaluate", _sample_ids(x), None))
        return super().evaluate(x, y, **kwargs)


def indexed_data(n=30):
    """Column 0 is the sample's index; three classes of 10."""
    rng = np.random.default_rng(7)
    x = np.concatenate([np.arange(n)[:, None], rng.normal(size=(n, 2))], axis=1)
    return x.astype("float32"), np.arange(n) % 3


def _build_recording_model():
    model = RecordingModel([keras.Input((3,)), keras.layers.Dense(3, activation="softmax")],
                            name="recording")
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"],
                  jit_compile=False)
    return model


def check_no_held_out_sample_reaches_fit(calls, y, splits, validation_fraction, seed):
    """`calls` of `RecordingModel`, fold by fold, against scikit-learn's own splits.

    Each fold: one `fit` on the training part only, its validation data (if any) carved
    from that part by `train_test_split` stratified on the labels, seeded `seed + fold`;
    then one `evaluate` on the held-out part. (Keras' validation passes inside `fit` go
    through `evaluate` too: those may see the validation part only.)
    """
    starts = [index for index, call in enumerate(calls) if call[0] == "fit"]
    assert len(starts) == len(splits)
    for fold, (train, test) in enumerate(splits):
        fold_calls = calls[starts[fold]:(starts + [len(calls)])[fold + 1]]
        _, fit_ids, validation_ids = fold_calls[0]
        assert not set(fit_ids) & set(test)
        if validation_fraction is None:
            assert validation_ids is None
            np.testing.assert_array_equal(np.sort(fit_ids), np.sort(train))
        else:
            expected_fit, expected_validation = train_test_split(
                train, test_size=validation_fraction, stratify=y[train], random_state=seed + fold
            )
            np.testing.assert_array_equal(np.sort(fit_ids), np.sort(expected_fit))
            np.testing.assert_array_equal(np.sort(validation_ids), np.sort(expected_validation))
        evaluated = [ids for name, ids, _ in fold_calls[1:] if name == "evaluate"]
        assert evaluated, fold
        for ids in evaluated[:-1]:  # validation passes during fit
            assert not set(ids) & set(test), fold
        np.testing.assert_array_equal(evaluated[-1], test)  # scored once, on the held-out part


@pytest.mark.cross_backend
@pytest.mark.parametrize("validation_fraction", [None, 0.25])
def test_no_held_out_sample_reaches_fit(validation_fraction):
    x, y = indexed_data()
    RecordingModel.calls = []
    result = cross_validate(
        _build_recording_model, x, y, cv=3, seed=5, validation_fraction=validation_fraction,
        fit_kwargs={"epochs": 2, "batch_size": 8},
    )
    splits = list(StratifiedKFold(3, shuffle=True, random_state=5).split(x, y))
    check_no_held_out_sample_reaches_fit(RecordingModel.calls, y, splits, validation_fraction,
                                         seed=5)
    # The val_* curves come from the carved part, when there is one.
    assert all(("val_loss" in h) == (validation_fraction is not None) for h in result.histories)


@pytest.mark.cross_backend
def test_validation_split_in_fit_kwargs_splits_the_training_part():
    x, y = indexed_data()
    RecordingModel.calls = []
    cross_validate(_build_recording_model, x, y, cv=3, seed=5,
                   fit_kwargs={"epochs": 1, "validation_split": 0.2})
    splits = list(StratifiedKFold(3, shuffle=True, random_state=5).split(x, y))
    # Keras takes its validation_split from the x that fit receives: the training part.
    check_no_held_out_sample_reaches_fit(RecordingModel.calls, y, splits, None, seed=5)


@pytest.mark.cross_backend
def test_a_compiled_model_is_cloned_for_every_fold(rng):
    x = rng.normal(size=(24, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")

    def build():
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
        model.compile(keras.optimizers.Adam(0.05), "binary_crossentropy", metrics=["accuracy"],
                      jit_compile=False)
        return model

    model = build()
    weights = [w.copy() for w in model.get_weights()]
    # scikit-learn's habit: pass the estimator, get the scores of fresh copies of it.
    cloned = cross_validate(model, x, y, cv=2, fit_kwargs={"epochs": 2}, seed=3)
    built = cross_validate(build, x, y, cv=2, fit_kwargs={"epochs": 2}, seed=3)
    for ours, reference in zip(cloned.fold_scores, built.fold_scores):
        assert ours == pytest.approx(reference, abs=1e-6)
    for before, after in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(before, after)  # the given model itself is not trained
    with pytest.raises(ValueError, match=r"Invalid `build_model`.*uncompiled model"):
        cross_validate(keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)]), x, y, cv=2)


class _RecordsModels(keras.callbacks.Callback):
    seen = []

    def on_train_begin(self, logs=None):
        type(self).seen.append((self, self.model))  # references, not ids: ids get reused


@pytest.mark.cross_backend
def test_callbacks_are_deep_copied_and_dtype_policy_kept_per_fold(rng):
    x = rng.normal(size=(12, 4)).astype("float32")
    y = (rng.uniform(size=12) > 0.5).astype("float32")
    original = _RecordsModels()
    _RecordsModels.seen = []
    policies = []

    def build():
        policies.append(keras.config.dtype_policy().name)
        return _build_dense()()

    keras.config.set_dtype_policy("mixed_bfloat16")
    result = cross_validate(build, x, y, cv=2, callbacks=[original], fit_kwargs={"epochs": 1})
    assert policies == ["mixed_bfloat16"] * 2  # clear_session between folds resets it
    assert keras.config.dtype_policy().name == "mixed_bfloat16"
    assert len(_RecordsModels.seen) == 2
    (first_copy, first_model), (second_copy, second_model) = _RecordsModels.seen
    assert first_copy is not second_copy
    assert original is not first_copy and original is not second_copy
    assert first_model is not second_model
    _RecordsModels.seen = []
    assert getattr(original, "_model", None) is None
    assert [len(h["loss"]) for h in result.histories] == [1, 1]


def test_stratification_rule():
    cases = {
        "int": (np.array([0, 1, 2] * 6), True),
        "int column": (np.array([[0], [1]] * 9), True),
        "str": (np.array(["a", "b", "c"] * 6), True),
        "one-hot": (np.eye(3)[np.array([0, 1, 2] * 6)], True),
        "float": (np.linspace(0.0, 1.0, 18), False),
        "float 0/1": (np.array([0.0, 1.0] * 9), False),
        "multi-label": (np.array([[1, 1, 0], [0, 1, 1], [1, 0, 0]] * 6), False),
        "dict": ({"out": np.array([0, 1, 2] * 6)}, False),
    }
    x = np.zeros((18, 2))
    for name, (y, stratified) in cases.items():
        splits = model_selection.make_splits(3, x, y, 18, seed=5)
        if stratified:
            labels = np.argmax(y, axis=1) if y.ndim == 2 and y.shape[1] > 1 else np.ravel(y)
            reference = StratifiedKFold(3, shuffle=True, random_state=5).split(x, labels)
        else:
            reference = KFold(3, shuffle=True, random_state=5).split(x)
        for (train, test), (ref_train, ref_test) in zip(splits, reference):
            np.testing.assert_array_equal(test, ref_test, err_msg=name)
            np.testing.assert_array_equal(train, ref_train, err_msg=name)


def test_result_table_and_statistics():
    result = CrossValidationResult(
        histories=[{"loss": [1.0]}, {"loss": [2.0]}, {"loss": [3.0]}],
        fold_scores=[{"loss": 0.5, "mae": 1e-5}, {"loss": 0.25, "mae": 2e-5}, {"loss": 1.0, "mae": 3e-5}],
        splits=[([1, 2], [0]), ([0, 2], [1]), ([0, 1], [2])],
    )
    assert result.n_splits == 3
    assert result.mean["loss"] == pytest.approx(np.mean([0.5, 0.25, 1.0]))
    assert result.std["loss"] == pytest.approx(np.std([0.5, 0.25, 1.0]))
    lines = str(result).splitlines()
    assert lines[0].split() == ["fold", "loss", "mae"]
    assert lines[2].split() == ["0", "0.5000", "1.000e-05"]
    assert lines[-1].split()[0] == "std" and lines[-2].split()[0] == "mean"
    assert "CrossValidationResult" in repr(result) and str(result) in repr(result)
    again = CrossValidationResult.from_dict(result.to_dict())
    assert again.fold_scores == result.fold_scores and again.histories == result.histories


# --------------------------------------------------------------------------- bad input


def test_cv_larger_than_samples_is_refused():
    x, y = np.zeros((4, 4), "float32"), np.zeros((4,), "float32")
    with pytest.raises(ValueError, match=r"cv=5 folds from 4 samples"):
        cross_validate(_build_dense(), x, y, cv=5)
    with pytest.raises(ValueError, match=r"Invalid `cv` argument value.*cv=1"):
        cross_validate(_build_dense(), x, y, cv=1)
    with pytest.raises(ValueError, match=r"`cv` splitter KFold.*could not split the 4 samples"):
        cross_validate(_build_dense(), x, y, cv=KFold(6))


def test_class_rarer_than_folds_is_refused():
    x = np.zeros((11, 4), "float32")
    y = np.array([0] * 5 + [1] * 4 + [2] * 2)
    with pytest.raises(ValueError, match=r"Cannot stratify cv=3 folds.*class 2 has 2"):
        cross_validate(_build_dense(), x, y, cv=3)


def test_uncompiled_or_non_model_is_refused():
    x, y = np.zeros((6, 4), "float32"), np.zeros((6,), "float32")

    def uncompiled():
        return keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])

    with pytest.raises(ValueError, match=r"uncompiled model \(fold 0\).*model.compile"):
        cross_validate(uncompiled, x, y, cv=2)
    with pytest.raises(ValueError, match=r"must return a keras.Model"):
        cross_validate(lambda: "not a model", x, y, cv=2)
    with pytest.raises(ValueError, match=r"Invalid `build_model`"):
        cross_validate("not callable", x, y, cv=2)


def test_inconsistent_or_unsplittable_data_is_refused():
    build = _build_dense()
    with pytest.raises(ValueError, match=r"same number of samples"):
        cross_validate(build, np.zeros((6, 4)), np.zeros((5,)), cv=2)
    with pytest.raises(ValueError, match=r"tf.data datasets, torch DataLoaders and generators"):
        cross_validate(build, (row for row in np.zeros((6, 4))), None, cv=2)
    with pytest.raises(ValueError, match=r"`fit_kwargs` may not contain 'x'"):
        cross_validate(build, np.zeros((6, 4)), np.zeros((6,)), cv=2, fit_kwargs={"x": 1})
    with pytest.raises(ValueError, match=r"Invalid `seed`"):
        cross_validate(build, np.zeros((6, 4)), np.zeros((6,)), cv=2, seed=1.5)
    with pytest.raises(ValueError, match=r"Fold 0 of `cv` has an empty test set"):
        cross_validate(build, np.zeros((6, 4)), np.zeros((6,)), cv=[(np.arange(6), [])])


def test_empty_data_string_labels_and_bad_validation_fraction_are_refused():
    build = _build_dense()
    x, y = np.zeros((6, 4), "float32"), np.array([0, 1] * 3)
    with pytest.raises(ValueError, match=r"Invalid `x` argument value.*at least one sample.*"
                                         r"empty data"):
        cross_validate(build, np.zeros((0, 4)), np.zeros((0,)), cv=2)
    for labels in (np.array(["cat", "dog"] * 3), np.array(["cat", "dog"] * 3, dtype=object)):
        with pytest.raises(ValueError, match=r"Invalid `y` argument value\. Expected numeric "
                                             r"targets.*LabelEncoder.*\['cat', 'dog'\]"):
            cross_validate(build, x, labels, cv=2)
    for fraction in (0.0, 1.0, 2, "0.1"):
        with pytest.raises(ValueError, match=r"Invalid `validation_fraction` argument value"):
            cross_validate(build, x, y, cv=2, validation_fraction=fraction)
    with pytest.raises(ValueError, match=r"either `validation_fraction` or `validation_data`"):
        cross_validate(build, x, y, cv=2, validation_fraction=0.5,
                       fit_kwargs={"validation_split": 0.5})
    # Three classes cannot all appear in a validation part of one sample.
    with pytest.raises(ValueError, match=r"Cannot hold back validation_fraction=0.1"):
        cross_validate(build, np.zeros((9, 4)), np.arange(9) % 3, cv=3, validation_fraction=0.1)


@pytest.mark.tensorflow_only("tf.data is TensorFlow's input pipeline")
def test_tf_data_dataset_is_refused():
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices(np.zeros((6, 4)))
    with pytest.raises(ValueError, match=r"tf.data datasets, torch DataLoaders and generators"):
        cross_validate(_build_dense(), dataset, None, cv=2)


@pytest.mark.cross_backend
def test_backend_tensors_are_split_and_torch_data_loaders_refused():
    """Inputs may be the backend's own tensors; torch's DataLoader cannot be indexed by fold."""
    x = np.random.default_rng(0).normal(size=(8, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("float32")
    result = cross_validate(
        _build_dense(), keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(y), cv=2,
        fit_kwargs={"epochs": 1}, seed=0,
    )
    assert len(result.fold_scores) == 2
    np.testing.assert_array_equal(np.sort(np.concatenate([t for _, t in result.splits])),
                                  np.arange(8))
    if keras.backend.backend() == "torch":
        import torch

        dataset = torch.utils.data.TensorDataset(torch.zeros(6, 4), torch.zeros(6))
        for data in (dataset, torch.utils.data.DataLoader(dataset, batch_size=2)):
            with pytest.raises(ValueError, match=r"torch DataLoaders"):
                cross_validate(_build_dense(), data, None, cv=2)
