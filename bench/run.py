"""The benchmark runner: `python -m bench.run [--smoke] [--only 1,4] [--runs N] [--out DIR]`.

Measures every figure (or those named), side by side with the peers, and writes DIR/latest.json (machine,
date, versions, run counts, medians and spread, raw samples), DIR/latest.md and DIR/figN.png. A figure
that cannot be measured is recorded as such with the reason, and the run exits 1; a missed goal is a
result, not a failure.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil

from bench import report
from bench.figures import init, logs, rollout, startup, web
from bench.harness import ROOT, BenchError, Plan, tool

FIGURES: dict[int, Callable[[Plan], dict[str, Any]]] = {
    1: startup.start_to_exec,
    2: startup.healthcheck,
    3: init.memory,
    4: init.signal_latency,
    5: init.reaping,
    6: init.idle_wakeups,
    7: web.time_to_ready,
    8: web.first_request,
    9: web.drain,
    10: rollout.figure,
    11: logs.json_logs,
}
TITLES = {1: "Start → exec overhead", 2: "healthcheck wall time", 3: "Supervisor memory as PID 1",
          4: "Signal forward latency", 5: "Reaping orphans", 6: "Idle wake-ups", 7: "Start to the first 200",
          8: "First request after ready", 9: "Graceful drain", 10: "Rolling restart behind HAProxy",
          11: "JSON logs' cost"}
# Figures that start a Docker engine and build the image (minutes): left out of the smoke run, which is part of
# `make test`; the container tier runs the same harness (tests/container/test_container_rollout.py).
NEEDS_DOCKER = {10}


def machine() -> dict[str, Any]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown CPU")
    os_name = next((line.split("=", 1)[1].strip('"') for line in Path("/etc/os-release").read_text().splitlines()
                    if line.startswith("PRETTY_NAME=")), platform.system())
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "kernel": platform.release(), "os": os_name, "python": platform.python_version()}


def first_line(argv: list[str]) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True)
    return (proc.stdout or proc.stderr).strip().splitlines()[0] if (proc.stdout or proc.stderr).strip() else "?"


def versions() -> dict[str, str]:
    found = {"prod-entry": metadata.version("prod-entry")}
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    if commit.returncode == 0:
        found["prod-entry"] += f" ({commit.stdout.strip()})"
    for program, flag in (("tini", "--version"), ("dumb-init", "--version"), ("curl", "--version"),
                          ("unshare", "--version"), ("haproxy", "-v")):
        try:
            match = re.search(r"\d+(\.\d+)+", first_line([tool(program), flag]))
            found[program] = match.group() if match else "?"
        except (BenchError, OSError):
            found[program] = "missing"
    for package in ("gunicorn", "django", "django-webserver", "psutil", "matplotlib"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "missing"
    found["python"] = platform.python_version()
    return found


def load() -> float:
    return round(os.getloadavg()[0], 2)


def measure(number: int, plan: Plan) -> dict[str, Any]:
    """One figure, with the machine's load around it; a failure becomes a figure marked as not measured."""
    before, began = load(), time.monotonic()
    try:
        figure = FIGURES[number](plan)
    except Exception as exc:  # recorded and reported: one broken figure must not hide the others
        detail = str(exc) if isinstance(exc, BenchError) else "".join(traceback.format_exception(exc))
        figure = {"id": number, "title": TITLES[number], "unit": "", "goal": "", "runs": 0, "verdict": "error",
                  "detail": "", "error": detail.strip(), "series": [], "ratios": [], "notes": []}
    figure["load"] = [before, load()]
    figure["seconds"] = round(time.monotonic() - began, 1)
    cores = os.cpu_count() or 1
    if max(figure["load"]) > cores and not plan.smoke:
        figure["notes"].append(f"The machine was busy (load average up to {max(figure['load'])} on {cores} "
                               "cores, from other processes): absolute times may be inflated; the ratios, "
                               "measured interleaved, less so.")
    return figure


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="every figure once, briefly (tests the harness)")
    parser.add_argument("--only", default="", help="comma-separated figure numbers (default: all)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results", help="where results go")
    parser.add_argument("--runs", type=int, default=0,
                        help="runs per series for every figure, in place of the plan's (a partial run)")
    args = parser.parse_args(argv)
    plan = Plan.smoke_plan() if args.smoke else Plan.full()
    if args.runs > 0:
        plan = dataclasses.replace(plan, **{name: args.runs for name in vars(plan) if name.endswith("_runs")})
    numbers = [int(n) for n in args.only.split(",") if n.strip()] or [
        n for n in FIGURES if not (plan.smoke and n in NEEDS_DOCKER)]
    if plan.smoke and not args.only:
        print(f"bench: smoke run: figure(s) {', '.join(map(str, sorted(NEEDS_DOCKER)))} left out (they need a "
              "Docker engine; run them with --only)", file=sys.stderr)
    args.out.mkdir(parents=True, exist_ok=True)

    results: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "smoke": plan.smoke, "machine": machine(), "versions": versions(), "plan": vars(plan), "figures": [],
        # a run of some figures, or with fewer runs than the plan's, is not the full benchmark: say so
        "partial": "" if plan.smoke or not (args.only or args.runs) else
        f"figure(s) {', '.join(map(str, numbers))} only" + (f", {args.runs} run(s) per series" if args.runs else ""),
    }
    results["machine"]["load_before"] = load()
    for number in numbers:
        print(f"bench: figure {number} ({TITLES[number]})...", file=sys.stderr, flush=True)
        figure = measure(number, plan)
        results["figures"].append(figure)
        outcome = figure["error"] if figure["verdict"] == "error" else f"{figure['verdict']} {figure['detail']}"
        print(f"bench: figure {number}: {outcome} ({figure['seconds']} s)", file=sys.stderr, flush=True)
    results["machine"]["load_after"] = load()

    (args.out / "latest.json").write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    written = report.write(results, args.out)
    print(f"bench: wrote {args.out / 'latest.json'}, " + ", ".join(str(p.name) for p in written), file=sys.stderr)
    failed = [f["id"] for f in results["figures"] if f["verdict"] == "error"]
    if failed:
        print(f"bench: figure(s) {', '.join(map(str, failed))} could not be measured (see latest.md)",
              file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
