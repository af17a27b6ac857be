"""describe(): every hyperparameter, inactive branches included, without training anything."""

import keras
import keras_tuner
import pytest

import kerasext as kx
from tests.tuning._helpers import tiny_cases


def _branchy_build(hp):
    """A plain keras-tuner build function that declares each branch's units only inside it."""
    kind = hp.Choice("kind", ["mlp", "wide"])
    model = keras.Sequential([keras.Input((4,))])
    if kind == "mlp":
        with hp.conditional_scope("kind", ["mlp"]):
            depth = hp.Int("depth", 1, 3)
            for i in range(depth):
                with hp.conditional_scope("depth", list(range(i + 1, 4))):
                    model.add(keras.layers.Dense(hp.Int(f"units_{i}", 8, 32, step=8)))
    else:
        with hp.conditional_scope("kind", ["wide"]):
            model.add(keras.layers.Dense(hp.Choice("width", [64, 128])))
    model.add(keras.layers.Dense(1))
    hp.Float("lr", 1e-4, 1e-2, sampling="log")
    return model


def test_finds_hyperparameters_declared_only_in_branches_not_taken():
    space = kx.tuning.describe(_branchy_build)
    rows = {row.name: row for row in space}
    # Only "kind", "depth", "units_0" and "lr" are declared by the defaults; the rest hide in
    # branches the defaults do not take (a deeper stack, the other kind).
    assert set(rows) == {"kind", "depth", "units_0", "units_1", "units_2", "width", "lr"}
    assert rows["width"].condition == "kind == 'wide'"
    assert rows["width"].range == "{64, 128}" and rows["width"].type == "Choice"
    assert rows["units_2"].condition == "kind == 'mlp' and depth == 3"
    assert rows["units_1"].condition == "kind == 'mlp' and depth in {2, 3}"
    assert rows["units_0"].range == "[8, 32] step 8" and rows["units_0"].default == 8
    assert rows["lr"].range == "[0.0001, 0.01] log" and rows["lr"].condition == "always"


def test_works_on_a_plain_keras_tuner_hypermodel():
    class Plain(keras_tuner.HyperModel):
        def build(self, hp):
            return _branchy_build(hp)

    assert kx.tuning.describe(Plain()).names == kx.tuning.describe(_branchy_build).names


@pytest.mark.parametrize("name", sorted(tiny_cases()))
def test_every_hypermodel_has_the_training_group_and_a_printable_table(name):
    factory, _, _ = tiny_cases()[name]
    space = kx.tuning.describe(factory())
    names = space.names
    for shared in ("optimizer", "learning_rate", "momentum", "batch_size"):
        assert shared in names
    assert space.get("momentum")[0].condition == "optimizer == 'sgd'"
    assert space.get("learning_rate")[0].range.endswith(" log")
    text = str(space)
    assert text.splitlines()[0].split() == ["name", "type", "range", "default", "condition"]
    assert len(text.splitlines()) == len(space) + 2
    markdown = space.to_markdown()
    assert markdown.count("\n") == len(space) + 2


def test_recurrent_units_depend_on_the_cell():
    space = kx.tuning.describe(kx.tuning.HyperRecurrentNet((10, 2), 2))
    assert space.get("simple_units")[0].condition == "cell == 'simple'"
    assert space.get("gated_units")[0].condition == "cell in {'lstm', 'gru'}"


def test_describe_trains_and_builds_nothing(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("describe must not build or train a model")

    monkeypatch.setattr(keras.Model, "fit", fail)
    monkeypatch.setattr(kx.models.ConvNet, "build", fail)
    assert "filters" in kx.tuning.describe(kx.tuning.HyperConvNet((8, 8), 3)).names


def test_rejects_what_is_not_a_hypermodel():
    with pytest.raises(TypeError, match="keras_tuner.HyperModel"):
        kx.tuning.describe(42)
