import keras
import numpy as np
import pytest

import kerasext as kx
from kerasext._compat import set_random_seed
from tests import conformance
from tests.models._data import TENSORFLOW_ONLY_LEARNING

pytestmark = pytest.mark.cross_backend

TINY = {"num_classes": 3, "width_multiplier": 0.0625, "blocks_per_stage": (1, 3, 0),
        "stem_filters": 4}


def images(n=8, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 8, 8, 1)).astype("float32"), rng.integers(0, 3, size=n)


def test_conformance():
    # With auxiliary classifiers: every path of the model without them, plus
    # the auxiliary train step (one module per stage and one head keep it small).
    x, y = images(4)
    conformance.run_model_test(
        kx.models.InceptionNet, {**TINY, "blocks_per_stage": (1, 1, 0), "aux_classifiers": True},
        x, target=y, loss="sparse_categorical_crossentropy", expected_output_shape=(4, 3),
    )


def test_auxiliary_heads_sit_on_4a_and_4d():
    model = kx.models.InceptionNet(10, aux_classifiers=True)
    assert [head.name for head in model.auxiliary_heads] == ["aux_head_4a", "aux_head_4d"]
    model = kx.models.InceptionNet(10, blocks_per_stage=(1, 3, 0), aux_classifiers=True)
    assert [head.name for head in model.auxiliary_heads] == ["aux_head_4a", "aux_head_4b"]
    # Table 1 times 0.25: inception (3a) has 16 + 32 + 8 + 8 channels.
    assert model.stages[0][0].compute_output_shape((1, 8, 8, 32)) == (1, 8, 8, 64)


def _cross_entropy(probabilities, labels):
    return -np.log(probabilities[np.arange(len(labels)), labels])


def _without_dropout(model):
    for head in model.auxiliary_heads:
        head.dropout.rate = 0.0
    return model


def test_auxiliary_losses_enter_training_with_weight_0_3():
    x, y = images(8)
    weights = np.linspace(0.5, 2.0, 8).astype("float32")
    set_random_seed(0)
    model = _without_dropout(kx.models.InceptionNet(**TINY, dropout=0.0, aux_classifiers=True))
    model.build(x.shape)
    # Called as Keras' train step calls it (torchvision's GoogLeNet convention).
    main, auxiliary = model(x, training=True)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(main),
                               keras.ops.convert_to_numpy(model(x)), rtol=1e-5, atol=1e-7)
    main = keras.ops.convert_to_numpy(main)
    auxiliary = keras.ops.convert_to_numpy(keras.ops.stack(auxiliary))
    assert auxiliary.shape == (2, 8, 3)
    # Keras' "sum_over_batch_size": sum of weighted losses over the batch size.
    expected = (
        np.sum(weights * _cross_entropy(main, y))
        + 0.3 * sum(np.sum(weights * _cross_entropy(a, y)) for a in auxiliary)
    ) / len(y)
    head_biases = [head.head.bias.numpy().copy() for head in model.auxiliary_heads]
    head_weights = [w.numpy().copy() for head in model.auxiliary_heads
                    for w in head.trainable_weights]
    learning_rate = 0.1
    model.compile(optimizer=keras.optimizers.SGD(learning_rate),
                  loss="sparse_categorical_crossentropy")
    history = model.fit(x, y, sample_weight=weights, batch_size=8, epochs=1, verbose=0,
                        shuffle=False)
    np.testing.assert_allclose(history.history["loss"][0], expected, rtol=1e-5)
    # d(0.3 * CE_aux)/d(bias) = 0.3 * sum_i w_i (p_i - onehot_i) / n
    onehot = np.eye(3)[y]
    for head, before, probabilities in zip(model.auxiliary_heads, head_biases, auxiliary):
        gradient = 0.3 * np.sum(weights[:, None] * (probabilities - onehot), axis=0) / len(y)
        np.testing.assert_allclose(head.head.bias.numpy(), before - learning_rate * gradient,
                                   rtol=1e-4, atol=1e-6)
    # Every weight of the auxiliary heads gets a gradient.
    after = [w.numpy() for head in model.auxiliary_heads for w in head.trainable_weights]
    changed = [not np.allclose(a, b) for a, b in zip(head_weights, after)]
    assert all(changed), changed


def test_compute_loss_adds_the_weighted_auxiliary_losses_of_the_compiled_loss():
    # The same forward pass gives both: the loss is Keras' own loss object on the main
    # head plus aux_loss_weight times the same loss on each auxiliary head.
    x, y = images(4)
    weights = np.array([1.0, 0.5, 2.0, 0.0], "float32")
    model = kx.models.InceptionNet(**TINY, aux_classifiers=True, aux_loss_weight=0.7)
    model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy())
    y_pred = model(x, training=True)
    main, auxiliary = y_pred
    assert len(auxiliary) == 2
    reference = keras.losses.SparseCategoricalCrossentropy()
    expected = reference(y, main, weights) + sum(0.7 * reference(y, a, weights)
                                                 for a in auxiliary)
    got = model.compute_loss(x, y, y_pred, weights, training=True)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(got),
                               keras.ops.convert_to_numpy(expected), rtol=1e-6)
    # The main head alone (evaluate): the compiled loss alone.
    got = model.compute_loss(x, y, main, weights, training=False)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(got),
                               keras.ops.convert_to_numpy(reference(y, main, weights)), rtol=1e-6)


def test_auxiliary_heads_are_absent_from_predict_evaluate_and_saved_model(tmp_path):
    x, y = images(8)
    model = kx.models.InceptionNet(**{**TINY, "blocks_per_stage": (1, 1, 0)},
                                   aux_classifiers=True)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=1, verbose=0)
    predictions = model.predict(x, verbose=0)
    assert isinstance(predictions, np.ndarray) and predictions.shape == (8, 3)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert set(logs) == {"loss", "accuracy"}
    np.testing.assert_allclose(logs["loss"], np.mean(_cross_entropy(predictions, y)), rtol=1e-5)
    path = str(tmp_path / "inception.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    reloaded = loaded.predict(x, verbose=0)
    assert isinstance(reloaded, np.ndarray) and reloaded.shape == (8, 3)
    np.testing.assert_allclose(reloaded, predictions, rtol=1e-5, atol=1e-6)
    # The auxiliary heads' weights are kept, so training can resume.
    assert len(loaded.auxiliary_heads) == 1 and loaded.auxiliary_heads[0].built
    for saved, kept in zip(model.auxiliary_heads[0].weights, loaded.auxiliary_heads[0].weights):
        np.testing.assert_array_equal(saved.numpy(), kept.numpy())


@pytest.mark.tensorflow_only("tf.distribute is TensorFlow-only")
def test_one_distributed_step_equals_one_device_step():
    x, y = images(8)
    x = np.concatenate([x, x[:, ::-1]])
    y = np.concatenate([y, y])

    def build():
        model = _without_dropout(kx.models.InceptionNet(
            **{**TINY, "blocks_per_stage": (1, 1, 0)}, dropout=0.0, aux_classifiers=True))
        model(x[:1])
        model.compile(optimizer=keras.optimizers.SGD(0.5),
                      loss="sparse_categorical_crossentropy")
        return model

    set_random_seed(0)
    single = build()
    initial = single.get_weights()
    single.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False)
    with conformance.mirrored_strategy().scope():
        distributed = build()
        distributed.set_weights(initial)
    distributed.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False)
    for got, want in zip(distributed.get_weights(), single.get_weights()):
        np.testing.assert_allclose(got, want, atol=1e-5)


def test_invalid_arguments():
    with pytest.raises(ValueError, match="Invalid `blocks_per_stage` argument value"):
        kx.models.InceptionNet(10, blocks_per_stage=(3, 1, 0))
    with pytest.raises(ValueError, match="Invalid `width_multiplier` argument value"):
        kx.models.InceptionNet(10, width_multiplier=0)
    with pytest.raises(ValueError, match="Invalid `num_classes` argument value"):
        kx.models.InceptionNet(1)


def test_wrong_rank_names_shape():
    with pytest.raises(ValueError, match=r"Received: input_shape=\(2, 8\)"):
        kx.models.InceptionNet(10)(np.zeros((2, 8), "float32"))


def _digits():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = (digits.images / 16.0).astype("float32")[..., None]
    return train_test_split(images, digits.target, test_size=0.25, random_state=0,
                            stratify=digits.target)


@pytest.mark.slow
@TENSORFLOW_ONLY_LEARNING
@pytest.mark.parametrize("aux", [False, True])
def test_learns_digits(aux):
    x_train, x_val, y_train, y_val = _digits()
    set_random_seed(0)
    model = kx.models.InceptionNet(10, width_multiplier=0.125, blocks_per_stage=(1, 3, 0),
                                   stem_filters=16, aux_classifiers=aux)
    epochs, batch_size = 12, 32
    schedule = keras.optimizers.schedules.CosineDecay(3e-3, epochs * -(-len(x_train) // 32))
    model.compile(optimizer=keras.optimizers.Adam(schedule),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, verbose=0)
    accuracy = model.evaluate(x_val, y_val, verbose=0, return_dict=True)["accuracy"]
    assert accuracy >= 0.95, accuracy
