"""Runs one benchmark module on every Keras backend and puts the results side by side.

The backend is read when Keras is first imported, so each backend runs in a
child process (`KERAS_BACKEND=<backend> python -m benchmarks.backends --child`),
which times the module's setups and prints them as JSON; this parent collects
them into one table per comparison, a row per backend and setup.

    python -m benchmarks.backends --only training [--quick] [--backends tensorflow,jax,torch]

The section is written to `benchmarks/RESULTS-backends-<module>.md` (or `--output`).
"""

import argparse
import datetime
import importlib
import json
import os
import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).parent
BACKENDS = ("tensorflow", "jax", "torch")
MARKER = "KERASEXT_BENCH_JSON "


def _child(module_name, quick):
    from benchmarks.timing import Comparison, machine_description

    module = importlib.import_module(f"benchmarks.bench_{module_name}")
    items = []
    for item in module.run(quick=quick):
        if isinstance(item, Comparison):
            items.append({"title": item.title, "names": item.names, "times": item.times,
                          "unit": item.unit})
    print(MARKER + json.dumps({"machine": machine_description(), "comparisons": items}),
          flush=True)


def collect(module_name, backends, quick):
    """Runs the module on each backend; returns {backend: {"machine", "comparisons"}}."""
    results = {}
    for backend in backends:
        print(f"== bench_{module_name} on {backend}", flush=True)
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
        command = [sys.executable, "-m", "benchmarks.backends", "--child", "--only", module_name]
        if quick:
            command.append("--quick")
        completed = subprocess.run(command, env=env, capture_output=True, text=True,
                                   cwd=HERE.parent)
        lines = [line for line in completed.stdout.splitlines() if line.startswith(MARKER)]
        if completed.returncode != 0 or not lines:
            results[backend] = {"error": (completed.stderr or completed.stdout)[-2000:]}
            print(f"   failed on {backend}:\n{results[backend]['error']}", flush=True)
            continue
        results[backend] = json.loads(lines[-1][len(MARKER):])
    return results


def to_markdown(module_name, results, quick):
    from benchmarks.timing import Comparison

    lines = [
        f"## {module_name} on every backend",
        "",
        f"- date: {datetime.date.today().isoformat()}",
        f"- mode: {'quick (fewer repeats: a smoke run)' if quick else 'full'}",
        "- method: each backend in its own process; within it, setups timed alternately after a "
        "warm-up (see `benchmarks/timing.py`); ratios are to the first setup of the same backend.",
    ]
    for backend, result in results.items():
        lines.append(f"- {backend}: {result.get('machine', 'failed: ' + result.get('error', ''))}")
    lines.append("")
    titles = []
    for result in results.values():
        for item in result.get("comparisons", []):
            if item["title"] not in titles:
                titles.append(item["title"])
    for title in titles:
        unit = next(item["unit"] for result in results.values()
                    for item in result.get("comparisons", []) if item["title"] == title)
        lines += [f"### {title}", "", f"| backend | setup | median ({unit}) | runs | ratio |",
                  "|---|---|---|---|---|"]
        for backend, result in results.items():
            for item in result.get("comparisons", []):
                if item["title"] != title:
                    continue
                comparison = Comparison(item["title"], item["names"], item["times"], item["unit"])
                for name in comparison.names:
                    lines.append(
                        f"| {backend} | {name} | {comparison.medians[name]:.4f} | "
                        f"{len(comparison.times[name])} | {comparison.ratios[name]:.3f} |"
                    )
        lines.append("")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", required=True, help="run bench_<ONLY>.py")
    parser.add_argument("--quick", action="store_true", help="fewer repeats (smoke run)")
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--output", default=None)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.only, args.quick)
        return 0
    results = collect(args.only, args.backends.split(","), args.quick)
    text = to_markdown(args.only, results, args.quick)
    output = pathlib.Path(args.output or HERE / f"RESULTS-backends-{args.only}.md")
    output.write_text(text)
    print(text)
    print(f"wrote {output}")
    return 0 if all("error" not in r for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
