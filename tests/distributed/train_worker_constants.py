"""Where train_worker.py's worker 1 stops on its first attempt (shared with the tests)."""

KILL_EPOCH = 2
KILL_BATCH = 1
