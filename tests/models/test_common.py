"""Pieces shared by the models: symbolic outputs are declared as eager ones come out.

Every model's final output is float32 under any policy (the conformance
harness checks it eagerly, on every backend), so its symbolic output, through
`keras.Input` or `compute_output_spec`, must be declared float32 too, with
the shape that `call` returns. No eager call here: on JAX each would compile
every op anew.
"""

import re

import keras
import pytest

import kerasext as kx

pytestmark = pytest.mark.cross_backend

IMAGES = ((4, 4, 1), "float32")
TOKENS = ((6,), "int32")

#: name: (constructor, input (shape, dtype) without the batch axis, output shape without it)
CASES = {
    "ConvNet": (lambda: kx.models.ConvNet(3, filters=(2,), dense_units=()), IMAGES, (3,)),
    "ConvNet-grayscale-regression": (
        lambda: kx.models.ConvNet(None, filters=(2,), dense_units=()), ((4, 4), "float32"), (1,)),
    "EncoderDecoder": (lambda: kx.models.EncoderDecoder(11, 13, units=4, embed_dim=2),
                       [TOKENS, ((4,), "int32")], (4, 13)),
    "InceptionNet": (lambda: kx.models.InceptionNet(3, width_multiplier=0.02,
                                                    blocks_per_stage=(1, 1, 0), stem_filters=2),
                     IMAGES, (3,)),
    "LinearRegression": (lambda: kx.models.LinearRegression(units=2), ((3,), "float32"), (2,)),
    "LogisticRegression": (lambda: kx.models.LogisticRegression(num_classes=3),
                           ((3,), "float32"), (3,)),
    "RecurrentNet-sequences": (
        lambda: kx.models.RecurrentNet(None, units=(2,), cell="gru", return_sequences=True),
        ((5, 3), "float32"), (5, 1)),
    "TextCNN": (lambda: kx.models.TextCNN(10, 3, embed_dim=2, kernel_sizes=(2,), filters=2),
                TOKENS, (3,)),
    "TransformerClassifier": (lambda: kx.models.TransformerClassifier(
        10, 8, 3, embed_dim=4, num_heads=1, ff_dim=4, num_layers=1), TOKENS, (3,)),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("policy", ["float32", "mixed_float16", "mixed_bfloat16"])
def test_symbolic_outputs_are_float32_with_the_call_shape(name, policy):
    make, input_spec, output_shape = CASES[name]
    keras.config.set_dtype_policy(policy)
    model = make()
    if isinstance(input_spec, list):
        inputs = [keras.Input(shape, dtype=dtype) for shape, dtype in input_spec]
    else:
        inputs = keras.Input(input_spec[0], dtype=input_spec[1])
    for outputs in (model(inputs), model.compute_output_spec(inputs),
                    keras.Model(inputs, model(inputs)).outputs[0]):
        assert tuple(outputs.shape) == (None, *output_shape)
        assert keras.backend.standardize_dtype(outputs.dtype) == "float32", policy



def _batch_shapes(input_spec):
    if isinstance(input_spec, list):
        return [(2, *shape) for shape, _ in input_spec]
    return (2, *input_spec[0])


@pytest.mark.parametrize("name", sorted(CASES))
def test_build_again_creates_nothing(name):
    # keras-tuner's Hyperband calls build_from_config on the model its HyperModel returned
    # built: the same variables must stay, none added.
    make, input_spec, _ = CASES[name]
    model = make()
    model.build(_batch_shapes(input_spec))
    variables = [id(variable) for variable in model.variables]
    assert variables
    model.build(_batch_shapes(input_spec))
    model.build_from_config(model.get_build_config())
    assert [id(variable) for variable in model.variables] == variables


@pytest.mark.parametrize("make, shape, rank", [
    (lambda: kx.models.ConvNet(3, filters=(2,), dense_units=()), (2, 4), 4),
    (lambda: kx.models.InceptionNet(3, width_multiplier=0.02, blocks_per_stage=(1, 1, 0),
                                    stem_filters=2), (2, 4, 4, 1, 1), 4),
    (lambda: kx.models.TextCNN(10, 3, kernel_sizes=(2,), filters=2), (2, 6, 1), 2),
    (lambda: kx.models.TransformerClassifier(10, 8, 3, embed_dim=4, num_heads=1, ff_dim=4,
                                             num_layers=1), (2,), 2),
    (lambda: kx.models.RecurrentNet(3, units=(2,)), (2, 5), 3),
])
def test_wrong_input_rank_names_the_model_and_the_shape(make, shape, rank):
    model = make()
    with pytest.raises(ValueError, match=rf"{type(model).__name__} expects inputs of rank "
                                         rf"{rank} .*Received: input_shape={re.escape(str(shape))}"):
        model.build(shape)


@pytest.mark.parametrize("make", [
    lambda: kx.models.ConvNet(3, filters=(2,), dense_units=()),
    lambda: kx.models.InceptionNet(3, width_multiplier=0.02, blocks_per_stage=(1, 1, 0),
                                   stem_filters=2),
])
def test_grayscale_images_are_built_with_one_channel(make):
    grayscale, explicit = make(), make()
    grayscale.build((2, 8, 8))
    explicit.build((2, 8, 8, 1))
    assert ([tuple(w.shape) for w in grayscale.weights]
            == [tuple(w.shape) for w in explicit.weights])
