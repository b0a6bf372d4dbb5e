"""The end game: choose the final recipe by lower confidence bound, write it, score it on the test split.

Kept apart from the loop so that every strategy (agent, baselines, a stopped run) ends the same way:
the recipe with the best lower bound of its eval interval (pooled seed noise), not a lucky single run.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from recipelab.agent import analysis
from recipelab.agent.plan import OpChoice
from recipelab.agent.recorder import ProbeRecorder
from recipelab.agent.state import SearchState, scoring_purpose
from recipelab.agent.surrogate import prediction_quality
from recipelab.export import export_recipe
from recipelab.recipes import prune_noops


@dataclass
class Outcome:
    run_id: str
    status: str
    summary: dict[str, Any]
    run_dir: Path


class EndGame:
    """Final choice and test scoring of one run.

    best_recipe_path / summary_path: where the final recipe (Data-Juicer YAML) and summary go;
    test_seeds: seeds of the final test-split scoring (0 or no test split: skipped).
    """

    def __init__(
        self,
        recorder: ProbeRecorder,
        run_dir: Path,
        best_recipe_path: Path,
        summary_path: Path,
        test_seeds: int,
        has_test: bool,
        full_recipe_path: Path | None = None,
    ) -> None:
        self.rec = recorder
        self.run_dir = run_dir
        self.best_recipe_path = best_recipe_path
        self.full_recipe_path = full_recipe_path or best_recipe_path.with_suffix(".recipelab.yaml")
        self.summary_path = summary_path
        self.test_seeds = test_seeds
        self.has_test = has_test

    def finish(self, state: SearchState, reason: str, elapsed_s: float) -> Outcome:
        mem, run_id, space = self.rec.mem, self.rec.run_id, self.rec.space
        pooled = analysis.noise_sd(state)
        banned = state.steering.banned
        ranked = [(c, lcb) for c, lcb in analysis.ranked(state) if not banned & set(c.trials[0].op_names)]
        base = analysis.baseline(state)
        summary: dict[str, Any] = {
            "reason": reason,
            "probes": state.used,
            "budget_probes": state.budget_probes,
            "noise_sd": pooled,
            "elapsed_s": elapsed_s,
        }
        if not ranked:
            mem.update_run(run_id, summary=summary)
            mem.set_run_status(run_id, "failed")
            return Outcome(run_id, "failed", summary, self.run_dir)
        best, lcb = ranked[0]
        lo, hi = best.interval(pooled)
        recipe = space.to_recipe(best.trials[0].choices)
        recipe.extra["recipelab"] = {
            "run": run_id,
            "eval_mean": round(best.mean, 5),
            "eval_ci90": [round(lo, 5), round(hi, 5)],
            "seeds": best.n,
        }
        kept = space.apply(recipe)
        probed = recipe.describe()
        pruned, dropped = prune_noops(recipe, kept)
        if dropped:  # the same kept set, checked, with fewer ops for a person to read
            check = space.apply(pruned)
            if np.array_equal(check.kept, kept.kept):
                recipe, kept = pruned, check
                recipe.extra["recipelab"]["dropped_noops"] = dropped
            else:
                dropped = []
        recipe.save(self.full_recipe_path)
        export = export_recipe(
            recipe, self.best_recipe_path, dataset=space.ds, cache=space.cache, provenance=recipe.extra["recipelab"]
        )
        summary["best"] = {
            "recipe_fp": best.recipe_fp,
            "description": recipe.describe(),
            "probed_description": probed,
            "dropped_noops": dropped,
            "purpose": best.purpose,
            "eval_mean": best.mean,
            "eval_ci90": [lo, hi],
            "eval_lcb": lcb,
            "seeds": best.n,
            "kept": kept.n_kept,
            "pool": space.n,
            "removed": [{"op": a, "removed": b} for a, b in kept.removed],
            "choices": [c.model_dump(mode="json") for c in best.trials[0].choices],
        }
        summary["baseline"] = {"eval_mean": base.mean, "seeds": base.n} if base else None
        summary["best_recipe"] = str(self.best_recipe_path)
        summary["best_recipe_full"] = str(self.full_recipe_path)
        summary["export"] = {
            "complete": export.complete,
            "left_out": [{"op": lo.name, "reason": lo.reason} for lo in export.left_out],
            "side_file": str(export.side_path) if export.side_path else None,
            "notes": export.notes,
        }
        mem.log_event(
            run_id,
            "decision",
            (
                f"final recipe: {recipe.describe()} — eval {best.mean:.4f} "
                f"(90% CI {lo:.4f}..{hi:.4f}, {best.n} seeds), "
                f"chosen by lower confidence bound {lcb:.4f}"
                + (
                    f"; dropped {len(dropped)} op(s) that removed nothing ({', '.join(dropped)}), same kept samples"
                    if dropped
                    else ""
                )
            ),
            summary["best"],
        )
        quality = prediction_quality(mem, run_id)
        if quality["n"]:
            summary["surrogate"] = {k: quality[k] for k in ("n", "spearman", "n_picks")}
            rho = quality["spearman"]
            what = (
                f"Spearman {rho:+.2f} between its predictions and the probes' results"
                if rho is not None and math.isfinite(rho)
                else "too few distinct results for a rank correlation"
            )
            mem.log_event(
                run_id,
                "info",
                f"surrogate: {what} over {quality['n']} search trial(s) ({quality['n_picks']} of them its own picks)",
                {"surrogate_quality": summary["surrogate"]},
            )
        if self.has_test and self.test_seeds > 0:
            summary["test"] = self.score_on_test(best.trials[0].choices, state.step + 1)
        mem.update_run(run_id, summary=summary)
        self.summary_path.write_text(json.dumps(summary, indent=2, default=str))
        mem.set_run_status(run_id, "done")
        return Outcome(run_id, "done", summary, self.run_dir)

    def score_on_test(self, choices: list[OpChoice], step: int) -> dict[str, Any]:
        """The final recipe and the no-filter baseline on the test split, same seeds (paired)."""
        out: dict[str, Any] = {}
        for name, ch in (("final", choices), ("baseline", [])):
            items = [(ch, k, scoring_purpose(name)) for k in range(self.test_seeds)]
            ids = self.rec.submit(items, step, split="test")
            vals = [v for v in (self.rec.value(i) for i in ids) if v is not None]
            out[name] = {
                "mean": float(np.mean(vals)) if vals else None,
                "std": float(np.std(vals, ddof=1)) if len(vals) > 1 else None,
                "seeds": len(vals),
            }
        if out["final"]["mean"] is not None and out["baseline"]["mean"] is not None:
            out["gain"] = out["final"]["mean"] - out["baseline"]["mean"]
        self.rec.mem.log_event(
            self.rec.run_id,
            "decision",
            "test split: "
            + ", ".join(
                f"{k} {v['mean']:.4f}" for k, v in out.items() if isinstance(v, dict) and v.get("mean") is not None
            ),
            out,
        )
        return out
