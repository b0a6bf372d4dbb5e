"""What in a strategy's final recipe carries its score? Paired ablations of finished searches' recipes.

`search_quality.py` says which strategy's final recipe scores higher; it does not say why. This script
takes the final recipes of a results file (rows of one scenario and strategy), changes them in one way
(``--drop``: every op of a kind or a named op left out; ``--add``: named ops appended), and trains the
recipe as found and as changed at probe scale on the test split, with the same test seeds as the search
(seed*1000 + k), so each change is a paired difference per search seed. Both sides are trained here, by
this invocation: a recipe read back from its description rounds thresholds to 4 significant digits, so
the row's own test score is not reused as the "as found" side.

Recipes come from the memory when the run is there (`strategy_transfer.final_recipe`), else from the row's
description (``op(param=value, ...) → ...``, as `Recipe.describe` writes it).

Resumable: each score is written to the results JSON as soon as it is measured, keyed by the ids the pool
kept, the spec and the test seed, and reused by a later invocation.

Run by hand (about 25 s per probe on one core of the 2-core machine):
`python benchmarks/recipe_ablation.py --results benchmarks/results/search_quality_no_mismatch_5seeds.json
--strategy optuna --drop dedup --root /work/sq-root`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

import search_quality as sq  # noqa: E402

from recipelab.agent.space import PoolSpace  # noqa: E402
from recipelab.evidence import t_half_width  # noqa: E402
from recipelab.executors import ProbeEnv, ProbeEnvConfig  # noqa: E402
from recipelab.operators.base import Deduplicator, Filter  # noqa: E402
from recipelab.operators.registry import get_op_class  # noqa: E402
from recipelab.recipes import OpSpec, Recipe  # noqa: E402
from recipelab.trainers.base import ProbeSpec  # noqa: E402
from recipelab.workspace import Workspace  # noqa: E402

RESULTS = Path(__file__).parent / "results"
_OP = re.compile(r"^\s*([a-z0-9_]+)\((.*)\)\s*$")


def parse_description(text: str) -> Recipe:
    """A recipe from `Recipe.describe`'s text: ``a_filter(min_x=1, max_x=2.5) → b_deduplicator()``."""
    if text.strip() == "(no filter)":
        return Recipe()
    ops = []
    for part in text.split("→"):
        m = _OP.match(part)
        if m is None:
            raise ValueError(f"cannot read op {part.strip()!r} of the recipe description")
        params: dict[str, Any] = {}
        for kv in filter(None, (x.strip() for x in m.group(2).split(","))):
            k, v = kv.split("=", 1)
            params[k] = float(v) if v not in ("inf", "-inf") else float(v)
            if params[k].is_integer() and "e" not in v and "." not in v:
                params[k] = int(params[k])
        ops.append(OpSpec(name=m.group(1), params=params))
    return Recipe(process=ops)


def kind_of(name: str) -> str:
    cls = get_op_class(name)
    return "dedup" if issubclass(cls, Deduplicator) else "filter" if issubclass(cls, Filter) else "other"


def change(recipe: Recipe, drop: list[str], add: list[str]) -> Recipe:
    """The recipe without the ops ``drop`` names (an op name, or a kind: ``dedup``, ``filter``) and with the
    ops ``add`` names appended (deduplicators last, as the searches place them), when not already in it."""
    ops = [o for o in recipe.process if o.name not in drop and kind_of(o.name) not in drop]
    have = {o.name for o in ops}
    ops += [OpSpec(name=n) for n in add if n not in have]
    ops.sort(key=lambda o: kind_of(o.name) == "dedup")  # stable: filters first, then deduplicators
    return Recipe(process=ops)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--results", type=Path, required=True, help="a search_quality results JSON")
    ap.add_argument("--scenario", default="no-mismatch")
    ap.add_argument("--strategy", default="optuna")
    ap.add_argument("--root", type=Path, default=Path(".recipelab-sq"))
    ap.add_argument("--drop", default="", help="comma-separated op names or kinds (dedup, filter) to leave out")
    ap.add_argument("--add", default="", help="comma-separated op names to append")
    ap.add_argument("--test-seeds", type=int, default=4)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    drop = [x for x in args.drop.split(",") if x]
    add = [x for x in args.add.split(",") if x]
    label = "; ".join([f"without {', '.join(drop)}"] * bool(drop) + [f"with {', '.join(add)}"] * bool(add))
    if not label:
        sys.exit("nothing to change: give --drop and/or --add")
    tag = re.sub(r"[^a-z0-9]+", "_", f"{args.strategy} {'-'.join(drop)} {'+'.join(add)}").strip("_")
    out = args.out or RESULTS / f"recipe_ablation_{args.scenario.replace('-', '_')}_{tag}"
    jpath = out.with_suffix(".json")
    doc: dict[str, Any] = json.loads(jpath.read_text()) if jpath.exists() else {}
    scores: dict[str, float] = doc.get("scores", {})
    sha = sq.commit()
    src = json.loads(args.results.read_text())
    rows = sorted(
        (r for r in src["rows"] if r["scenario"] == args.scenario and r["strategy"] == args.strategy),
        key=lambda r: r["seed"],
    )
    if not rows:
        sys.exit(f"{args.results}: no {args.strategy} rows for {args.scenario}")
    ws = Workspace.open(args.root / "ws")
    bench = sq.bench_dir(args.root, args.scenario, None)
    cfg = sq.search_config(bench, args.strategy, 0, rows[0]["budget"], args.test_seeds)
    env = ProbeEnv.from_config(ProbeEnvConfig.for_run(cfg, ws, "recipe-ablation"), quiet=True)
    pairs = []
    for r in rows:
        found = parse_description(r["recipe"])
        pairs.append((r, found, change(found, drop, add)))
    ops = sorted({o.name for _, a, b in pairs for o in a.process + b.process})
    space = PoolSpace(env.pool, ws.stats_cache(), ops=ops, quiet=True)
    base = {"task": cfg.task, "train_size": max(64, len(env.pool) // 3), **cfg.probe.spec_overrides()}
    spec_fp = hashlib.sha256(json.dumps(base, sort_keys=True).encode()).hexdigest()[:12]

    def ids_of(recipe: Recipe) -> list[str]:
        return [env.pool.samples[i].id for i in space.apply(recipe).kept_indices]

    def key(ids: list[str], seed: int) -> str:
        return f"{hashlib.sha256(chr(10).join(sorted(ids)).encode()).hexdigest()[:16]}:{spec_fp}:{seed}"

    jobs = []
    for r, a, b in pairs:
        ia, ib = ids_of(a), ids_of(b)
        for k in range(args.test_seeds):
            jobs += [(r["seed"], ia, r["seed"] * 1000 + k), (r["seed"], ib, r["seed"] * 1000 + k)]
    todo = [j for j in jobs if key(j[1], j[2]) not in scores]
    print(f"{len(todo)} probe(s) to run ({len(pairs)} recipes, {label})", flush=True)
    for n, (seed, ids, tseed) in enumerate(todo, 1):
        t0 = time.time()
        ps = ProbeSpec(**{**base, "train_ids": ids, "seed": tseed})
        fitted = env.trainer.fit(ps, env.pool.samples)
        metrics, _, _ = env.trainer.evaluate(fitted, env.splits["test"].samples)
        scores[key(ids, tseed)] = float(metrics[ps.primary_metric])
        doc["scores"] = scores
        jpath.parent.mkdir(parents=True, exist_ok=True)
        jpath.write_text(json.dumps(doc, indent=1))
        v = scores[key(ids, tseed)]
        print(f"[{n}/{len(todo)}] seed {seed} test seed {tseed}: {v:.4f} ({time.time() - t0:.0f} s)", flush=True)

    table = []
    for r, a, b in pairs:
        ia, ib = ids_of(a), ids_of(b)
        sa = [scores[key(ia, r["seed"] * 1000 + k)] for k in range(args.test_seeds)]
        sb = [scores[key(ib, r["seed"] * 1000 + k)] for k in range(args.test_seeds)]
        table.append(
            {"seed": r["seed"], "search_commit": r["commit"], "found": a.describe(), "changed": b.describe(),
             "kept_found": len(ia), "kept_changed": len(ib), "test_found": sa, "test_changed": sb,
             "diff": float(np.mean(sb) - np.mean(sa))}
        )  # fmt: skip
    d = np.array([t["diff"] for t in table])
    half = t_half_width(float(d.std(ddof=1)), len(d), 0.9) if len(d) > 1 else float("nan")
    doc.update({"format": 1, "commit": sha, "scenario": args.scenario, "strategy": args.strategy, "change": label,
                "source": str(args.results), "rows": table, "mean_diff": float(d.mean()),
                "interval": [float(d.mean() - half), float(d.mean() + half)]})  # fmt: skip
    jpath.write_text(json.dumps(doc, indent=1))
    verdict = "no measurable difference" if (d.mean() - half) <= 0 <= (d.mean() + half) else (
        "the change helps" if d.mean() > 0 else "the change hurts")  # fmt: skip
    md = [
        f"# Recipe ablation: {args.strategy}'s final recipes on `{args.scenario}`, {label}",
        "",
        f"Written at {sha} by `benchmarks/recipe_ablation.py` in one invocation; recipes from `{args.results.name}` "
        f"(their descriptions); both sides trained here at probe scale on the test split, {args.test_seeds} test "
        "seeds per search seed (seed*1000 + k), the same for both sides.",
        "",
        "| search seed | kept as found | kept changed | test as found | test changed | changed - found |",
        "|---:|---:|---:|---:|---:|---:|",
        *[
            f"| {t['seed']} | {t['kept_found']} | {t['kept_changed']} | {np.mean(t['test_found']):.4f} | "
            f"{np.mean(t['test_changed']):.4f} | {t['diff']:+.4f} |"
            for t in table
        ],
        "",
        f"Paired over {len(d)} search seeds: changed - found {d.mean():+.4f}, 90% interval "
        f"[{d.mean() - half:+.4f}, {d.mean() + half:+.4f}]: {verdict}.",
        "",
    ]
    out.with_suffix(".md").write_text("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
