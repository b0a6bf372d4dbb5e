"""The Probe-Analyze-Refine loop.

Each step: apply pending directives -> rebuild the state from the memory -> the planner proposes ->
validate -> run the probes not already done -> record. Until the budget is spent, the planner says it
converged, or the user stops it. Then: choose the final recipe by lower confidence bound, score it
on the test split, write ``best_recipe.yaml`` and ``summary.json``.

Nothing lives only in objects: a run killed at any point resumes from the memory, never re-runs a
finished probe, and re-runs an interrupted one once.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from recipelab.agent import analysis
from recipelab.agent.plan import OpChoice, Plan, Proposal
from recipelab.agent.probe_env import ProbeEnv
from recipelab.agent.space import PoolSpace
from recipelab.agent.state import SearchState, Trial, search_trials
from recipelab.agent.steering import DirectiveError, fold, validate_directive
from recipelab.config import SearchConfig
from recipelab.executors import InProcessExecutor, LocalPoolExecutor, ProbeJob
from recipelab.memory import Memory, experiment_fingerprint
from recipelab.recipes import RecipeError
from recipelab.trainers.base import ProbeSpec
from recipelab.workspace import Workspace

MAX_STEPS = 500  # a planner that never converges still ends


class StopRun(Exception):
    """The user asked to stop (directive)."""


@dataclass
class Outcome:
    run_id: str
    status: str
    summary: dict[str, Any]
    run_dir: Path


class SearchLoop:
    def __init__(
        self,
        ws: Workspace,
        memory: Memory,
        run_id: str,
        cfg: SearchConfig,
        console: Console | None = None,
        quiet: bool = False,
        on_update: Callable[[SearchLoop], None] | None = None,
    ) -> None:
        self.ws = ws
        self.mem = memory
        self.run_id = run_id
        self.cfg = cfg
        self.console = console or Console(stderr=True)
        self.quiet = quiet
        self.on_update = on_update
        self.run_dir = ws.runs_dir / run_id
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.hypothesis = ""
        self.t_start = time.monotonic()
        run = memory.get_run(run_id) or {}
        self.elapsed_before = float((run.get("summary") or {}).get("elapsed_s", 0.0))
        self.env: ProbeEnv | None = None
        self.space: PoolSpace | None = None
        self.executor: Any = None
        self.planner: Any = None

    # ------------------------------------------------------------------ set-up
    @classmethod
    def create(cls, ws: Workspace, memory: Memory, cfg: SearchConfig, **kw: Any) -> SearchLoop:
        budget = {"probes": cfg.budget_probes, "minutes": cfg.budget_minutes, "tokens": cfg.budget_tokens}
        run_id = memory.create_run(cfg.model_dump(mode="json"), budget)
        return cls(ws, memory, run_id, cfg, **kw)

    @classmethod
    def resume(cls, ws: Workspace, memory: Memory, run_id: str, **kw: Any) -> SearchLoop:
        run = memory.get_run(run_id)
        if run is None:
            raise KeyError(f"no run {run_id!r} in {memory.path}")
        cfg = SearchConfig(**run["config"])
        budget = run.get("budget") or {}
        cfg = cfg.model_copy(update={"budget_probes": int(budget.get("probes", cfg.budget_probes))})
        n = memory.mark_interrupted(run_id)
        loop = cls(ws, memory, run_id, cfg, **kw)
        memory.log_event(run_id, "info", f"resumed; {n} interrupted probe(s) will be re-run")
        return loop

    def env_config(self) -> dict[str, Any]:
        p = self.cfg.probe
        return {
            "cache_dir": str(self.ws.cache_dir),
            "data": self.cfg.data,
            "eval": self.cfg.eval,
            "test": self.cfg.test,
            "task": self.cfg.task,
            "image_size": p.image_size,
            "checkpoint": p.checkpoint,
            "device": p.device,
            "tokenizer_path": str(self.run_dir / "tokenizer.json"),
            "on_error": self.cfg.on_error,
        }

    def prepare(self, ops: Sequence[str] | None = None) -> None:
        """Build the probe environment, the recipe space (stats of ``ops`` or the configured candidates)
        and the planner."""
        from recipelab.agent.planners import make_planner

        t0 = time.perf_counter()
        if self.env is None:
            self.env = ProbeEnv.from_config(self.env_config(), quiet=self.quiet)
        self.space = PoolSpace(
            self.env.pool,
            self.ws.stats_cache(),
            ops=ops or self.cfg.ops,
            exclude=self.cfg.exclude_ops,
            workers=max(1, os.cpu_count() or 1),
            quiet=self.quiet,
        )
        if self.executor is None:
            if self.cfg.workers > 1:
                self.executor = LocalPoolExecutor(self.env_config(), self.cfg.workers)
            else:
                self.executor = InProcessExecutor(self.env)
        self.planner = make_planner(self.cfg, self.mem, self.run_id, self.train_size)
        self.mem.log_event(
            self.run_id,
            "info",
            (
                f"prepared in {time.perf_counter() - t0:.1f}s: pool {len(self.env.pool)} samples "
                f"({len(self.env.pool.rejects)} rejected), eval {len(self.env.splits['eval'])}, "
                f"{len(self.space.entries)} candidate ops, train size {self.train_size}, planner {self.planner.name}"
            ),
            {"pool_fingerprint": self.env.pool.fingerprint, "ops": list(self.space.entries)},
        )

    @property
    def train_size(self) -> int:
        assert self.env is not None
        if self.cfg.probe.train_size:
            return self.cfg.probe.train_size
        return max(64, len(self.env.pool) // 3)

    def base_spec(self) -> dict[str, Any]:
        return {"task": self.cfg.task, "train_size": self.train_size, **self.cfg.probe.spec_overrides()}

    # ------------------------------------------------------------------ state
    def elapsed_s(self) -> float:
        return self.elapsed_before + (time.monotonic() - self.t_start)

    def trials(self) -> list[Trial]:
        """The search's probes from the memory (test-split scoring is not part of the search)."""
        return search_trials(self.mem.experiments(self.run_id))

    def state(self) -> SearchState:
        run = self.mem.get_run(self.run_id) or {}
        budget = run.get("budget") or {}
        dirs = self.mem.directives(self.run_id)
        trials = self.trials()
        probed_queue = {
            int(t.purpose.split(":", 1)[1])
            for t in trials
            if t.purpose.startswith("user:") and t.purpose.split(":", 1)[1].isdigit()
        }
        steering = fold(dirs, probed_queue)
        step = max((t.step for t in trials), default=0)
        return SearchState(
            run_id=self.run_id,
            budget_probes=int(budget.get("probes", self.cfg.budget_probes)),
            trials=trials,
            steering=steering,
            step=step,
        )

    def tokens_used(self) -> int:
        total = 0
        for ev in self.mem.events(self.run_id, kinds="llm"):
            p = ev.get("payload") or {}
            total += int(p.get("total_tokens") or 0)
        return total

    def budget_left(self, state: SearchState) -> str | None:
        """None while the budget lasts, else the reason it is spent."""
        if state.remaining <= 0:
            return f"probe budget spent ({state.used}/{state.budget_probes})"
        if self.cfg.budget_minutes and self.elapsed_s() >= 60 * self.cfg.budget_minutes:
            return f"time budget spent ({self.elapsed_s() / 60:.1f}/{self.cfg.budget_minutes} min)"
        return None

    # ------------------------------------------------------------------ directives
    def apply_directives(self) -> None:
        """Apply pending directives; pause blocks here until resume or stop."""
        while True:
            paused = False
            for d in self.mem.pending_directives(self.run_id):
                kind, payload = d["kind"], d.get("payload") or {}
                try:
                    validate_directive(kind, payload)
                except (DirectiveError, ValueError) as e:
                    self.mem.resolve_directive(d["id"], "rejected", str(e))
                    self.mem.log_event(
                        self.run_id, "directive", f"rejected directive #{d['id']} {kind}: {e}", {"directive": d["id"]}
                    )
                    continue
                result = self._apply_one(kind, payload)
                self.mem.resolve_directive(d["id"], "applied", result)
                self.mem.log_event(
                    self.run_id,
                    "directive",
                    f"applied directive #{d['id']} {kind}: {result}",
                    {"directive": d["id"], "kind": kind, "payload": payload},
                )
                if kind == "stop":
                    raise StopRun(result)
                if kind == "pause":
                    paused = True
                if kind == "resume":
                    paused = False
            run = self.mem.get_run(self.run_id) or {}
            if not paused and run.get("status") != "paused":
                return
            if run.get("status") != "paused":
                self.mem.set_run_status(self.run_id, "paused")
            time.sleep(0.5)

    def _apply_one(self, kind: str, p: dict[str, Any]) -> str:
        if kind == "budget":
            run = self.mem.get_run(self.run_id) or {}
            budget = dict(run.get("budget") or {})
            old = int(budget.get("probes", self.cfg.budget_probes))
            new = int(p["set"]) if isinstance(p.get("set"), int) else old + int(p["delta"])
            budget["probes"] = max(0, new)
            self.mem.update_run(self.run_id, budget=budget)
            return f"probe budget {old} -> {budget['probes']}"
        if kind == "pause":
            self.mem.set_run_status(self.run_id, "paused")
            return "paused before the next planning step"
        if kind == "resume":
            self.mem.set_run_status(self.run_id, "running")
            return "resumed"
        if kind == "stop":
            return "stopping: choosing the final recipe from what is measured"
        if kind in ("ban", "unban", "pin", "unpin"):
            return f"{kind} {p['op']}: the planner {'will not use' if kind == 'ban' else 'will consider'} it"
        if kind == "range":
            return f"{p['op']}.{p['param']} limited to quantiles [{p['low_q']}, {p['high_q']}]"
        if kind == "note":
            return "noted for the planner"
        if kind == "queue":
            return f"queued a recipe of {len(p['ops'])} op(s) to probe next"
        return "ok"

    # ------------------------------------------------------------------ probes
    def seed_of(self, seed_index: int) -> int:
        return self.cfg.seed * 1000 + seed_index

    def submit(self, items: Sequence[tuple[list[OpChoice], int, str]], step: int, split: str = "eval") -> list[int]:
        """Record and run probes for (choices, seed index, purpose); returns experiment ids (done or failed).
        Probes already done in this run are skipped; those done in another run are reused (cache hit)."""
        assert self.space is not None and self.env is not None
        jobs: list[ProbeJob] = []
        ids: list[int] = []
        for choices, seed_index, purpose in items:
            try:
                recipe = self.space.to_recipe(choices)
            except (RecipeError, KeyError, ValueError) as e:
                self.mem.log_event(self.run_id, "error", f"invalid proposal {purpose}: {e}")
                ids.append(None)
                continue
            applied = self.space.apply(recipe)
            kept_ids = [self.env.pool.samples[i].id for i in applied.kept_indices]
            seed = self.seed_of(seed_index)
            spec = ProbeSpec(**self.base_spec(), seed=seed, train_ids=kept_ids)
            trainer_cfg = spec.model_dump(mode="json", exclude={"train_ids", "seed"})
            trainer_cfg["split"] = split
            fp = experiment_fingerprint(
                self.env.pool.fingerprint + ":" + self.env.splits[split].fingerprint
                if split in self.env.splits
                else self.env.pool.fingerprint,
                recipe.fingerprint(),
                trainer_cfg,
                seed,
                self.train_size,
            )
            existing = next((e for e in self.mem.experiments(self.run_id) if e["fingerprint"] == fp), None)
            if existing is not None and existing["status"] in ("done", "failed"):
                ids.append(existing["id"])
                continue
            meta = {
                "choices": [c.model_dump(mode="json") for c in choices],
                "seed_index": seed_index,
                "split": split,
                "probe": trainer_cfg,
                "removed": [{"op": a, "removed": b} for a, b in applied.removed],
            }
            if existing is None:
                hit = self.mem.find_done(fp)
                if hit is not None:
                    eid = self.mem.reuse_experiment(self.run_id, hit["id"], purpose=purpose, step=step)
                    self.mem.log_event(
                        self.run_id,
                        "probe",
                        f"cache hit for {purpose}: reused experiment #{hit['id']}",
                        {"experiment": eid, "source": hit["id"]},
                    )
                    ids.append(eid)
                    continue
                eid = self.mem.add_experiment(
                    self.run_id,
                    fp,
                    recipe=recipe.to_dj(),
                    recipe_fp=recipe.fingerprint(),
                    recipe_yaml=recipe.to_yaml(),
                    spec=meta,
                    seed=seed,
                    train_size=min(self.train_size, applied.n_kept),
                    kept_size=applied.n_kept,
                    purpose=purpose,
                    step=step,
                )
            else:
                eid = existing["id"]
            ids.append(eid)
            if applied.n_kept < spec.min_train_size:
                self.mem.start_experiment(eid)
                reason = f"recipe keeps {applied.n_kept} samples, fewer than the probe's minimum {spec.min_train_size}"
                self.mem.fail_experiment(eid, reason)
                self.mem.log_event(self.run_id, "probe", f"#{eid} {purpose}: failed: {reason}", {"experiment": eid})
                continue
            jobs.append(ProbeJob(key=eid, spec=spec, split=split))
        if jobs:
            for j in jobs:
                self.mem.start_experiment(j.key)
            for out in self.executor.run(jobs):
                eid = out.job.key
                exp = self.mem.get_experiment(eid) or {}
                if out.result is not None:
                    r = out.result
                    self.mem.finish_experiment(
                        eid,
                        r.metrics,
                        r.model_dump(mode="json"),
                        r.primary_metric,
                        wall_time_s=r.wall_time_s,
                        train_size=r.train_size,
                    )
                    flag = " (undersized)" if r.undersized else ""
                    self.mem.log_event(
                        self.run_id,
                        "probe",
                        (
                            f"#{eid} {exp.get('purpose')}: {r.primary_metric}={r.primary:.4f} "
                            f"kept={exp.get('kept_size')}{flag} in {r.wall_time_s:.1f}s"
                        ),
                        {
                            "experiment": eid,
                            "metrics": r.metrics,
                            "kept": exp.get("kept_size"),
                            "recipe_fp": exp.get("recipe_fp"),
                            "wall_time_s": r.wall_time_s,
                        },
                    )
                else:
                    self.mem.fail_experiment(eid, out.error or "unknown error")
                    self.mem.log_event(
                        self.run_id,
                        "error",
                        f"#{eid} {exp.get('purpose')}: probe failed: {out.error}",
                        {"experiment": eid},
                    )
                self._update()
        return ids

    def _update(self) -> None:
        if self.on_update is not None:
            self.on_update(self)

    # ------------------------------------------------------------------ proposals
    def execute(self, plan: Plan, state: SearchState) -> int:
        """Run a plan's proposals within the remaining budget; returns how many new probes it added."""
        step = state.step + 1
        before = state.used
        self._execute(plan, step)
        return self.state().used - before

    def _execute(self, plan: Plan, step: int) -> None:
        for prop in plan.proposals:
            left = self.state().remaining
            if left <= 0:
                break
            self.hypothesis = prop.hypothesis or prop.purpose
            self._update()
            if prop.kind == "recipe":
                items = [(prop.ops, prop.first_seed + k, prop.purpose) for k in range(prop.seeds)]
                self.submit(items[:left], step)
            else:
                self.run_search(prop, step)

    def run_search(self, prop: Proposal, step: int) -> int:
        from recipelab.agent import optuna_search as osr

        storage = self.optuna_storage()
        study = osr.open_study(storage, f"{self.run_id}:search", seed=self.cfg.seed)
        osr.enqueue_start(study, prop)
        n = 0
        # Reconcile trials left running by a crash: tell finished ones, re-run the others.
        for ft in osr.running_trials(study):
            choices = osr.choices_from_params(ft.params, prop)
            ids = self.submit([(choices, 0, f"search:{ft.number}")], step)
            self._tell(study, ft.number, ids)
            n += 1
        # Count new probes, not trials: TPE may suggest quantiles that give a recipe already measured
        # (ties in integer stats); such a trial is told the known result for free and another is asked.
        batch = max(1, self.cfg.workers)
        asked = 0
        while n < prop.n_trials and self.state().remaining > 0 and asked < 4 * prop.n_trials + 8:
            k = min(batch, prop.n_trials - n, self.state().remaining)
            trials = [study.ask() for _ in range(k)]
            asked += k
            before = self.state().used
            items = [(osr.suggest_choices(t, prop), 0, f"search:{t.number}") for t in trials]
            ids = self.submit(items, step)
            for t, eid in zip(trials, ids, strict=False):
                self._tell(study, t.number, [eid])
            n += self.state().used - before
            self.apply_directives()
            banned = self.state().steering.banned & {c.op for c in prop.ops}
            if banned:  # the user banned an op of this search: stop it, the planner re-plans without it
                self.mem.log_event(
                    self.run_id, "decision", f"search stopped: {', '.join(sorted(banned))} banned by the user"
                )
                break
        return n

    def _tell(self, study: Any, number: int, ids: list[int]) -> None:
        import optuna

        e = self.mem.get_experiment(ids[0]) if ids and ids[0] is not None else None
        v = e.get("primary_value") if e else None
        if v is not None and math.isfinite(v):
            study.tell(number, float(v))
        else:
            study.tell(number, state=optuna.trial.TrialState.FAIL)

    def optuna_storage(self) -> str:
        return f"sqlite:///{(self.ws.root / 'optuna.sqlite').resolve()}"

    # ------------------------------------------------------------------ validate
    def validate(self, plan: Plan, state: SearchState) -> tuple[Plan, list[str]]:
        """Drop proposals that name unknown ops, bad params or banned ops (the LLM planner repairs first)."""
        from recipelab.agent.validate import validate_plan

        assert self.space is not None
        return validate_plan(plan, self.space, frozenset(state.steering.banned))

    # ------------------------------------------------------------------ main
    def run(self) -> Outcome:
        self.mem.set_run_status(self.run_id, "running")
        self.prepare()
        self.rerun_interrupted()
        reason = "planner converged"
        idle = 0
        try:
            for _ in range(MAX_STEPS):
                self.apply_directives()
                state = self.state()
                spent = self.budget_left(state)
                if spent:
                    reason = spent
                    break
                plan = self.planner.propose(state, self.space)
                plan, errors = self.validate(plan, state)
                for err in errors:
                    self.mem.log_event(self.run_id, "error", f"dropped proposal: {err}")
                if errors and not plan.proposals and not plan.converged:
                    # Everything proposed was invalid (e.g. a ban arrived after the planner's evidence):
                    # spend the step on the shared end game instead of ending the run.
                    from recipelab.agent.planners.replicate import replication_plan

                    plan = replication_plan(state)
                    plan, _ = self.validate(plan, state)
                self.mem.log_event(
                    self.run_id,
                    "plan",
                    plan.rationale or "(no rationale)",
                    {
                        "planner": self.planner.name,
                        "step": state.step + 1,
                        "proposals": [p.model_dump(mode="json") for p in plan.proposals],
                        "converged": plan.converged,
                    },
                )
                if plan.converged or not plan.proposals:
                    reason = "planner converged" if plan.converged else "planner proposed nothing"
                    break
                if self.execute(plan, state) == 0:
                    idle += 1
                    if idle >= 2:  # the planner keeps proposing what is already measured
                        reason = "the planner proposed only probes that are already done"
                        break
                else:
                    idle = 0
                self._save_elapsed()
        except StopRun as e:
            reason = f"stopped by the user ({e})"
        self.mem.log_event(self.run_id, "decision", f"search ended: {reason}")
        return self.finish(reason)

    def rerun_interrupted(self) -> None:
        """Probes cut off by a crash run once more, before any new planning (their recipes and seeds are
        in the memory); the search split is re-scored by ``finish``."""
        todo = [t for t in self.trials() if t.status == "interrupted" and not t.purpose.startswith("test:")]
        if todo:
            self.mem.log_event(
                self.run_id,
                "info",
                f"re-running {len(todo)} interrupted probe(s)",
                {"experiments": [t.id for t in todo]},
            )
            for t in todo:
                self.submit([(t.choices, t.seed_index, t.purpose)], t.step)

    def _save_elapsed(self) -> None:
        run = self.mem.get_run(self.run_id) or {}
        summary = dict(run.get("summary") or {})
        summary["elapsed_s"] = self.elapsed_s()
        self.mem.update_run(self.run_id, summary=summary)

    def finish(self, reason: str) -> Outcome:
        assert self.space is not None and self.env is not None
        state = self.state()
        pooled = analysis.noise_sd(state)
        banned = state.steering.banned
        ranked = [(c, lcb) for c, lcb in analysis.ranked(state) if not banned & set(c.trials[0].op_names)]
        base = analysis.baseline(state)
        summary: dict[str, Any] = {
            "reason": reason,
            "probes": state.used,
            "budget_probes": state.budget_probes,
            "noise_sd": pooled,
            "elapsed_s": self.elapsed_s(),
        }
        if not ranked:
            self.mem.update_run(self.run_id, summary=summary)
            self.mem.set_run_status(self.run_id, "failed")
            return Outcome(self.run_id, "failed", summary, self.run_dir)
        best, lcb = ranked[0]
        lo, hi = best.interval(pooled)
        recipe = self.space.to_recipe(best.trials[0].choices)
        recipe.extra["recipelab"] = {
            "run": self.run_id,
            "eval_mean": round(best.mean, 5),
            "eval_ci90": [round(lo, 5), round(hi, 5)],
            "seeds": best.n,
        }
        recipe.save(self.run_dir / "best_recipe.yaml")
        kept = self.space.apply(recipe)
        summary.update(
            {
                "best": {
                    "recipe_fp": best.recipe_fp,
                    "description": recipe.describe(),
                    "purpose": best.purpose,
                    "eval_mean": best.mean,
                    "eval_ci90": [lo, hi],
                    "eval_lcb": lcb,
                    "seeds": best.n,
                    "kept": kept.n_kept,
                    "pool": self.space.n,
                    "removed": [{"op": a, "removed": b} for a, b in kept.removed],
                    "choices": [c.model_dump(mode="json") for c in best.trials[0].choices],
                },
                "baseline": {"eval_mean": base.mean, "seeds": base.n} if base else None,
                "best_recipe": str(self.run_dir / "best_recipe.yaml"),
            }
        )
        self.mem.log_event(
            self.run_id,
            "decision",
            (
                f"final recipe: {recipe.describe()} — eval {best.mean:.4f} "
                f"(90% CI {lo:.4f}..{hi:.4f}, {best.n} seeds), "
                f"chosen by lower confidence bound {lcb:.4f}"
            ),
            summary["best"],
        )
        if self.cfg.test and self.cfg.test_seeds > 0:
            summary["test"] = self.score_on_test(best.trials[0].choices, state.step + 1)
        self.mem.update_run(self.run_id, summary=summary)
        (self.run_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
        self.mem.set_run_status(self.run_id, "done")
        return Outcome(self.run_id, "done", summary, self.run_dir)

    def score_on_test(self, choices: list[OpChoice], step: int) -> dict[str, Any]:
        import numpy as np

        out: dict[str, Any] = {}
        for name, ch in (("final", choices), ("baseline", [])):
            ids = self.submit([(ch, k, f"test:{name}") for k in range(self.cfg.test_seeds)], step, split="test")
            vals = [
                e["primary_value"]
                for e in (self.mem.get_experiment(i) for i in ids if i is not None)
                if e and e.get("primary_value") is not None
            ]
            out[name] = {
                "mean": float(np.mean(vals)) if vals else None,
                "std": float(np.std(vals, ddof=1)) if len(vals) > 1 else None,
                "seeds": len(vals),
            }
        if out["final"]["mean"] is not None and out["baseline"]["mean"] is not None:
            out["gain"] = out["final"]["mean"] - out["baseline"]["mean"]
        self.mem.log_event(
            self.run_id,
            "decision",
            "test split: "
            + ", ".join(
                f"{k} {v['mean']:.4f}" for k, v in out.items() if isinstance(v, dict) and v.get("mean") is not None
            ),
            out,
        )
        return out

    def close(self) -> None:
        if self.executor is not None:
            self.executor.close()
