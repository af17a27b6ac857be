"""Private Keras names kerasext must touch, in one place.

Each item says why it is needed and the versions it was checked on
(Keras 3.15.1, TensorFlow 2.21, jax 0.10, torch 2.13).
"""

import random

import keras
import numpy as np


def set_random_seed(seed):
    """Seeds Python, NumPy, Keras' global seed generator and the active backend.

    Equivalent to `keras.utils.set_random_seed(seed)` for everything Keras
    draws, except that TensorFlow is seeded only when it is the backend:
    Keras 3.15.1's version imports TensorFlow whenever it is installed,
    whatever the backend, which on a JAX or torch machine costs seconds and
    grabs GPU memory.

    Args:
        seed: an integer.
    """
    if keras.backend.backend() == "tensorflow":
        keras.utils.set_random_seed(seed)
        return
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ValueError(
            f"Expected `seed` argument to be an integer. Received: seed={seed!r} "
            f"(of type {type(seed)})"
        )
    # Private (checked on Keras 3.11-3.15): the global seed and generator that
    # keras.random and unseeded initializers draw from.
    from keras.src.backend.common import global_state
    from keras.src.random import seed_generator

    global_state.set_global_attribute("global_random_seed", seed)
    global_state.set_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR, None)
    random.seed(seed)
    np.random.seed(seed)
    if keras.backend.backend() == "torch":
        import torch

        torch.manual_seed(seed)
