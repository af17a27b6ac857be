"""One of two JAX processes on localhost training a kerasext model under DataParallel.

Usage: jax_process_worker.py SHARED_DIR RESULT_JSON, with TF_CONFIG naming both
processes (kerasext.distribute.initialize_processes reads it). Each process has
one CPU device; the two form one mesh of two devices. Each feeds its part of
every global batch (`process_slice`, `auto_shard_dataset=False`). On the first
attempt (no SHARED_DIR/kill_me yet) process 1 stops at the start of epoch 1,
writes SHARED_DIR/kill_me and waits to be killed (process 0 waits for it in
the first collective); the test kills both and starts them again, and the
second attempt resumes from the chief's BackupAndRestore backup. Every file this process opens for writing
under SHARED_DIR is recorded, so the test can check that only process 0 writes.
"""

import os
import sys
import time

T0 = time.monotonic()
shared, result_path = sys.argv[1], sys.argv[2]

import kerasext as kx  # noqa: E402

process_id, num_processes = kx.distribute.initialize_processes()
print(f"[{time.monotonic() - T0:.1f}s] process {process_id} of {num_processes}", flush=True)

import jax  # noqa: E402
import keras  # noqa: E402

from tests.distributed import jax_common  # noqa: E402

writes = []


def _audit(event, args):
    path = None
    if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        mode, flags = str(args[1] or ""), args[2] or 0
        if any(c in mode for c in "wax+") or flags & (os.O_WRONLY | os.O_RDWR):
            path = args[0]
    elif event in ("os.rename", "os.replace"):
        path = args[1]
    elif event in ("os.mkdir", "os.remove", "os.rmdir"):
        path = args[0]
    if path is not None:
        path = os.fsdecode(path)
        if os.path.isabs(path) and path.startswith(shared):
            writes.append(os.path.relpath(path, shared))


sys.addaudithook(_audit)

keras.distribution.set_distribution(kx.distribute.jax_distribution(auto_shard_dataset=False))


def split(arrays):
    return kx.distribute.process_slice(arrays, jax_common.GLOBAL_BATCH)


class KillPoint(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        kill_me = os.path.join(shared, "kill_me")
        if epoch == 1 and process_id == 1 and not os.path.exists(kill_me):
            with open(kill_me, "w") as f:
                f.write(str(os.getpid()))
            time.sleep(600)


first_attempt = not os.path.exists(os.path.join(shared, "kill_me"))
result = jax_common.fit(
    "train_step", batch_size=jax_common.GLOBAL_BATCH // num_processes,
    backup_dir=os.path.join(shared, "backup"), split=split, callbacks=[KillPoint()],
)
result.update(first_attempt=first_attempt, process_id=process_id, num_processes=num_processes,
              devices=jax.device_count(), local_devices=jax.local_device_count(),
              chief=kx.distribute.is_chief(), writes=sorted(set(writes)))
jax_common.save(result, result_path)
print(f"[{time.monotonic() - T0:.1f}s] done", flush=True)
