"""The shared benchmark helper alternates setups and reports medians and ratios."""

import statistics

from benchmarks.timing import compare


def test_compare_alternates_and_reports_medians():
    calls = []
    reported = {"a": [9.0, 1.0, 2.0, 3.0], "b": [9.0, 2.0, 4.0, 6.0]}

    def setup(name):
        def run():
            calls.append(name)
            return reported[name][sum(c == name for c in calls) - 1]

        return run

    comparison = compare("t", {"a": setup("a"), "b": setup("b")}, repeats=3, warmup=1)
    # warm-up a b, then rounds a b / b a / a b: never the same order twice in a row.
    assert calls == ["a", "b", "a", "b", "b", "a", "a", "b"]
    assert comparison.times == {"a": [1.0, 2.0, 3.0], "b": [2.0, 4.0, 6.0]}
    assert comparison.medians == {"a": statistics.median([1.0, 2.0, 3.0]), "b": 4.0}
    assert comparison.ratios["b"] == 2.0
    table = comparison.to_markdown()
    assert "| b | 4.0000 | 3 | 2.000 |" in table
