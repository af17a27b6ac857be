"""Runs every benchmark module in `benchmarks/` and writes `benchmarks/RESULTS.md`.

Each benchmark is a module `benchmarks/bench_*.py` with a `run(quick=False)`
function returning a list of `Comparison` objects or Markdown strings.
"""

import argparse
import datetime
import importlib
import pathlib
import sys

from benchmarks.timing import Comparison, machine_description

HERE = pathlib.Path(__file__).parent


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats (smoke run)")
    parser.add_argument("--only", default=None, help="run only bench_<ONLY>.py")
    parser.add_argument("--output", default=str(HERE / "RESULTS.md"))
    args = parser.parse_args(argv)

    modules = sorted(p.stem for p in HERE.glob("bench_*.py"))
    if args.only:
        modules = [m for m in modules if m == f"bench_{args.only}"]
    sections = [
        "# kerasext benchmarks",
        "",
        f"- date: {datetime.date.today().isoformat()}",
        f"- machine: {machine_description()}",
        f"- mode: {'quick (fewer repeats and epochs: a smoke run)' if args.quick else 'full'}",
        "- method: setups timed alternately in one process after a warm-up; medians and ratios "
        "(see `benchmarks/timing.py`).",
        "",
    ]
    for name in modules:
        module = importlib.import_module(f"benchmarks.{name}")
        print(f"== {name}", flush=True)
        sections.append(f"## {name.removeprefix('bench_')}\n")
        if module.__doc__:
            sections.append(module.__doc__.strip() + "\n")
        for item in module.run(quick=args.quick):
            text = item.to_markdown() if isinstance(item, Comparison) else str(item)
            print(text, flush=True)
            sections.append(text)
    pathlib.Path(args.output).write_text("\n".join(sections))
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
