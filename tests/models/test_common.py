"""Pieces shared by the models: symbolic outputs are declared as eager ones come out.

Every model's final output is float32 under any policy (the conformance
harness checks it eagerly, on every backend), so its symbolic output, through
`keras.Input` or `compute_output_spec`, must be declared float32 too, with
the shape that `call` returns. No eager call here: on JAX each would compile
every op anew.
"""

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

