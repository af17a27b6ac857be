"""InceptionNet: a small GoogLeNet, optionally trained with auxiliary classifiers."""

import numbers

import keras
from keras import ops

from kerasext import _validation as v
from kerasext.api_export import kerasext_export
from kerasext.layers.inception_block import InceptionBlock
from kerasext.models._common import KerasextModel, output_dtype

#: GoogLeNet's table 1, one row per Inception module: (#1x1, #3x3 reduce, #3x3,
#: #5x5 reduce, #5x5, pool proj), grouped by stage (3a-3b, 4a-4e, 5a-5b).
GOOGLENET_STAGES = (
    ((64, 96, 128, 16, 32, 32), (128, 128, 192, 32, 96, 64)),
    (
        (192, 96, 208, 16, 48, 64),
        (160, 112, 224, 24, 64, 64),
        (128, 128, 256, 24, 64, 64),
        (112, 144, 288, 32, 64, 64),
        (256, 160, 320, 32, 128, 128),
    ),
    ((256, 160, 320, 32, 128, 128), (384, 192, 384, 48, 128, 128)),
)


def _scaled(filters, width_multiplier):
    return max(1, int(round(filters * width_multiplier)))


class _AuxiliaryClassifier(keras.layers.Layer):
    """GoogLeNet's side classifier: avg-pool 5x5/3, 1x1 conv, FC + ReLU, dropout 0.7, softmax."""

    def __init__(self, num_classes, conv_filters, dense_units, **kwargs):
        super().__init__(**kwargs)
        policy = self.dtype_policy
        # "same" padding: on small images stage 4 can be smaller than 5x5.
        self.pool = keras.layers.AveragePooling2D(5, strides=3, padding="same", dtype=policy,
                                                  name="pool")
        self.conv = keras.layers.Conv2D(conv_filters, 1, activation="relu", dtype=policy,
                                        name="conv")
        self.flatten = keras.layers.Flatten(dtype=policy, name="flatten")
        self.dense = keras.layers.Dense(dense_units, activation="relu", dtype=policy,
                                        name="dense")
        self.dropout = keras.layers.Dropout(0.7, dtype=policy, name="dropout")
        self.head = keras.layers.Dense(num_classes, activation="softmax",
                                       dtype=output_dtype(policy), name="head")

    def build(self, input_shape):
        shape = tuple(input_shape)
        for layer in (self.pool, self.conv, self.flatten, self.dense, self.head):
            layer.build(shape)
            shape = layer.compute_output_shape(shape)

    def call(self, inputs, training=None):
        x = self.flatten(self.conv(self.pool(inputs)))
        return self.head(self.dropout(self.dense(x), training=training))


class _LossFunction(keras.losses.Loss):
    """A loss function as a `keras.losses.Loss`: sample weights, reduction, tf.distribute scaling."""

    def __init__(self, function):
        super().__init__(name=getattr(function, "__name__", None))
        self.function = function

    def call(self, y_true, y_pred):
        return self.function(y_true, y_pred)


@kerasext_export
class InceptionNet(KerasextModel):
    """A small GoogLeNet (Inception v1) for small images, with optional auxiliary classifiers.

    A 3x3 convolution stem (small images need no early downsampling), then
    three stages of `InceptionBlock`s with the filter counts of GoogLeNet's
    table 1 (3a-3b, 4a-4e, 5a-5b) times `width_multiplier`, separated by 3x3
    max pooling with stride 2; then global average pooling, dropout (40% in
    the paper) and a softmax. `blocks_per_stage` keeps the first modules of
    each stage; `(2, 5, 2)` is GoogLeNet's full set of nine.

    With `aux_classifiers=True`, side classifiers (5x5/3 average pooling, a
    1x1 convolution, a ReLU dense layer, 70% dropout and a softmax, as in the
    paper) sit on the first and the second-to-last module of stage 4 (4a and
    4d in GoogLeNet). While training, their losses (the compiled loss applied
    to their predictions, with the same sample weights) are added to the
    main loss with weight `aux_loss_weight` (0.3 in the paper); the reported
    training `loss` is this total. Called with `training=True` (as Keras'
    train step calls it), such a model returns `(main, [auxiliary, ...])`,
    as torchvision's GoogLeNet does; `compute_loss` adds the auxiliary
    losses and `compute_metrics` reads the main head. `predict`, `evaluate`,
    calling the model otherwise and the saved model use only the main head.
    The training step is Keras' own, so loss scaling under mixed precision,
    sample weights, tf.distribute and every backend work as for any model.

    Args:
        num_classes: integer >= 2, number of classes.
        width_multiplier: factor on every filter count of table 1.
            Defaults to `0.25`.
        blocks_per_stage: number of Inception modules in stages 3, 4 and 5,
            at most `(2, 5, 2)`; stages 3 and 4 need at least one.
            Defaults to `(2, 5, 2)`.
        stem_filters: filters of the 3x3 stem convolution. Defaults to `32`.
        dropout: dropout rate in [0, 1) before the softmax. Defaults to `0.4`.
        aux_classifiers: whether to train with auxiliary classifiers.
            Defaults to `False`.
        aux_loss_weight: weight of each auxiliary loss. Defaults to `0.3`.
        **kwargs: base model keyword arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: images of shape `(batch_size, height, width, channels)` or
            `(batch_size, height, width)` (grayscale).
        training: whether dropout is active.

    Returns:
        Float32 class probabilities of shape `(batch_size, num_classes)`
        (the main head); with auxiliary classifiers and `training=True`,
        the tuple `(main, [auxiliary, ...])` of such probabilities.

    Example:

    ```python
    import numpy as np

    model = kx.models.InceptionNet(10, width_multiplier=0.0625, blocks_per_stage=(1, 2, 0),
                                   aux_classifiers=True)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    images = np.random.rand(16, 8, 8, 1).astype("float32")
    model.fit(images, np.arange(16) % 10, epochs=1, verbose=0)
    assert model.predict(images, verbose=0).shape == (16, 10)  # main head only
    ```

    Reference:
        Szegedy et al., "Going Deeper with Convolutions", CVPR 2015.
        https://arxiv.org/abs/1409.4842
    """

    _input_rank, _input_layout = 4, "(batch_size, height, width, channels)"
    _image_inputs_accepted = True

    def __init__(self, num_classes, width_multiplier=0.25, blocks_per_stage=(2, 5, 2),
                 stem_filters=32, dropout=0.4, aux_classifiers=False, aux_loss_weight=0.3,
                 **kwargs):
        super().__init__(**kwargs)
        v.check_num_classes(num_classes, allow_none=False)
        v.check_number("width_multiplier", width_multiplier, minimum=0, min_inclusive=False)
        counts = _as_tuple(blocks_per_stage)
        maximum = tuple(len(stage) for stage in GOOGLENET_STAGES)
        if (len(counts) != 3
                or any(isinstance(n, bool) or not isinstance(n, numbers.Integral) for n in counts)
                or counts[0] < 1 or counts[1] < 1
                or any(n > m for n, m in zip(counts, maximum))):
            raise v.invalid_argument(
                "blocks_per_stage", blocks_per_stage,
                f"three integers (stage 3, 4, 5) between (1, 1, 0) and {maximum}")
        v.check_positive_int("stem_filters", stem_filters)
        v.check_rate("dropout", dropout)
        v.check_non_negative("aux_loss_weight", aux_loss_weight)
        self.num_classes = num_classes
        self.width_multiplier = width_multiplier
        self.blocks_per_stage = blocks_per_stage
        self.stem_filters = stem_filters
        self.dropout = dropout
        self.aux_classifiers = bool(aux_classifiers)
        self.aux_loss_weight = aux_loss_weight

        policy = self.dtype_policy
        self.stem = keras.layers.Conv2D(stem_filters, 3, padding="same", activation="relu",
                                        dtype=policy, name="stem")
        self.stages = []
        for stage_index, (count, table) in enumerate(zip(counts, GOOGLENET_STAGES)):
            blocks = [
                InceptionBlock(*[_scaled(f, width_multiplier) for f in row], dtype=policy,
                               name=f"inception_{stage_index + 3}{'abcde'[i]}")
                for i, row in enumerate(table[:count])
            ]
            self.stages.append(blocks)
        self.stage_pools = [
            keras.layers.MaxPooling2D(3, strides=2, padding="same", dtype=policy,
                                      name=f"pool_{stage_index + 3}")
            for stage_index in range(2)
        ]
        # Paper: after 4a and 4d of five stage-4 modules, i.e. the first and
        # the second-to-last.
        self._aux_positions = sorted({0, max(counts[1] - 2, 0)}) if self.aux_classifiers else []
        self.auxiliary_heads = [
            _AuxiliaryClassifier(num_classes, _scaled(128, width_multiplier),
                                 _scaled(1024, width_multiplier), dtype=policy,
                                 name=f"aux_head_4{'abcde'[position]}")
            for position in self._aux_positions
        ]
        self.pool = keras.layers.GlobalAveragePooling2D(dtype=policy, name="global_pool")
        self.feature_dropout = keras.layers.Dropout(dropout, dtype=policy, name="dropout")
        self.head = keras.layers.Dense(num_classes, activation="softmax",
                                       dtype=output_dtype(policy), name="head")

    # ----------------------------------------------------------------- structure

    def _build_layers(self, input_shape):
        shape = input_shape
        self.stem.build(shape)
        shape = self.stem.compute_output_shape(shape)
        for stage_index, blocks in enumerate(self.stages):
            if stage_index and blocks:
                pool = self.stage_pools[stage_index - 1]
                pool.build(shape)
                shape = pool.compute_output_shape(shape)
            for block_index, block in enumerate(blocks):
                block.build(shape)
                shape = block.compute_output_shape(shape)
                if stage_index == 1 and block_index in self._aux_positions:
                    head = self.auxiliary_heads[self._aux_positions.index(block_index)]
                    head.build(shape)
        self.pool.build(shape)
        self.head.build(self.pool.compute_output_shape(shape))

    def _forward(self, inputs, training=None, auxiliary=False):
        x = self.stem(self._image_inputs(inputs))
        auxiliary_outputs = []
        for stage_index, blocks in enumerate(self.stages):
            if stage_index and blocks:
                x = self.stage_pools[stage_index - 1](x)
            for block_index, block in enumerate(blocks):
                x = block(x)
                if auxiliary and stage_index == 1 and block_index in self._aux_positions:
                    head = self.auxiliary_heads[self._aux_positions.index(block_index)]
                    auxiliary_outputs.append(head(x, training=training))
        outputs = self.head(self.feature_dropout(self.pool(x), training=training))
        return outputs, auxiliary_outputs

    def call(self, inputs, training=None):
        if training is True and self.auxiliary_heads:
            # Training with auxiliary classifiers (as torchvision's GoogLeNet):
            # (main, [auxiliary, ...]), which `compute_loss` and `compute_metrics` read.
            return self._forward(inputs, training=True, auxiliary=True)
        return self._forward(inputs, training=training)[0]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_classes)

    # ----------------------------------------------------------------- training

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The compiled loss of the main head, plus `aux_loss_weight` times each auxiliary one.

        Keras' train step (on every backend) calls the model with
        `training=True`, which gives `(main, [auxiliary, ...])` when there are
        auxiliary heads; `evaluate` calls it with `training=False` and gets the
        main head only, whose loss is the compiled loss alone. Each auxiliary
        loss is the compiled loss function applied to that head's
        predictions, with the same sample weights, reduction and
        tf.distribute scaling as the main one.
        """
        if not isinstance(y_pred, tuple):
            return super().compute_loss(x, y, y_pred, sample_weight, training=training)
        y_pred, auxiliary_outputs = y_pred
        loss = super().compute_loss(x, y, y_pred, sample_weight, training=training)
        auxiliary_loss = self._auxiliary_loss_function()
        if auxiliary_loss is not None:
            weight = ops.cast(self.aux_loss_weight, loss.dtype)
            for auxiliary in auxiliary_outputs:
                loss = loss + weight * ops.cast(auxiliary_loss(y, auxiliary, sample_weight),
                                                loss.dtype)
        return loss

    def _auxiliary_loss_function(self):
        """The compiled loss (`compile(loss=...)`) as a `keras.losses.Loss`; None without one."""
        loss = getattr(self, "loss", None)
        if isinstance(loss, (list, tuple)) and len(loss) == 1:
            loss = loss[0]
        if loss is None:
            return None
        if isinstance(loss, dict):
            raise ValueError(
                "InceptionNet has one output: compile it with one loss, not a dict. "
                f"Received: loss={loss!r}"
            )
        loss = keras.losses.get(loss)
        if not isinstance(loss, keras.losses.Loss):
            # As `compile` wraps a loss function: mean over the batch ("sum_over_batch_size").
            loss = _LossFunction(loss)
        return loss

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        if isinstance(y_pred, tuple):
            y_pred = y_pred[0]
        return super().compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "width_multiplier": self.width_multiplier,
            "blocks_per_stage": list(self.blocks_per_stage),
            "stem_filters": self.stem_filters,
            "dropout": self.dropout,
            "aux_classifiers": self.aux_classifiers,
            "aux_loss_weight": self.aux_loss_weight,
        }

    def get_layout_map(self, device_mesh, model_dim_name="model"):
        """The `keras.distribution.LayoutMap` that splits this model's large kernels.

        For `keras.distribution.ModelParallel` (JAX), in the manner of
        keras-hub's backbones: every convolution kernel (along its output channels) and the dense layers (along their units) are split along the `model_dim_name`
        axis of `device_mesh` (a dimension that the axis size does not divide
        stays whole: JAX shards evenly only); everything else is replicated,
        and the data is split along the mesh's other axis. Call it before the
        model is built, and set the distribution before building.

        Args:
            device_mesh: a `keras.distribution.DeviceMesh` with a
                `model_dim_name` axis.
            model_dim_name: the mesh axis to split kernels along. Defaults
                to `"model"`.

        Returns:
            A `keras.distribution.LayoutMap`.

        Example:

        ```python
        import keras

        model = kx.models.InceptionNet(10, width_multiplier=0.25)
        devices = keras.distribution.list_devices()
        mesh = keras.distribution.DeviceMesh((1, len(devices)), ["batch", "model"], devices)
        layout_map = model.get_layout_map(mesh)
        # keras.distribution.set_distribution(
        #     keras.distribution.ModelParallel(layout_map=layout_map))  # on JAX
        ```
        """
        from kerasext.distribute import _model_layout_map, _named_sublayers, _variable_pattern

        shards = {}
        for path, layer in _named_sublayers(self):
            if isinstance(layer, keras.layers.Conv2D):
                shards[_variable_pattern(f"{path}/kernel")] = (None, None, None, layer.filters)
            elif isinstance(layer, keras.layers.Dense) and path.endswith("/dense"):
                shards[_variable_pattern(f"{path}/kernel")] = (None, layer.units)
        return _model_layout_map(device_mesh, shards, model_dim_name)


def _as_tuple(value):
    try:
        return tuple(value)
    except TypeError:
        return (value,)
