"""Turns results (the dict written to latest.json) into the markdown table and one PNG plot per figure."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

COLORS = {"prod-entry": "#1f77b4", "peer": "#8c8c8c", "reference": "#d0d0d0"}
VERDICTS = {"met": "met", "missed": "**MISSED**", "no goal": "—", "error": "**NOT MEASURED**"}


def number(value: float) -> str:
    """Three significant digits, without scientific notation for the sizes seen here."""
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}" if abs(value) >= 1 else f"{value:.3g}"


def headline(figure: dict[str, Any]) -> str:
    """prod-entry's first series: median and interquartile range."""
    ours = next((s for s in figure["series"] if s["role"] == "prod-entry"), None)
    if ours is None:
        return ""
    return f"{number(ours['median'])} {figure['unit']} (IQR {number(ours['q1'])}–{number(ours['q3'])})"


def summary_table(results: dict[str, Any]) -> list[str]:
    """One row per figure: prod-entry's median, its ratio to the main peer, the goal, met or missed (the
    table README.md's Performance section carries)."""
    lines = ["| # | figure | prod-entry | ratio to peer | goal | verdict |", "|---|---|---|---|---|---|"]
    for figure in results["figures"]:
        ratio = figure["ratios"][0] if figure.get("ratios") else None
        ratio_text = f"{number(ratio['value'])}× ({ratio['name']})" if ratio else ""
        verdict = VERDICTS[figure["verdict"]]
        if figure["verdict"] == "error":
            verdict += ": " + figure["error"].strip().splitlines()[-1][:160]
        elif figure["detail"]:
            verdict += f": {figure['detail']}"
        lines.append(f"| {figure['id']} | {figure['title']} | {headline(figure)} | {ratio_text} | "
                     f"{figure['goal']} | {verdict} |")
    return lines


def markdown(results: dict[str, Any]) -> str:
    machine, versions = results["machine"], results["versions"]
    lines = [
        "# prod-entry benchmark",
        "",
        f"{results['date']} · {machine['cpu']} × {machine['cores']} cores, {machine['memory_gb']} GB · "
        f"{machine['os']}, kernel {machine['kernel']} · load average {machine['load_before']} before, "
        f"{machine['load_after']} after" + (" · **smoke run: the numbers mean nothing**" if results["smoke"] else "")
        + (f" · **partial run: {results['partial']}**" if results.get("partial") else ""),
        "",
        "Versions: " + ", ".join(f"{name} {version}" for name, version in versions.items()) + ".",
        "",
        "Every ratio compares programs measured in the same run, interleaved run by run. Medians; the spread "
        "is the interquartile range (IQR) and, per series below, p99 and min–max.",
        "",
        *summary_table(results),
    ]
    for figure in results["figures"]:
        lines += ["", f"## {figure['id']}. {figure['title']}", ""]
        if figure["verdict"] == "error":
            lines.append(f"Not measured: {figure['error']}")
            continue
        lines += [f"{figure['runs']} run(s) each; unit: {figure['unit']}. Plot: `fig{figure['id']}.png`.", "",
                  "| series | median | IQR | p99 | min–max | n |", "|---|---|---|---|---|---|"]
        for series in figure["series"]:
            extra = "".join(f"; {key} {value}" for key, value in series.items()
                            if key not in ("name", "role", "n", "median", "q1", "q3", "p99", "min", "max", "samples"))
            lines.append(f"| {series['name']}{extra} | {number(series['median'])} | {number(series['q1'])}–"
                         f"{number(series['q3'])} | {number(series['p99'])} | {number(series['min'])}–"
                         f"{number(series['max'])} | {series['n']} |")
        if figure["ratios"]:
            lines += ["", "Ratios: " + "; ".join(f"{r['name']} = {number(r['value'])}×" for r in figure["ratios"])
                      + "."]
        for note in figure["notes"]:
            lines += ["", note]
    return "\n".join(lines) + "\n"


def plot(figure: dict[str, Any], path: Path) -> None:
    """A box per series (a bar where there is one sample per series), prod-entry in colour, peers grey."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = figure["series"]
    names = [s["name"] for s in series]
    colors = [COLORS[s["role"]] for s in series]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(series) + 1.4))
    if all(len(s["samples"]) == 1 for s in series):
        ax.barh(names, [s["median"] for s in series], color=colors)
    else:
        boxes = ax.boxplot([s["samples"] for s in series], vert=False, patch_artist=True, showfliers=False,
                           medianprops={"color": "black"})
        ax.set_yticks(range(1, len(names) + 1), names)
        for box, color in zip(boxes["boxes"], colors):
            box.set_facecolor(color)
    ax.invert_yaxis()  # prod-entry (listed first) on top
    ax.set_xlabel(figure["unit"])
    ax.set_title(textwrap.fill(f"{figure['id']}. {figure['title']}", 80), fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write(results: dict[str, Any], out: Path) -> list[Path]:
    """latest.md and figN.png beside latest.json; returns the files written."""
    written = [out / "latest.md"]
    written[0].write_text(markdown(results))
    for figure in results["figures"]:
        if figure["verdict"] != "error":
            path = out / f"fig{figure['id']}.png"
            plot(figure, path)
            written.append(path)
    return written
