"""One MultiWorkerMirroredStrategy worker of a kerasext training run.

Usage: train_worker.py SHARED_DIR RESULT_JSON

Runs train_common twice: the plain model (with BackupAndRestore), then the same
model wrapped in kerasext's TrainStep. On the first attempt (no
SHARED_DIR/kill_me yet) worker 1 stops in the middle of epoch KILL_EPOCH of the
plain run, writes SHARED_DIR/kill_me and waits for the test to kill it; the
test then restarts the cluster, which resumes from the chief's backup.

Every file opened for writing under SHARED_DIR is recorded in the result, so the
test can check that only the chief writes.
"""

import os
import sys
import time
from pathlib import Path

T0 = time.monotonic()

shared, result_path = Path(sys.argv[1]), sys.argv[2]

import kerasext as kx  # noqa: E402

# Created first: in multi-worker mode TensorFlow configures collectives once.
strategy = kx.distribute.multi_worker_strategy()
print(f"[{time.monotonic() - T0:.1f}s] strategy ready", flush=True)

import h5py  # noqa: E402
import keras  # noqa: E402
import matplotlib  # noqa: E402

from kerasext import plot  # noqa: E402

matplotlib.use("Agg")
from tests.distributed import train_common  # noqa: E402
from tests.distributed.train_worker_constants import KILL_BATCH, KILL_EPOCH  # noqa: E402

writes = []


def _record(path):
    path = os.fsdecode(path)
    # Relative names come with a dir_fd (shutil.rmtree of a temporary folder): not ours.
    if os.path.isabs(path) and path.startswith(str(shared)):
        writes.append(os.path.relpath(path, shared))


def _audit(event, args):
    if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        mode_, flags = str(args[1] or ""), args[2] or 0
        if any(c in mode_ for c in "wax+") or flags & (os.O_WRONLY | os.O_RDWR):
            _record(args[0])
    elif event in ("os.rename", "os.replace", "shutil.copyfile", "shutil.move"):
        _record(args[1])
    elif event in ("os.mkdir", "os.remove", "os.rmdir"):
        _record(args[0])


_h5_file_init = h5py.File.__init__


def _h5_init(self, name, mode="r", *args, **kwargs):
    if isinstance(name, (str, os.PathLike)) and mode != "r" and str(shared) in os.path.abspath(name):
        writes.append(os.path.relpath(os.fsdecode(name), shared))
    _h5_file_init(self, name, mode, *args, **kwargs)


backup_chief_only = train_common.backup_writes_only_on_chief()

h5py.File.__init__ = _h5_init
sys.addaudithook(_audit)


class KillPoint(keras.callbacks.Callback):
    """On the first attempt, worker 1 stops mid-epoch and waits to be killed."""

    def on_train_batch_begin(self, batch, logs=None):
        if self._epoch == KILL_EPOCH and batch == KILL_BATCH:
            (shared / "kill_me").write_text(str(os.getpid()))
            time.sleep(600)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch


chief = kx.distribute.is_chief(strategy)
result = {"chief": chief, "backup_chief_only": backup_chief_only, "num_replicas": strategy.num_replicas_in_sync,
          "task": os.environ["TF_CONFIG"]}
first_attempt = not (shared / "kill_me").exists()
result["first_attempt"] = first_attempt
for run in ["plain", "train_step"]:
    callbacks = []
    if chief:
        (shared / "ckpt").mkdir(exist_ok=True)
        callbacks += [
            keras.callbacks.ModelCheckpoint(str(shared / "ckpt" / f"{run}.weights.h5"),
                                            save_weights_only=True),
            keras.callbacks.CSVLogger(str(shared / f"{run}_log.csv")),
        ]
    if run == "plain" and first_attempt and not chief:
        callbacks.append(KillPoint())
    with strategy.scope():
        model = train_common.build_model(train_step=run == "train_step")
    outcome = train_common.fit(model, shared / f"backup_{run}", callbacks)
    if chief:
        # plot_history draws scalar curves: leave out the per-class precision vector.
        scalars = {k: v for k, v in outcome["history"].items() if "precision" not in k}
        figure = plot.plot_history(scalars, title=run)
        figure.savefig(shared / f"{run}_history.png")
    result[run] = outcome
    print(f"[{time.monotonic() - T0:.1f}s] {run} done", flush=True)
result["writes"] = sorted(set(writes))
train_common.save(result, result_path)
