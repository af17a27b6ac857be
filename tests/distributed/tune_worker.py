"""One process of a distributed KerasTuner search of a kerasext HyperModel.

Usage: tune_worker.py SHARED_DIR
Environment: KERASTUNER_TUNER_ID ("chief" for the oracle, else a worker id),
KERASTUNER_ORACLE_IP=127.0.0.1, KERASTUNER_ORACLE_PORT.

Workers append what they do to SHARED_DIR/records.jsonl (trial begun, trial
ended with the score the worker measured itself). On its first attempt (no
SHARED_DIR/kill_me yet), worker "tuner1" stops after the first epoch of its
first trial, writes SHARED_DIR/kill_me and waits to be killed. The chief
writes SHARED_DIR/chief_report.json once the search is over.
"""

import json
import os
import sys
import time
from pathlib import Path

shared = Path(sys.argv[1])
tuner_id = os.environ["KERASTUNER_TUNER_ID"]
MAX_TRIALS = 4
EPOCHS = 2

import keras  # noqa: E402
import keras_tuner  # noqa: E402
from keras_tuner.src.distribute import oracle_chief  # noqa: E402

import kerasext as kx  # noqa: E402
from tests.distributed import train_common  # noqa: E402


class _ShortSleeps:
    """The chief polls its workers every 20 s once the search is stopping; poll faster here."""

    def __getattr__(self, name):
        return getattr(time, name)

    @staticmethod
    def sleep(seconds):
        time.sleep(min(seconds, 0.2))


oracle_chief.time = _ShortSleeps()


def record(**entry):
    line = json.dumps({"tuner": tuner_id, "pid": os.getpid(), **entry}) + "\n"
    fd = os.open(shared / "records.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


class KillPoint(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if tuner_id == "tuner1" and not (shared / "kill_me").exists():
            (shared / "kill_me").write_text(str(os.getpid()))
            time.sleep(600)


class RecordingSearch(keras_tuner.RandomSearch):
    def on_trial_begin(self, trial):
        record(event="begin", trial=trial.trial_id)
        super().on_trial_begin(trial)

    def run_trial(self, trial, *args, **kwargs):
        histories = super().run_trial(trial, *args, **kwargs)
        self._score = min(min(h.history["val_loss"]) for h in histories)
        return histories

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        record(event="end", trial=trial.trial_id, status=str(trial.status), score=self._score)


hypermodel = kx.tuning.HyperLogisticRegression(
    train_common.FEATURES, num_classes=train_common.NUM_CLASSES, seed=0
)
tuner = RecordingSearch(
    hypermodel, objective="val_loss", max_trials=MAX_TRIALS, seed=1,
    directory=str(shared), project_name="search",
)
(x, y), (x_val, y_val) = train_common.data()
tuner.search(x, y, validation_data=(x_val, y_val), epochs=EPOCHS, batch_size=16, verbose=0,
             callbacks=[KillPoint()])
if tuner_id == "chief":
    oracle = tuner.oracle
    best = oracle.get_best_trials(1)[0]
    best_model = tuner.get_best_models(1)[0]
    evaluation = best_model.evaluate(x_val, y_val, batch_size=16, verbose=0, return_dict=True)
    report = {
        "trials": {tid: {"status": str(t.status), "score": t.score, "values": t.hyperparameters.values}
                   for tid, t in oracle.trials.items()},
        "best_trial": best.trial_id,
        "best_score": best.score,
        "best_values": best.hyperparameters.values,
        "best_model_val_loss": evaluation["loss"],
    }
    (shared / "chief_report.json").write_text(json.dumps(report))
else:
    record(event="done")
