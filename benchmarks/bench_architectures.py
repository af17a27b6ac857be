"""Reading-list architectures: what the auxiliary heads cost, what compiled decoding saves.

1. InceptionNet epoch time with and without auxiliary classifiers (the
   auxiliary heads and their losses run only in the training step).
2. EncoderDecoder greedy decoding: `generate` (one compiled `while_loop`)
   against the obvious eager Python loop that calls the model once per token.
"""

import numpy as np

from benchmarks.timing import compare


def _inception_setups(quick):
    import keras
    from sklearn.datasets import load_digits

    import kerasext as kx

    digits = load_digits()
    n = 512 if quick else len(digits.images)
    x = (digits.images[:n] / 16.0).astype("float32")[..., None]
    y = digits.target[:n]

    def setup(aux):
        model = kx.models.InceptionNet(10, width_multiplier=0.125, blocks_per_stage=(1, 3, 0),
                                       stem_filters=16, aux_classifiers=aux)
        model.compile(optimizer=keras.optimizers.Adam(3e-3),
                      loss="sparse_categorical_crossentropy")
        return lambda: model.fit(x, y, epochs=1, batch_size=32, verbose=0) and None

    return n, {"InceptionNet": setup(False), "InceptionNet(aux_classifiers=True)": setup(True)}


def _decoding_setups(quick):
    import keras

    import kerasext as kx

    batch, length, start = 32, 8, 11
    rng = np.random.default_rng(0)
    source = rng.integers(1, 11, size=(batch, length)).astype("int32")
    model = kx.models.EncoderDecoder(11, 13, units=64 if quick else 128, embed_dim=16)
    model((source, source[:, :1]))

    def eager_loop():
        # One full teacher-forcing call per generated token, from the host.
        tokens = np.full((batch, 1), start, dtype="int32")
        for _ in range(length + 1):
            probabilities = keras.ops.convert_to_numpy(model((source, tokens)))
            tokens = np.concatenate([tokens, probabilities[:, -1].argmax(-1)[:, None]], axis=1)
        return None

    def compiled():
        model.generate(source, max_length=length + 1, start_token=start, end_token=None)
        return None

    return batch, length, {"generate (compiled while_loop)": compiled,
                           "eager Python loop, model call per token": eager_loop}


def run(quick=False):
    repeats = 3 if quick else 7
    samples, inception = _inception_setups(quick)
    results = [
        compare(f"InceptionNet epoch on {samples} digits (width 0.125, blocks (1, 3, 0))",
                inception, repeats=repeats)
    ]
    batch, length, decoding = _decoding_setups(quick)
    results.append(compare(f"EncoderDecoder greedy decoding, batch {batch}, {length + 1} tokens",
                           decoding, repeats=repeats))
    return results
