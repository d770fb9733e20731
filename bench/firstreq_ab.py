"""A partial run of figure 8 for issue 14 (the first request after ready): main's gunicorn hook against this
branch's, interleaved on the same machine, gunicorn sync and gthread only, more runs than the full bench.

`python -m bench.firstreq_ab --before DIR [--runs N] [--out DIR]`: DIR holds the `entrypoint` package to
compare with (e.g. `git archive main entrypoint | tar -x -C DIR`); its rows run with PYTHONPATH=DIR, which
the worker's `--config=python:entrypoint.backends.gunicorn.hook` then imports ahead of the editable install.
Writes latest.json / latest.md in bench.run's format, marked partial.
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import sys
from pathlib import Path
from typing import Any

from bench import report, run
from bench.bigproject import EXAMPLE_PROJECT, Project
from bench.figures import web
from bench.harness import ROOT, Figure, Plan

BEFORE = " [main's hook]"
ROWS = ("prod-entry, gunicorn sync (warmup on)" + BEFORE, "prod-entry, gunicorn sync (warmup on)",
        "prod-entry, gunicorn gthread (warmup on)" + BEFORE, "prod-entry, gunicorn gthread (warmup on)",
        "gunicorn sync", "gunicorn gthread")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.firstreq_ab")
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=12)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "firstreq")
    args = parser.parse_args(argv)
    plan = Plan(smoke=False, first_request_runs=args.runs)
    plain_server = web.first_server

    def first_server(name: str, port: int, project: Project) -> tuple[list[str], dict[str, str], bool]:
        argv, env, workers = plain_server(name.removesuffix(BEFORE), port, project)
        if name.endswith(BEFORE):
            env["PYTHONPATH"] = str(args.before.resolve())
        return argv, env, workers

    web.first_server = first_server
    figure = Figure(8, "First request after ready vs a warm worker's after the same idle time (GET /healthz, new "
                    "connection each) — PARTIAL RUN: main's hook vs this branch's, interleaved",
                    "ms", "first ≤ 1.2× warm-after-idle with worker warmup, for gunicorn sync and gthread", args.runs)
    first: dict[str, list[float]] = {name: [] for name in ROWS}
    warm: dict[str, list[float]] = {name: [] for name in ROWS}
    load_before = run.load()
    for number in range(args.runs):
        for name in (ROWS if number % 2 == 0 else ROWS[::-1]):  # alternate the order against drift
            one, later = web.first_and_warm(name, EXAMPLE_PROJECT, plan)
            first[name].append(one)
            warm[name].append(later)
            print(f"run {number + 1}: {name}: first {one:.3f} warm {later:.3f}", file=sys.stderr, flush=True)
    ratios = {}
    for name in ROWS:
        figure.add(f"{name}: first", first[name], "prod-entry" if name.startswith("prod-entry") else "peer")
        figure.add(f"{name}: warm after idle", warm[name], "prod-entry" if name.startswith("prod-entry") else "peer")
        ratios[name] = figure.ratio(f"{name}: first / warm after idle", statistics.median(first[name]),
                                    statistics.median(warm[name]))
    ours = [name for name in ROWS if name.startswith("prod-entry") and not name.endswith(BEFORE)]
    figure.judge(all(ratios[name] <= 1.2 for name in ours),
                 ", ".join(f"{name} {ratios[name]:.2f}×" for name in ROWS))
    figure.notes.append(
        f"PARTIAL RUN (figure 8's gunicorn rows only, the example project, {args.runs} runs per row, rows "
        "interleaved with the order reversed every other run): rows marked [main's hook] run main's "
        "entrypoint package, the others this branch's. Same method as bench/figures/web.py: the worker idle "
        f"(no CPU) for 0.3 s then {plan.request_idle:g} s before each request, the first after ready then "
        f"{plan.warm_requests} more (their median is 'warm after idle'), a new connection each, one worker.")
    result = figure.as_dict()
    result["load"] = [load_before, run.load()]
    results: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "smoke": False,
        "partial": "figure 8, gunicorn sync and gthread rows only; main's hook vs this branch's",
        "machine": {**run.machine(), "load_before": load_before, "load_after": run.load()}, "versions": run.versions(), "plan": vars(plan), "figures": [result]}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.json").write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    report.write(results, args.out)
    print(f"{figure.verdict}: {figure.detail}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
