"""Figure 11: what JSON logs cost. Requests per second of the example under `wrk` with every access line written
as a JSON record (PROD_ENTRY_LOG_FORMAT=json) against the server's own text access lines (text format with
PROD_ENTRY_ACCESS_LOG=1), the same server, same run, interleaved."""

from __future__ import annotations

import re
import subprocess
from typing import Any

from bench.harness import (EXAMPLE, PROD_ENTRY, BenchError, Figure, Plan, example_env, free_port, started, tool,
                           wait_for_200)

PATH = "/healthz"
SERVERS = {  # prod-entry backend -> the ARGS that make it one worker on loopback
    "gunicorn": '{"workers": 1}',
    "uvicorn": '{"workers": 1}',
}
FORMATS = {"text access log": "text", "JSON": "json"}


def requests_per_second(port: int, seconds: float) -> float:
    """wrk's Requests/sec over `seconds`, one thread, 8 connections."""
    done = subprocess.run([tool("wrk"), "-t1", "-c8", f"-d{max(1, round(seconds))}s", f"http://127.0.0.1:{port}{PATH}"],
                          capture_output=True, text=True, timeout=seconds + 60)
    found = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    if done.returncode != 0 or not found:
        raise BenchError(f"wrk did not report requests/sec (exit {done.returncode}): {done.stderr.strip()[-200:]}")
    return float(found.group(1))


def json_logs(plan: Plan) -> dict[str, Any]:
    figure = Figure(11, "Requests/s with JSON access records vs the server's text access log", "req/s",
                    "JSON ≤ 10 % slower than text", plan.log_runs)
    samples: dict[str, list[float]] = {f"{server}, {label}": [] for server in SERVERS for label in FORMATS}
    for _ in range(plan.log_runs):
        for server, args in SERVERS.items():
            for label, log_format in FORMATS.items():  # interleaved: the machine's noise falls on both alike
                port = free_port()
                env = example_env(PORT=str(port), PROD_ENTRY_PROCESS_WEB=server, PROD_ENTRY_PROCESS_WEB_ARGS=args,
                                  PROD_ENTRY_LOG_FORMAT=log_format, PROD_ENTRY_ACCESS_LOG="1")
                # The access lines go to a pipe nobody reads slowly: /dev/null, so that only writing them counts.
                with started([PROD_ENTRY, "web"], env, EXAMPLE) as proc:
                    wait_for_200(port, PATH, proc, timeout=60)
                    samples[f"{server}, {label}"].append(requests_per_second(port, plan.log_seconds))
    for name, values in samples.items():
        figure.add(name, values, "prod-entry" if name.endswith("JSON") else "peer")
    worst = float("inf")
    for server in SERVERS:
        ratio = figure.ratio(f"{server}: JSON / text", figure.get(f"{server}, JSON")["median"],
                             figure.get(f"{server}, text access log")["median"])
        worst = min(worst, ratio)
    figure.judge(worst >= 0.9, f"JSON at {worst:.2f}× the text access log's requests/s at worst (goal ≥ 0.90×)")
    figure.notes.append(f"wrk -t1 -c8 for {plan.log_seconds:g} s on {PATH}, one worker, output to /dev/null; "
                        "text = the server's own access lines (PROD_ENTRY_ACCESS_LOG=1), JSON = "
                        "PROD_ENTRY_LOG_FORMAT=json (prod-entry's access records with duration, user agent, request id).")
    return figure.as_dict()
