"""Runs the `own_process` tests together in a new interpreter (see conftest.py).

Those tests create a MultiWorkerMirroredStrategy or their own MirroredStrategy,
or patch Keras' trainer: state that lives as long as the process, and would
break the collective ops of every later MirroredStrategy test in it.
"""

import os
import pathlib
import re
import subprocess
import sys

from tests.conftest import OWN_PROCESS_ENV

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_own_process_tests_pass_in_a_new_interpreter():
    env = {**os.environ, OWN_PROCESS_ENV: "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-m", "own_process", "-p", "no:cacheprovider",
         "-p", "no:xdist", "tests"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    summary = completed.stdout.strip().splitlines()[-1] if completed.stdout.strip() else ""
    assert completed.returncode == 0, completed.stdout[-6000:] + completed.stderr[-2000:]
    passed = re.search(r"(\d+) passed", summary)
    assert passed and int(passed.group(1)) >= 9, summary
