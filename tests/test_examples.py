"""Every example script runs to completion in its reduced (`--quick`) mode, offline.

Each runs in a fresh interpreter, as a user would run it, with its figures
written to a temporary folder.
"""

import importlib.util
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = sorted(
    p for p in (ROOT / "examples").glob("*.py") if not p.name.startswith("_") and p.name != "tour.py"
)
TIMEOUT_S = 300
# Bounds on a saved figure, in pixels: a reader's screen, not a 23400-pixel strip.
MAX_WIDTH, MAX_HEIGHT = 2000, 1500


def _png_size(path):
    """(width, height) in pixels, read from the PNG header (no image library needed)."""
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is no PNG"
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


def _check_figures(folder):
    figures = sorted(folder.glob("*.png"))
    for figure in figures:
        assert figure.stat().st_size > 1000, f"{figure.name} is empty"
        width, height = _png_size(figure)
        assert width <= MAX_WIDTH and height <= MAX_HEIGHT, (figure.name, width, height)
    return figures


def _tour():
    spec = importlib.util.spec_from_file_location("kerasext_tour", ROOT / "examples" / "tour.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
    _check_figures(tmp_path)


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
    assert "untuned baseline" in report  # the tuned model is set against the baseline
    assert len(_check_figures(tmp_path)) == 3


def test_tour_words_a_transient_rise_as_no_overfitting():
    """The issue's run: GL fired at epoch 19 while the validation loss fell on to epoch 39."""
    val_loss = np.linspace(1.0, 0.2, 40)
    val_loss[19] = 1.3 * val_loss[18]  # one noisy epoch, > 5 % above the best so far
    text = _tour().describe_overfitting(val_loss, onset_epoch=19, criterion="gl")
    assert "lowest at epoch 39" in text and "epoch 19" in text
    assert "no lasting overfitting" in text and "onset" not in text


def test_tour_words_lasting_overfitting_and_none():
    tour = _tour()
    val_loss = [1.0, 0.6, 0.5, 0.55, 0.7, 0.9]
    text = tour.describe_overfitting(val_loss, onset_epoch=4, criterion="gl")
    assert "lowest at epoch 2" in text and "overfitting from epoch 4" in text
    text = tour.describe_overfitting([1.0, 0.5, 0.4], onset_epoch=None)
    assert "lowest at epoch 2" in text and "never fired" in text


def test_tour_sets_the_tuned_model_against_the_baseline():
    describe = _tour().describe_tuning
    # The numbers: 0.923 vs 0.965 on breast cancer's 143 test samples.
    text = describe(132 / 143, 138 / 143, 143)
    assert "0.965 for the untuned baseline" in text and "6 of 143 test samples fewer" in text
    assert "validation split" in text
    assert "same accuracy" in describe(0.965, 0.965, 143)
    assert describe(0.9, None, 143) == "test accuracy 0.900"
