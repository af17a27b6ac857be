"""Every example script runs to completion in its reduced (`--quick`) mode, offline.

Each runs in a fresh interpreter, as a user would run it, with its figures
written to a temporary folder.
"""

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = sorted(
    p for p in (ROOT / "examples").glob("*.py") if not p.name.startswith("_") and p.name != "tour.py"
)
TIMEOUT_S = 300


@pytest.mark.slow
@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_runs_quick(script, tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "MPLBACKEND": "Agg",
           "PYTHONPATH": str(ROOT)}
    completed = subprocess.run(
        [sys.executable, str(script), "--quick", "--out", str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=TIMEOUT_S,
    )
    assert completed.returncode == 0, (
        f"{script.name} --quick failed ({completed.returncode}):\n"
        f"{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}"
    )
    assert completed.stdout.strip(), f"{script.name} printed nothing"


@pytest.mark.slow
def test_tour_quick_writes_report_and_figures(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "MPLBACKEND": "Agg",
           "PYTHONPATH": str(ROOT)}
    completed = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "tour.py"), "--quick", "--out", str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=TIMEOUT_S,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = (tmp_path / "report.md").read_text()
    assert "| task |" in report
    for figure in sorted(tmp_path.glob("*.png")):
        assert figure.stat().st_size > 1000, f"{figure.name} is empty"
