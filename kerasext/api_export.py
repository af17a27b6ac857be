"""The one registration decorator every public kerasext class goes through."""

import keras

#: Every class registered by `kerasext_export`, keyed by its registered name
#: ("kerasext>ClassName"). Tests walk it to check that each public class
#: passes the conformance harness and has a runnable docstring example.
REGISTERED = {}


def kerasext_export(cls):
    """Registers `cls` with Keras serialization under the package "kerasext".

    Applied once, at import, to every public class, so that
    `keras.saving.load_model(path)` finds kerasext objects with its default
    `safe_mode=True` and no `custom_objects`.

    Example:

    ```python
    import keras
    from kerasext.api_export import kerasext_export

    @kerasext_export
    class Scale(keras.layers.Layer):
        def call(self, x):
            return 2.0 * x

    assert keras.saving.get_registered_name(Scale) == "kerasext>Scale"
    ```
    """
    registered = keras.saving.register_keras_serializable(package="kerasext")(cls)
    REGISTERED[keras.saving.get_registered_name(registered)] = registered
    return registered
