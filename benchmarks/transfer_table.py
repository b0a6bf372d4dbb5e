"""Renders the JSON of `recipelab transfer --json` as the markdown section of benchmarks/results/transfer.md.

Run by hand:
`python benchmarks/transfer_table.py TRANSFER.json TITLE SEARCH_CMD TRANSFER_CMD COMMIT >> results/transfer.md`.
Every number comes from the JSON; this only lays it out.
"""

from __future__ import annotations

import json
import sys


def section(path: str, title: str, cmd_search: str, cmd_transfer: str, commit: str) -> str:
    d = json.load(open(path))
    s = d["scale"]
    L = [
        f"## {title}",
        "",
        f"Commit {commit}. Commands (one core of the 2-core machine):",
        "",
        "```",
        cmd_search,
        cmd_transfer,
        "```",
        "",
    ]
    L.append(
        f"Scale-up: train size {s['probe_train_size']} -> {s['train_size']} (capped at what a recipe keeps), steps "
        f"{s['probe_steps']} -> {s['steps']}, model width x{s['model_scale']:g} "
        f"({', '.join(f'{k} {v[0]}->{v[1]}' for k, v in s['width'].items())}); {d['seeds']} seeds per recipe, "
        f"{d['probes']['total']} probes."
    )
    L += [
        "",
        "| rank | recipe (from) | kept | probe-scale mean (90% CI, seeds) | scale-up values | scale-up mean |",
        "|---:|---|---:|---|---|---:|",
    ]
    for r in d["recipes"]:
        ci = r["probe_ci90"]
        L.append(
            f"| {r['rank']} | {r['label']} ({r['source_purpose']}) | {r['kept']} | "
            f"{r['probe_mean']:.4f} ({ci[0]:.4f}..{ci[1]:.4f}, {r['probe_seeds']}) | "
            f"{', '.join(f'{v:.4f}' for v in r['scale_values'])} | {r['scale_mean']:.4f} |"
        )
    da = d["decision_accuracy"]
    sp = d["spearman"]
    L += ["", "| statistic | value | 90% interval (bootstrap over scale-up seeds) | n |", "|---|---:|---|---:|"]
    for k in ("all", "separated"):
        v = da[k]
        ci = v.get("ci90") or [float("nan")] * 2
        val = "n/a" if v["value"] is None else f"{v['value']:.2f}"
        civ = "n/a" if v["value"] is None else f"[{ci[0]:.2f}, {ci[1]:.2f}]"
        L.append(f"| decision accuracy, {k} pairs | {val} | {civ} | {v['n_pairs']} |")
    ci = sp.get("ci90") or [float("nan")] * 2
    L.append(f"| Spearman (probe vs scale-up means) | {sp['value']:+.2f} | [{ci[0]:+.2f}, {ci[1]:+.2f}] | {sp['n']} |")
    L += [
        "",
        "| pair | probe-scale difference | scale-up difference | order holds | separated at probe scale |",
        "|---|---:|---:|---|---|",
    ]
    for p in d["pairs"]:
        L.append(
            f"| {p['a']} vs {p['b']} | {p['probe_diff']:+.4f} | {p['scale_diff']:+.4f} | "
            f"{'yes' if p['agree'] == 1 else 'no'} | {'yes' if p['separated'] else 'no'} |"
        )
    return "\n".join(L) + "\n"


if __name__ == "__main__":
    print(section(*sys.argv[1:6]))
