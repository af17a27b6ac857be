"""A distributed KerasTuner search (tune_worker.py): a chief and two workers, one killed.

Shared by the TensorFlow test (tests/test_distribute.py) and the JAX one
(tests/test_distribute_jax.py): the same script, launched with another
KERAS_BACKEND.
"""

import json

import pytest

from tests.distributed.launch import free_ports, processes, wait_for_file


def check_distributed_search(tmp_path, timeout, env=None):
    """Runs the search with a worker killed mid-trial and restarted; checks every trial ran once."""
    env = env or {}

    (port,) = free_ports(1)
    base = {"KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": str(port)}
    with processes() as procs:
        procs.start("chief", "tune_worker.py", [tmp_path], {**base, **env, "KERASTUNER_TUNER_ID": "chief"},
                    tmp_path)
        for tuner in ["tuner0", "tuner1"]:
            procs.start(tuner, "tune_worker.py", [tmp_path],
                        {**base, **env, "KERASTUNER_TUNER_ID": tuner}, tmp_path)
        assert wait_for_file(tmp_path / "kill_me", timeout, list(procs.procs.values())), (
            procs.report())
        procs.kill("tuner1")
        procs.procs["tuner1_killed"] = procs.procs.pop("tuner1")
        procs.start("tuner1", "tune_worker.py", [tmp_path],
                    {**base, **env, "KERASTUNER_TUNER_ID": "tuner1"}, tmp_path)
        codes = procs.wait(["tuner0", "tuner1", "chief"], timeout)
        assert codes == {"tuner0": 0, "tuner1": 0, "chief": 0}, f"{codes}\n{procs.report()}"

    report = json.loads((tmp_path / "chief_report.json").read_text())
    records = [json.loads(line) for line in (tmp_path / "records.jsonl").read_text().splitlines()]
    ended = [r for r in records if r["event"] == "end"]
    begun = [r for r in records if r["event"] == "begin"]
    trials = report["trials"]
    # Every trial the oracle knows ran to completion exactly once: none lost, none duplicated.
    assert len(trials) == 4
    assert all(t["status"] == "COMPLETED" for t in trials.values()), trials
    assert sorted(r["trial"] for r in ended) == sorted(trials)
    assert {r["tuner"] for r in ended} == {"tuner0", "tuner1"}
    # The killed worker's trial was begun twice (killed, then resumed) by the same tuner id.
    killed = [r for r in begun if r["pid"] not in {e["pid"] for e in records if e["event"] == "done"}]
    assert len(killed) == 1 and killed[0]["tuner"] == "tuner1"
    resumed = [r for r in begun if r["trial"] == killed[0]["trial"]]
    assert [r["tuner"] for r in resumed] == ["tuner1", "tuner1"]
    # Scores the workers measured are those the oracle holds; the best is the oracle's best.
    for r in ended:
        assert trials[r["trial"]]["score"] == pytest.approx(r["score"], abs=1e-6)
    best = min(ended, key=lambda r: r["score"])
    assert report["best_trial"] == best["trial"]
    assert report["best_values"] == trials[best["trial"]]["values"]
    # The best model, reloaded from the shared directory, scores what the oracle reports.
    assert report["best_model_val_loss"] == pytest.approx(report["best_score"], abs=1e-5)
