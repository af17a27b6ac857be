"""kerasext.distribute: the Keras 3 multi-worker fix, and multi-worker training on localhost.

The fast tests check the fix in-process (idempotent, warns once, detection,
no change for other strategies). The slow tests start worker processes on
127.0.0.1 (tests/distributed/*.py), each a fresh Python, bounded in time and
killed on any outcome, and compare with a single-process run of the same code.
"""

import json
import tempfile
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasext import distribute
from tests.distributed.launch import free_ports, processes, tf_config

WORKER_TIMEOUT = 150  # seconds, per launch of workers


@pytest.fixture
def clean_keras():
    """Each test starts from the unpatched Keras trainer and leaves the process as it found it."""
    was_applied = bool(distribute._originals)
    distribute._remove_keras_multi_worker_fix()
    yield
    distribute._remove_keras_multi_worker_fix()
    if was_applied:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            distribute.apply_keras_multi_worker_fix()


def _trainer_functions():
    from keras.src.backend.tensorflow import trainer

    return trainer.TensorFlowTrainer._maybe_symbolic_build, trainer.reduce_per_replica


# ------------------------------------------------------------------------------------ fast


def test_apply_patches_each_needed_spot_once_and_warns_once(clean_keras):
    originals = _trainer_functions()
    needed = sorted(distribute._spots_needing_fix())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = distribute.apply_keras_multi_worker_fix()
        patched = _trainer_functions()
        second = distribute.apply_keras_multi_worker_fix()
    assert first == second == needed
    messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    if needed:
        assert len(messages) == 1 and "keras-team/keras#20585" in messages[0]
    else:
        assert messages == []
    # A second call wraps nothing again.
    assert _trainer_functions() == patched
    for before, after, spot in zip(originals, patched, ["maybe_symbolic_build", "reduce_per_replica"]):
        assert (after is not before) == (spot in needed)
        if spot in needed:
            assert after.__wrapped__ is before
    distribute._remove_keras_multi_worker_fix()
    assert _trainer_functions() == originals


def test_the_version_range_decides_which_releases_are_patched(monkeypatch):
    for spot in ("maybe_symbolic_build", "reduce_per_replica"):
        assert not distribute._version_needs_fix(spot, (2, 15, 0))  # Keras 2: not this trainer
        assert distribute._version_needs_fix(spot, (3, 0, 0))
        assert distribute._version_needs_fix(spot, (3, 15, 1))  # checked to fail
        monkeypatch.setitem(distribute._FIXED_IN, spot, (3, 17, 0))
        assert distribute._version_needs_fix(spot, (3, 16, 2))
        assert not distribute._version_needs_fix(spot, (3, 17, 0))
        assert not distribute._version_needs_fix(spot, (4, 0, 0))


def test_known_affected_keras_releases_are_detected():
    # Keras 3.0 to 3.15.1 were checked to fail (keras-team/keras#20585); the slow test
    # below runs plain Keras on two workers and fails once a release no longer does.
    if distribute._keras_release() <= distribute._LAST_CHECKED:
        assert distribute._spots_needing_fix() == {"maybe_symbolic_build", "reduce_per_replica"}


def test_fix_does_nothing_once_keras_no_longer_needs_it(clean_keras, monkeypatch):
    originals = _trainer_functions()
    for spot in ("maybe_symbolic_build", "reduce_per_replica"):
        monkeypatch.setitem(distribute._FIXED_IN, spot, (3, 0, 0))  # as if fixed upstream
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning either
        assert distribute.apply_keras_multi_worker_fix() == []
    assert _trainer_functions() == originals


def test_an_unchecked_newer_keras_is_patched_with_a_warning(clean_keras, monkeypatch):
    monkeypatch.setattr(distribute, "_keras_release", lambda: (99, 0, 0))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        patched = distribute.apply_keras_multi_worker_fix()
    distribute._remove_keras_multi_worker_fix()
    assert patched == ["maybe_symbolic_build", "reduce_per_replica"]
    messages = " ".join(str(w.message) for w in caught)
    assert "newer than the newest release checked" in messages
    assert "keras-team/keras#20585" in messages


def test_a_moved_keras_function_fails_loudly(clean_keras, monkeypatch):
    from keras.src.backend.tensorflow import trainer

    def reduce_per_replica(values, strategy):  # a changed signature
        return values

    monkeypatch.setattr(trainer, "reduce_per_replica", reduce_per_replica)
    with pytest.raises(RuntimeError, match=f"keras {keras.version()}.*keras-team/keras#20585"):
        distribute.apply_keras_multi_worker_fix()
    assert distribute._originals == {}


def _fit_evaluate_predict(strategy):
    keras.utils.set_random_seed(3)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(24, 4)).astype("float32")
    y = np.eye(3, dtype="float32")[rng.integers(0, 3, size=24)]
    with strategy.scope():
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
        model.compile("sgd", "categorical_crossentropy",
                      metrics=["accuracy", keras.metrics.F1Score(average=None)])
    logs = model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0).history
    evaluation = model.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    return logs, evaluation, model.predict(x, batch_size=8, verbose=0), model.get_weights()


STRATEGY_KINDS = ["default", "mirrored", "single_worker_mwms"]


def _strategy(kind):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "default":
            return tf.distribute.get_strategy()
        if kind == "mirrored":
            return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        return tf.distribute.MultiWorkerMirroredStrategy()  # no TF_CONFIG: one local worker


@pytest.mark.parametrize("reduction", ["auto", "mean", "first", "sum", "concat"])
@pytest.mark.own_process
def test_patched_reduce_hands_other_strategies_to_keras(clean_keras, reduction):
    from keras.src.backend.tensorflow import trainer

    original = trainer.reduce_per_replica
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        distribute.apply_keras_multi_worker_fix()
    patched = trainer.reduce_per_replica
    for name in STRATEGY_KINDS:
        strategy = _strategy(name)
        values = strategy.run(
            lambda: {"loss": tf.constant(2.0), "f1": tf.constant([0.5, 1.0]),
                     "batch": tf.ones((2, 3))}
        )
        want = original(values, strategy, reduction)
        got = patched(values, strategy, reduction)
        for key in want:
            np.testing.assert_array_equal(got[key], want[key], err_msg=f"{name} {key}")


@pytest.mark.slow
@pytest.mark.own_process
def test_fix_changes_nothing_for_other_strategies(clean_keras):
    # Without a strategy Keras never reaches the patched spots (no distribute strategy: no
    # symbolic build, a plain tensor to reduce); the two strategies below do.
    kinds = ["mirrored", "single_worker_mwms"]
    before = {name: _fit_evaluate_predict(_strategy(name)) for name in kinds}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        distribute.apply_keras_multi_worker_fix()
    after = {name: _fit_evaluate_predict(_strategy(name)) for name in kinds}
    for name in before:
        logs_b, eval_b, pred_b, weights_b = before[name]
        logs_a, eval_a, pred_a, weights_a = after[name]
        for key in logs_b:
            np.testing.assert_array_equal(logs_b[key], logs_a[key], err_msg=f"{name} {key}")
        for key in eval_b:
            np.testing.assert_array_equal(eval_b[key], eval_a[key], err_msg=f"{name} {key}")
        np.testing.assert_array_equal(pred_b, pred_a, err_msg=name)
        for w_b, w_a in zip(weights_b, weights_a):
            np.testing.assert_array_equal(w_b, w_a, err_msg=name)


@pytest.mark.own_process
def test_multi_worker_strategy_without_tf_config_is_one_local_worker(clean_keras, monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        strategy = distribute.multi_worker_strategy()
    assert isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
    assert not strategy.extended._in_multi_worker_mode()  # TensorFlow's own (private) answer
    assert not distribute._in_multi_worker_mode(strategy)
    assert sorted(distribute._originals) == sorted(distribute._spots_needing_fix())


def test_is_chief_asks_the_strategy():
    assert distribute.is_chief(tf.distribute.get_strategy()) is True


# ------------------------------------------------------------------------------------ slow


def _launch_workers(script, args_for, tmp_path, timeout=WORKER_TIMEOUT, count=2):
    """Runs `count` workers of one MWMS cluster to completion; returns their JSON results."""
    with processes() as procs:
        ports = free_ports(count)
        names = []
        for index in range(count):
            name = f"worker{index}"
            procs.start(name, script, args_for(index), {"TF_CONFIG": tf_config(ports, index)},
                        tmp_path)
            names.append(name)
        codes = procs.wait(names, timeout)
        assert all(code == 0 for code in codes.values()), f"{codes}\n{procs.report()}"
    return [json.loads((tmp_path / f"result{i}.json").read_text()) for i in range(count)]


@pytest.mark.slow
def test_plain_keras_fails_where_the_fix_succeeds(tmp_path):
    results = _launch_workers(
        "plain_keras_worker.py", lambda i: [tmp_path / f"result{i}.json"], tmp_path
    )
    needed = distribute._spots_needing_fix()
    # A single-process run of the same model with the same global batch.
    from tests.distributed import plain_keras_worker

    expected = plain_keras_worker.run(tf.distribute.get_strategy())
    for result in results:
        assert result["num_replicas"] == 2
        assert result["patched_on_import"] == []  # importing kerasext patches nothing
        if needed:
            # The behavioural check of the version range: plain Keras must still fail.
            assert "Attempt to convert a value (PerReplica" in result["plain"], (
                f"plain Keras {keras.version()} no longer fails on two workers "
                f"({result['plain']!r}): record it in kerasext.distribute._FIXED_IN"
            )
        else:
            assert result["plain"] == "ok"  # upstream fixed: the fix must do nothing
        assert sorted(result["patched"]) == sorted(needed)
        for key, values in expected["history"].items():
            np.testing.assert_allclose(result["history"][key], values, atol=1e-5, err_msg=key)
        for key, value in expected["evaluate"].items():
            np.testing.assert_allclose(result["evaluate"][key], value, atol=1e-5, err_msg=key)
        np.testing.assert_allclose(result["predict"], expected["predict"], atol=1e-5)
        for got, want in zip(result["weights"], expected["weights"]):
            np.testing.assert_allclose(got, want, atol=1e-4)


# Training with kerasext components on two workers, one of them killed and restarted.


@pytest.fixture(scope="module")
def killed_and_resumed(tmp_path_factory):
    """Runs tests/distributed/train_worker.py on two workers; worker 1 is killed mid-training.

    First launch: worker 1 stops in the middle of epoch KILL_EPOCH and is
    killed (SIGKILL), then the chief, as a cluster manager would restart the
    job. Second launch (new ports): the plain run resumes from the chief's
    BackupAndRestore backup, then a TrainStep run goes uninterrupted.
    """
    from tests.distributed import train_worker_constants as constants
    from tests.distributed.launch import wait_for_file

    shared = tmp_path_factory.mktemp("mwms")
    kill_me = shared / "kill_me"
    with processes() as procs:
        ports = free_ports(2)
        for index in range(2):
            procs.start(f"attempt1_worker{index}", "train_worker.py",
                        [shared, shared / f"attempt1_{index}.json"],
                        {"TF_CONFIG": tf_config(ports, index)}, shared)
        reached = wait_for_file(kill_me, WORKER_TIMEOUT, list(procs.procs.values()))
        assert reached, f"worker 1 never reached the kill point\n{procs.report()}"
        procs.kill("attempt1_worker1")
        procs.kill("attempt1_worker0")
        backups = sorted(p.name for p in (shared / "backup_plain").glob("ckpt-*"))
    with processes() as procs:
        ports = free_ports(2)
        for index in range(2):
            procs.start(f"attempt2_worker{index}", "train_worker.py",
                        [shared, shared / f"result{index}.json"],
                        {"TF_CONFIG": tf_config(ports, index)}, shared)
        codes = procs.wait(["attempt2_worker0", "attempt2_worker1"], WORKER_TIMEOUT)
        assert all(code == 0 for code in codes.values()), f"{codes}\n{procs.report()}"
    results = [json.loads((shared / f"result{i}.json").read_text()) for i in range(2)]
    return {"shared": shared, "results": results, "backups_at_kill": backups,
            "kill_epoch": constants.KILL_EPOCH}


@pytest.fixture(scope="module")
def single_process_reference():
    """The same two runs in this process, no strategy, the same global batch."""
    from tests.distributed import train_common

    out = {}
    for run in ["plain", "train_step"]:
        model = train_common.build_model(train_step=run == "train_step")
        with tempfile.TemporaryDirectory() as backup_dir:
            out[run] = train_common.fit(model, backup_dir)
    keras.backend.clear_session()
    return out


def _assert_same_run(got, want, epochs=None):
    """`got` equals `want`: metrics to 1e-5, weights to 1e-4 (optionally only the last epochs)."""
    for key, values in want["history"].items():
        values = values if epochs is None else values[-epochs:]
        np.testing.assert_allclose(got["history"][key], values, atol=1e-5, err_msg=key)
    for key, value in want["evaluate"].items():
        np.testing.assert_allclose(got["evaluate"][key], value, atol=1e-5, err_msg=key)
    assert got["best_epoch"] == want["best_epoch"]
    for index, (g, w) in enumerate(zip(got["weights"], want["weights"])):
        np.testing.assert_allclose(g, w, atol=1e-4, err_msg=f"weight {index}")


@pytest.mark.slow
def test_kerasext_training_on_two_workers_equals_one_process(killed_and_resumed,
                                                             single_process_reference):
    for result in killed_and_resumed["results"]:
        assert result["num_replicas"] == 2
        _assert_same_run(result["train_step"], single_process_reference["train_step"])
        # Per-class precision stays a vector of 3 values in every epoch's logs.
        assert np.shape(result["train_step"]["history"]["precision"]) == (4, 3)


@pytest.mark.slow
def test_worker_killed_mid_training_resumes_from_backup(killed_and_resumed,
                                                        single_process_reference):
    kill_epoch = killed_and_resumed["kill_epoch"]
    assert len(killed_and_resumed["backups_at_kill"]) == 1, killed_and_resumed["backups_at_kill"]
    assert killed_and_resumed["backups_at_kill"][0].startswith(f"ckpt-{kill_epoch:06d}")
    reference = single_process_reference["plain"]
    total_epochs = len(reference["history"]["loss"])
    for result in killed_and_resumed["results"]:
        assert not result["first_attempt"]
        resumed = result["plain"]
        assert len(resumed["history"]["loss"]) == total_epochs - kill_epoch
        _assert_same_run(resumed, reference, epochs=total_epochs - kill_epoch)


@pytest.mark.slow
def test_only_the_chief_writes_checkpoints_backups_logs_and_plots(killed_and_resumed):
    chief, worker = killed_and_resumed["results"]
    assert chief["chief"] and not worker["chief"]
    assert worker["writes"] == []
    written = set(chief["writes"])
    for run in ["plain", "train_step"]:
        assert f"ckpt/{run}.weights.h5" in written
        assert f"{run}_log.csv" in written
        assert f"{run}_history.png" in written
        assert any(path.startswith(f"backup_{run}/") for path in written)
        lines = (killed_and_resumed["shared"] / f"{run}_log.csv").read_text().splitlines()
        assert len(lines) == 1 + len(chief[run]["history"]["loss"])  # header + one row per epoch
    assert chief["backup_chief_only"] and worker["backup_chief_only"]


# Distributed tuning: a chief oracle and two workers, one killed and restarted.


@pytest.mark.slow
def test_distributed_tuning_runs_every_trial_once_despite_a_killed_worker(tmp_path):
    from tests.distributed.search_check import check_distributed_search

    check_distributed_search(tmp_path, WORKER_TIMEOUT)
