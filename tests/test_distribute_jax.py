"""kerasext on JAX under keras.distribution: DataParallel, ModelParallel, two processes.

The multi-device checks run JAX in processes of their own (XLA_FLAGS, which
gives one process two host CPU devices, is read when JAX starts), so they run
in whichever pytest session collects them; they are not `cross_backend`, so
`make test` runs them once, in its TensorFlow session. One subprocess
(tests/distributed/jax_checks.py) runs every one-process check, each on one
device and under the distribution; two more (tests/distributed/
jax_process_worker.py) form a two-process job on 127.0.0.1, killed and
restarted once; and KerasTuner's chief / worker search runs with every process
on JAX. Every check compares with the one-device run or with scikit-learn.

The fast tests check the helpers of kerasext.distribute in this process.
"""

import importlib.util
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from sklearn.metrics import confusion_matrix, f1_score

import kerasext as kx
from kerasext import distribute
from tests.distributed.launch import ROOT, free_ports, processes, tf_config

TIMEOUT = 420  # seconds, per launch (JAX compiles slowly on 2 shared cores)
WEIGHT_ATOL = 1e-5  # float32 noise: a sum split over devices changes the rounding order

needs_jax = pytest.mark.skipif(importlib.util.find_spec("jax") is None,
                               reason="JAX is not installed")


# ------------------------------------------------------------------------------------ fast


@pytest.mark.parametrize("num_processes", [1, 2, 4])
def test_process_slice_rebuilds_every_global_batch(num_processes):
    x = np.arange(40).reshape(20, 2)
    y = np.arange(20)
    global_batch = 8
    parts = [distribute.process_slice((x, y), global_batch, process_id=p,
                                      num_processes=num_processes)
             for p in range(num_processes)]
    local_batch = global_batch // num_processes
    # What Keras does with auto_shard_dataset=False: each step joins the processes' batches.
    for step, start in enumerate(range(0, 20, global_batch)):
        size = min(global_batch, 20 - start) // num_processes
        first = step * local_batch
        joined_x = np.concatenate([px[first:first + size] for px, _ in parts])
        joined_y = np.concatenate([py[first:first + size] for _, py in parts])
        np.testing.assert_array_equal(joined_x, x[start:start + global_batch])
        np.testing.assert_array_equal(joined_y, y[start:start + global_batch])


def test_process_slice_refuses_batches_that_do_not_split():
    with pytest.raises(ValueError, match="global_batch_size"):
        distribute.process_slice(np.zeros(8), 3, process_id=0, num_processes=2)
    with pytest.raises(ValueError, match="does not split evenly"):
        distribute.process_slice(np.zeros(10), 4, process_id=0, num_processes=4)
    with pytest.raises(ValueError, match="one length"):
        distribute.process_slice((np.zeros(8), np.zeros(6)), 4, process_id=0, num_processes=2)


def test_tf_config_names_the_processes_chief_first(monkeypatch):
    cluster = {"chief": ["h0:1"], "worker": ["h1:2", "h2:3"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster,
                                                "task": {"type": "worker", "index": 1}}))
    assert distribute._from_tf_config() == ("h0:1,h1:2,h2:3", 3, 2)
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["a:1", "b:2"]},
                                                "task": {"type": "worker", "index": 0}}))
    assert distribute._from_tf_config() == ("a:1,b:2", 2, 0)
    monkeypatch.delenv("TF_CONFIG")
    assert distribute._from_tf_config() is None


@pytest.mark.parametrize("backend", ["tensorflow", "torch"])
def test_jax_helpers_say_what_to_use_on_other_backends(backend, monkeypatch):
    monkeypatch.setattr(keras.backend, "backend", lambda: backend)
    hint = "tf.distribute" if backend == "tensorflow" else "JAX backend only"
    calls = [lambda: distribute.jax_distribution(),
             lambda: distribute.initialize_processes("127.0.0.1:1", 2, 0)]
    for call in calls:
        with pytest.raises(RuntimeError, match=hint) as caught:
            call()
        assert repr(backend) in str(caught.value)
    # Nothing to join: nothing to refuse, on every backend.
    for name in ("TF_CONFIG", "KERAS_DISTRIBUTION_JOB_ADDRESSES",
                 "KERAS_DISTRIBUTION_NUM_PROCESSES", "KERAS_DISTRIBUTION_PROCESS_ID"):
        monkeypatch.delenv(name, raising=False)
    assert distribute.initialize_processes() == (0, 1)


LAYOUT_MODELS = {
    "TransformerClassifier": (
        lambda: kx.models.TransformerClassifier(30, 8, 3, embed_dim=8, num_heads=2, ff_dim=5,
                                                num_layers=1),
        np.ones((2, 8), "int32")),
    "TextCNN": (lambda: kx.models.TextCNN(30, 3, embed_dim=8, filters=4),
                np.ones((2, 8), "int32")),
    "EncoderDecoder": (lambda: kx.models.EncoderDecoder(30, 31, units=8, embed_dim=4),
                       (np.ones((2, 5), "int32"), np.ones((2, 4), "int32"))),
    "InceptionNet": (lambda: kx.models.InceptionNet(3, width_multiplier=0.125,
                                                    blocks_per_stage=(1, 1, 0),
                                                    stem_filters=8, aux_classifiers=True),
                     np.ones((1, 16, 16, 3), "float32")),
}


@pytest.mark.parametrize("name", sorted(LAYOUT_MODELS))
def test_layout_maps_name_real_kernels_and_split_only_even_dimensions(name):
    make, inputs = LAYOUT_MODELS[name]
    model = make()
    mesh = keras.distribution.DeviceMesh((1, 2), ["batch", "model"], ["cpu:0", "cpu:1"])
    layout_map = model.get_layout_map(mesh)  # before the model is built, as documented
    model(inputs)
    split = {}
    for variable in model.weights:
        layout = layout_map[variable.path]  # at most one pattern per path, or Keras raises
        if layout is None:
            continue
        assert len(layout.axes) == len(variable.shape), variable.path
        for size, axis in zip(variable.shape, layout.axes):
            if axis == "model":
                assert size % 2 == 0, (variable.path, variable.shape, layout.axes)
                split[variable.path] = layout.axes
    # The large kernels are split; each pattern names at least one real variable.
    assert len(split) >= 4, split
    for pattern in layout_map:
        assert any(layout_map[v.path] is layout_map[pattern] for v in model.weights), pattern


def test_layout_map_needs_a_model_axis():
    mesh = keras.distribution.DeviceMesh((2,), ["batch"], ["cpu:0", "cpu:1"])
    with pytest.raises(ValueError, match="no 'model' axis"):
        kx.models.TextCNN(30, 3).get_layout_map(mesh)


# ------------------------------------------------------------------------------------ slow


def _jax_env(**extra):
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(ROOT),
           "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1", "CUDA_VISIBLE_DEVICES": "",
           "JAX_PLATFORMS": "cpu", **extra}
    env.pop("TF_CONFIG", None) if "TF_CONFIG" not in extra else None
    return env


@pytest.fixture(scope="module")
def one_process_two_devices(tmp_path_factory):
    """Runs tests/distributed/jax_checks.py in one JAX process with two host CPU devices."""
    out = tmp_path_factory.mktemp("jax_checks") / "result.json"
    env = _jax_env(XLA_FLAGS="--xla_force_host_platform_device_count=2")
    completed = subprocess.run(
        [sys.executable, str(ROOT / "tests/distributed/jax_checks.py"),
         "data_parallel,model_parallel", str(out)],
        cwd=str(out.parent), env=env, capture_output=True, text=True, timeout=TIMEOUT,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-5000:]
    return json.loads(out.read_text())


def _assert_same_weights(got, want, what):
    assert len(got) == len(want), what
    for index, (g, w) in enumerate(zip(got, want)):
        np.testing.assert_allclose(g, w, atol=WEIGHT_ATOL, err_msg=f"{what}: weight {index}")


def _assert_same_run(got, want, what, epochs=None):
    for key, values in want["history"].items():
        values = values if epochs is None else values[-epochs:]
        np.testing.assert_allclose(got["history"][key], values, atol=1e-5, err_msg=f"{what} {key}")
    for key, value in want["evaluate"].items():
        np.testing.assert_allclose(got["evaluate"][key], value, atol=1e-5, err_msg=f"{what} {key}")
    assert got["best_epoch"] == want["best_epoch"], what
    assert got["stopped_epoch"] == want["stopped_epoch"], what
    _assert_same_weights(got["weights"], want["weights"], what)


@pytest.mark.slow
@needs_jax
def test_data_parallel_training_steps_equal_one_device(one_process_two_devices):
    result = one_process_two_devices["data_parallel"]
    assert result["devices"] == 2 and result["distribution"] == "DataParallel"
    assert result["is_chief"] is True
    from tests.distributed.jax_common import KINDS

    for kind in KINDS:
        one, two = result[kind]["one_device"], result[kind]["data_parallel"]
        # EarlyStopping(patience=1) stops both runs at the same epoch, and the train_step
        # run on two devices crashed at epoch 1 and was resumed by BackupAndRestore.
        epochs = len(two["history"]["loss"]) if kind == "train_step" else None
        _assert_same_run(two, one, kind, epochs=epochs)
    resumed = result["train_step"]["data_parallel"]
    assert len(resumed["history"]["loss"]) < len(result["train_step"]["one_device"]["history"]["loss"])


@pytest.mark.slow
@needs_jax
def test_data_parallel_metrics_equal_scikit_learn_on_the_whole_data(one_process_two_devices):
    from tests.distributed.jax_common import NUM_CLASSES, data

    _, (_, y_val) = data()
    for kind, runs in one_process_two_devices["data_parallel"].items():
        if not isinstance(runs, dict) or "data_parallel" not in runs:
            continue
        run = runs["data_parallel"]
        predicted = np.argmax(np.asarray(run["predict"]), axis=1)
        np.testing.assert_allclose(run["evaluate"]["f1"],
                                   f1_score(y_val, predicted, average="macro"), atol=1e-6,
                                   err_msg=kind)
        np.testing.assert_array_equal(
            run["evaluate"]["confusion"],
            confusion_matrix(y_val, predicted, labels=range(NUM_CLASSES)), err_msg=kind)


@pytest.mark.slow
@needs_jax
def test_model_parallel_layout_maps_train_to_the_one_device_weights(one_process_two_devices):
    result = one_process_two_devices["model_parallel"]
    assert sorted(result) == ["EncoderDecoder", "InceptionNet", "TextCNN",
                              "TransformerClassifier"]
    for name, runs in result.items():
        assert runs["mesh"] == [1, 2], name
        assert len(runs["model_parallel"]["sharded"]) >= 4, (name, runs["model_parallel"])
        np.testing.assert_allclose(runs["model_parallel"]["loss"], runs["one_device"]["loss"],
                                   atol=1e-5, err_msg=name)
        _assert_same_weights(runs["model_parallel"]["weights"], runs["one_device"]["weights"],
                             name)


def _launch_two_processes(procs, tmp_path, attempt):
    ports = free_ports(2)
    names = []
    for index in range(2):
        env = _jax_env(TF_CONFIG=tf_config(ports, index))
        name = f"attempt{attempt}_process{index}"
        procs.start(name, "jax_process_worker.py",
                    [tmp_path, tmp_path / f"attempt{attempt}_result{index}.json"],
                    {key: env[key] for key in ("KERAS_BACKEND", "TF_CONFIG", "JAX_PLATFORMS")},
                    tmp_path)
        names.append(name)
    return names


@pytest.mark.slow
@needs_jax
def test_two_processes_train_like_one_through_a_kill_and_only_process_0_writes(
        tmp_path, one_process_two_devices):
    from tests.distributed.launch import wait_for_file

    # First attempt: process 1 stops at the start of epoch 1; both are killed there, once
    # process 0's backup of epoch 0 is committed (as a cluster manager would restart the job).
    with processes() as procs:
        _launch_two_processes(procs, tmp_path, 1)
        live = list(procs.procs.values())
        assert wait_for_file(tmp_path / "kill_me", TIMEOUT, live), procs.report()
        assert wait_for_file(tmp_path / "backup" / "checkpoint.json", TIMEOUT, live), (
            procs.report())
    # Second attempt: resumes from the backup.
    with processes() as procs:
        names = _launch_two_processes(procs, tmp_path, 2)
        codes = procs.wait(names, TIMEOUT)
        assert all(code == 0 for code in codes.values()), f"{codes}\n{procs.report()}"
    results = [json.loads((tmp_path / f"attempt2_result{i}.json").read_text()) for i in range(2)]
    # The same run on one device, never interrupted (from the one-process fixture).
    reference = one_process_two_devices["data_parallel"]["train_step"]["one_device"]
    for index, result in enumerate(results):
        assert not result["first_attempt"]
        assert (result["process_id"], result["num_processes"]) == (index, 2)
        assert (result["devices"], result["local_devices"]) == (2, 1)
        assert result["chief"] == (index == 0)
        epochs = len(result["history"]["loss"])  # the epochs after the backup
        assert epochs < len(reference["history"]["loss"])
        _assert_same_run(result, reference, f"process {index}", epochs=epochs)
    assert results[1]["writes"] == []
    assert any(path.startswith("backup/") for path in results[0]["writes"])


@pytest.mark.slow
@needs_jax
def test_distributed_tuning_on_jax_runs_every_trial_once_despite_a_killed_worker(tmp_path):
    from tests.distributed.search_check import check_distributed_search

    # The TensorFlow test's search (tests/distributed/tune_worker.py), every process on JAX.
    check_distributed_search(tmp_path, TIMEOUT, env={"KERAS_BACKEND": "jax",
                                                     "JAX_PLATFORMS": "cpu"})
