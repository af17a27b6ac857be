"""The weight regularizer shared by the seed-architecture layers and models."""


def l1_l2(l1, l2):
    """A serialisable L1L2 regularizer, or None when both factors are zero."""
    import keras

    if not l1 and not l2:
        return None
    return keras.regularizers.L1L2(l1=float(l1), l2=float(l2))
