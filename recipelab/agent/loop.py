"""The Probe-Analyze-Refine loop (orchestration only).

Each step: apply pending directives -> rebuild the state from the memory -> the planner proposes ->
validate -> run the probes not already done -> record. Until the budget is spent, the planner says it
converged, or the user stops it; then the end game chooses the final recipe.

The jobs live in collaborators with explicit arguments: `ProbeRecorder` (every probe), `EndGame`
(final choice, test scoring), `DirectiveApplier` (steering), `OptunaDriver` (threshold search). Nothing
lives only in objects: a run killed at any point resumes from the memory, never re-runs a finished
probe, and re-runs an interrupted one once.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Console

from recipelab.agent.endgame import EndGame, Outcome
from recipelab.agent.fidelity import Ladder, successive_halving
from recipelab.agent.optuna_search import OptunaDriver, study_name
from recipelab.agent.plan import Plan, Proposal
from recipelab.agent.planners import Planner, make_planner
from recipelab.agent.recorder import ProbeRecorder
from recipelab.agent.space import PoolSpace
from recipelab.agent.state import SearchState, load_state
from recipelab.agent.steering import DirectiveApplier, StopRun
from recipelab.agent.surrogate import Surrogate
from recipelab.agent.validate import validate_plan
from recipelab.agent.warm_start import WarmStart, find_source, findings, stats_signature
from recipelab.config import SearchConfig
from recipelab.executors import Executor, ProbeEnv, ProbeEnvConfig, make_executor
from recipelab.memory import Memory
from recipelab.workspace import Workspace

__all__ = ["MAX_STEPS", "Outcome", "SearchLoop", "StopRun", "resume_config", "start_run"]

MAX_STEPS = 500  # a planner that never converges still ends


def start_run(memory: Memory, cfg: SearchConfig) -> str:
    """Record a new search run; returns its id (printed before any slow set-up)."""
    budget = {"probes": cfg.budget_probes, "minutes": cfg.budget_minutes, "tokens": cfg.budget_tokens}
    return memory.create_run(cfg.model_dump(mode="json"), budget)


def resume_config(memory: Memory, run_id: str) -> SearchConfig:
    """The configuration a run was started with, its probe budget as directives left it."""
    run = memory.get_run(run_id)
    if run is None:
        raise KeyError(f"no run {run_id!r} in {memory.path}")
    cfg = SearchConfig(**{k: v for k, v in run["config"].items() if k in SearchConfig.model_fields})
    budget = run.get("budget") or {}
    return cfg.model_copy(update={"budget_probes": int(budget.get("probes", cfg.budget_probes))})


class SearchLoop:
    """One search run. ``env`` and ``executor`` are where probes run (see `SearchLoop.build` for the
    usual construction from the configuration)."""

    def __init__(
        self,
        ws: Workspace,
        memory: Memory,
        run_id: str,
        cfg: SearchConfig,
        env: ProbeEnv,
        executor: Executor,
        *,
        console: Console | None = None,
        quiet: bool = False,
        on_update: Callable[[SearchLoop], None] | None = None,
    ) -> None:
        self.ws = ws
        self.mem = memory
        self.run_id = run_id
        self.cfg = cfg
        self.env = env
        self.executor = executor
        self.console = console or Console(stderr=True)
        self.quiet = quiet
        self.on_update = on_update
        self.run_dir = ws.run_dir(run_id)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.hypothesis = ""
        self.t_start = time.monotonic()
        run = memory.get_run(run_id) or {}
        self.elapsed_before = float((run.get("summary") or {}).get("elapsed_s", 0.0))
        self.directives = DirectiveApplier(memory, run_id, cfg.budget_probes)
        self.space: PoolSpace | None = None
        self.warm: WarmStart | None = None
        self.planner: Planner | None = None
        self.recorder: ProbeRecorder | None = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def build(
        cls,
        ws: Workspace,
        memory: Memory,
        run_id: str,
        cfg: SearchConfig,
        *,
        env: ProbeEnv | None = None,
        executor: Executor | None = None,
        **kw: Any,
    ) -> SearchLoop:
        """The loop of a recorded run; the probe environment and executor from the configuration unless
        given (tests give a synthetic environment). Bad data (unreadable, leaking with --on-leak fail, an
        unknown task) marks the run failed, with the reason in its log, before the error is re-raised."""
        if env is None:
            try:
                env = ProbeEnv.from_config(ProbeEnvConfig.for_run(cfg, ws, run_id), quiet=kw.get("quiet", False))
            except ValueError as e:
                memory.set_run_status(run_id, "failed")
                memory.log_event(run_id, "error", f"run failed: {e}")
                raise
        if executor is None:
            executor = make_executor(env, cfg.workers, kind=cfg.executor, ray_address=cfg.ray_address)
        return cls(ws, memory, run_id, cfg, env, executor, **kw)

    @classmethod
    def create(cls, ws: Workspace, memory: Memory, cfg: SearchConfig, **kw: Any) -> SearchLoop:
        return cls.build(ws, memory, start_run(memory, cfg), cfg, **kw)

    @classmethod
    def resume(cls, ws: Workspace, memory: Memory, run_id: str, **kw: Any) -> SearchLoop:
        cfg = resume_config(memory, run_id)
        n = memory.mark_interrupted(run_id)
        loop = cls.build(ws, memory, run_id, cfg, **kw)
        memory.log_event(run_id, "info", f"resumed; {n} interrupted probe(s) will be re-run")
        return loop

    @property
    def train_size(self) -> int:
        if self.cfg.probe.train_size:
            return self.cfg.probe.train_size
        return max(64, len(self.env.pool) // 3)

    @property
    def ladder(self) -> Ladder | None:
        """The fidelity ladder when this run screens with successive halving: the agent strategy only
        (baselines run as their authors describe them) and the clip task (whose probes checkpoint)."""
        if not self.cfg.multi_fidelity or self.cfg.strategy != "agent" or self.cfg.task != "clip":
            return None
        from recipelab.trainers.base import DEFAULT_PROBE

        steps = int(self.cfg.probe.steps or DEFAULT_PROBE["steps"])
        return Ladder.of(steps, self.cfg.fidelity_rungs, self.cfg.fidelity_eta)

    def base_spec(self) -> dict[str, Any]:
        spec = {"task": self.cfg.task, "train_size": self.train_size, **self.cfg.probe.spec_overrides()}
        ladder = self.ladder
        if ladder is not None and ladder.eval_steps():
            spec["eval_steps"] = ladder.eval_steps()  # full probes record their curve at the lower rungs
        return spec

    def prepare(self, ops: Sequence[str] | None = None) -> None:
        """Compute the candidate ops' stats (``ops`` or the configured candidates), then build the
        recorder and the planner."""
        t0 = time.perf_counter()
        self.space = PoolSpace(
            self.env.pool,
            self.ws.stats_cache(),
            ops=ops or self.cfg.ops,
            exclude=self.cfg.exclude_ops,
            workers=max(1, os.cpu_count() or 1),
            quiet=self.quiet,
        )
        self.recorder = ProbeRecorder(
            self.mem,
            self.run_id,
            self.env,
            self.space,
            self.executor,
            self.base_spec(),
            self.cfg.seed,
            self._update,
            checkpoint_dir=self.ws.cache_dir / "checkpoints",
        )
        self.planner = make_planner(self.cfg, self.mem, self.run_id, self.train_size)
        self._log_leaks()
        signature = stats_signature(self.space)
        self.mem.log_event(
            self.run_id,
            "info",
            (
                f"prepared in {time.perf_counter() - t0:.1f}s: pool {len(self.env.pool)} samples "
                f"({len(self.env.pool.rejects)} rejected), eval {len(self.env.splits['eval'])}, "
                f"{len(self.space.entries)} candidate ops, train size {self.train_size}, planner {self.planner.name}"
                + (f"; {self.ladder.describe()}" if self.ladder else "")
            ),
            {
                "pool_fingerprint": self.env.pool.fingerprint,
                "ops": list(self.space.entries),
                "stats_signature": signature,
                "fidelity_ladder": list(self.ladder.rungs) if self.ladder else None,
            },
        )
        if self.ladder is not None and self.cfg.executor == "ray" and self.cfg.ray_address:
            self.mem.log_event(
                self.run_id,
                "info",
                f"multi-fidelity probes keep their checkpoints under {self.ws.cache_dir / 'checkpoints'}: every Ray "
                "node must see that folder (a shared filesystem), or a promoted probe fails with 'cannot read "
                "checkpoint'",
            )
        self._warm_start(signature)

    def _warm_start(self, signature: dict[str, Any]) -> None:
        """Resolve the warm-start source once (kept in the run's config, so a resume uses the same one)
        and read its findings; says in the log what it reuses."""
        run = self.mem.get_run(self.run_id) or {}
        config = dict(run.get("config") or {})
        stored = config.get("warm_start_sources")
        if stored is None:
            src = find_source(
                self.mem, self.run_id, self.cfg.warm_start, self.cfg.task, self.env.pool.fingerprint, signature
            )
            stored = [] if src is None else [{"run": src[0], "same_pool": src[1], "distance": src[2]}]
            self.mem.update_run(self.run_id, config={**config, "warm_start_sources": stored})
            if src is None and self.cfg.warm_start == "auto":
                self.mem.log_event(self.run_id, "info", "warm start: no earlier run on this pool or a look-alike")
        if not stored:
            return
        s = stored[0]
        self.warm = findings(self.mem, s["run"], bool(s["same_pool"]), float(s["distance"]))
        self.mem.log_event(
            self.run_id,
            "info",
            self.warm.describe(),
            {
                "warm_start": {
                    "source_run": self.warm.source_run,
                    "same_pool": self.warm.same_pool,
                    "distance": self.warm.distance,
                    "recipes": [[c.model_dump(mode="json") for c in r.choices] for r in self.warm.recipes],
                    "effects": self.warm.effects,
                }
            },
        )

    def _log_leaks(self) -> None:
        for split, ids in self.env.leaks.items():
            msg = (
                f"dropped {len(ids)} pool row(s) whose image is byte-identical to a {split} image "
                f"(e.g. {', '.join(ids[:3])}); --on-leak fail refuses such a pool instead"
            )
            if not self.quiet:
                self.console.print(f"[yellow]warning:[/yellow] {msg}", highlight=False)
            self.mem.log_event(self.run_id, "info", msg, {"leak": {"split": split, "pool_ids": ids}})

    # ------------------------------------------------------------------ state
    def elapsed_s(self) -> float:
        return self.elapsed_before + (time.monotonic() - self.t_start)

    def state(self) -> SearchState:
        st = load_state(self.mem, self.run_id)
        st.warm = self.warm
        ladder = self.ladder
        if ladder is not None:
            st.unit_cost = ladder.unit_cost()
        return st

    def budget_left(self, state: SearchState) -> str | None:
        """None while the budget lasts, else the reason it is spent."""
        if state.remaining <= 0:
            return f"probe budget spent ({state.used}/{state.budget_probes})"
        if self.cfg.budget_minutes and self.elapsed_s() >= 60 * self.cfg.budget_minutes:
            return f"time budget spent ({self.elapsed_s() / 60:.1f}/{self.cfg.budget_minutes} min)"
        return None

    def apply_directives(self) -> None:
        self.directives.apply_pending()

    def _update(self) -> None:
        if self.on_update is not None:
            self.on_update(self)

    # ------------------------------------------------------------------ proposals
    def execute(self, plan: Plan, state: SearchState) -> int:
        """Run a plan's proposals within the remaining budget; returns how many new probes it added."""
        assert self.recorder is not None
        step = state.step + 1
        before = state.compute_used
        proposals = list(plan.proposals)
        ladder = self.ladder
        if ladder is not None:
            # Screens (one seed each) go up the fidelity ladder together: one successive-halving cohort.
            cohort = [p for p in proposals if p.kind == "recipe" and p.purpose.startswith("screen:") and p.seeds == 1]
            if len(cohort) >= 2:
                proposals = [p for p in proposals if p not in cohort]
                self.hypothesis = f"{len(cohort)} screens by successive halving ({ladder.describe()})"
                self._update()
                items = [(p.ops, p.first_seed, p.purpose) for p in cohort]
                successive_halving(self.recorder, items, step, ladder, lambda: self.state().remaining_compute)
        for prop in proposals:
            left = self.state().remaining
            if left <= 0:
                break
            self.hypothesis = prop.hypothesis or prop.purpose
            self._update()
            if prop.kind == "recipe":
                items = [(prop.ops, prop.first_seed + k, prop.purpose) for k in range(prop.seeds)]
                self.recorder.submit(items[:left], step)
            else:
                self.run_search(prop, step)
        return self.state().compute_used - before

    def run_search(self, prop: Proposal, step: int) -> int:
        assert self.recorder is not None

        def between_batches() -> set[str]:
            self.apply_directives()
            return set(self.state().steering.banned)

        driver = OptunaDriver(
            self.recorder,
            self.ws.optuna_storage,
            study_name(self.run_id, prop),
            seed=self.cfg.seed,
            remaining=lambda: self.state().remaining_compute,
            between_batches=between_batches,
            batch=self.cfg.workers,
            surrogate=self._surrogate(),
            ladder=self.ladder,
        )
        return driver.run(prop, step)

    def _surrogate(self) -> Surrogate | None:
        """The agent's threshold search uses a surrogate; baseline strategies run as their authors
        describe them (plain TPE), never with it."""
        if self.cfg.strategy != "agent" or not self.cfg.surrogate or self.space is None:
            return None
        return Surrogate(self.space, seed=self.cfg.seed)

    def validate(self, plan: Plan, state: SearchState) -> tuple[Plan, list[str]]:
        """Drop proposals that name unknown ops, bad params or banned ops (the LLM planner repairs first)."""
        assert self.space is not None
        return validate_plan(plan, self.space, frozenset(state.steering.banned))

    # ------------------------------------------------------------------ main
    def run(self) -> Outcome:
        """The whole search. Ctrl-C leaves the run resumable (re-raised); bad data marks it failed."""
        try:
            self.mem.set_run_status(self.run_id, "running")
            self.prepare()
            self.rerun_interrupted()
            reason = self._steps()
            self.mem.log_event(self.run_id, "decision", f"search ended: {reason}")
            return self.finish(reason)
        except KeyboardInterrupt:
            self.mem.set_run_status(self.run_id, "interrupted")
            self.mem.mark_interrupted(self.run_id)
            self.mem.log_event(self.run_id, "info", "interrupted by the user (Ctrl-C)")
            raise
        except ValueError as e:  # DataError, RecipeError, ConfigError... : one line, the run kept for review
            self.mem.set_run_status(self.run_id, "failed")
            self.mem.log_event(self.run_id, "error", f"run failed: {e}")
            raise

    def _steps(self) -> str:
        assert self.planner is not None and self.space is not None
        idle = 0
        try:
            for _ in range(MAX_STEPS):
                self.apply_directives()
                state = self.state()
                spent = self.budget_left(state)
                if spent:
                    return spent
                plan = self.planner.propose(state, self.space)
                plan, errors = self.validate(plan, state)
                for err in errors:
                    self.mem.log_event(self.run_id, "error", f"dropped proposal: {err}")
                if errors and not plan.proposals and not plan.converged:
                    # Everything proposed was invalid (e.g. a ban arrived after the planner's evidence):
                    # spend the step on the shared end game instead of ending the run.
                    from recipelab.agent.planners.replicate import replication_plan

                    plan, _ = self.validate(replication_plan(state), state)
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
                    return "planner converged" if plan.converged else "planner proposed nothing"
                if self.execute(plan, state) <= 1e-9:
                    idle += 1
                    if idle >= 2:  # the planner keeps proposing what is already measured
                        return "the planner proposed only probes that are already done"
                else:
                    idle = 0
                self._save_elapsed()
        except StopRun as e:
            return f"stopped by the user ({e})"
        return "planner converged"

    def rerun_interrupted(self) -> None:
        """Probes cut off by a crash run once more, before any new planning (their recipes and seeds are
        in the memory); the search split is re-scored by ``finish``."""
        assert self.recorder is not None
        todo = [t for t in self.state().trials if t.status == "interrupted"]
        if todo:
            self.mem.log_event(
                self.run_id,
                "info",
                f"re-running {len(todo)} interrupted probe(s)",
                {"experiments": [t.id for t in todo]},
            )
            for t in todo:
                self.recorder.submit([(t.choices, t.seed_index, t.purpose)], t.step)

    def _save_elapsed(self) -> None:
        run = self.mem.get_run(self.run_id) or {}
        summary = dict(run.get("summary") or {})
        summary["elapsed_s"] = self.elapsed_s()
        self.mem.update_run(self.run_id, summary=summary)

    def finish(self, reason: str) -> Outcome:
        assert self.recorder is not None
        end = EndGame(
            self.recorder,
            self.run_dir,
            self.ws.best_recipe_path(self.run_id),
            self.ws.summary_path(self.run_id),
            test_seeds=self.cfg.test_seeds,
            has_test=bool(self.cfg.test),
            full_recipe_path=self.ws.full_recipe_path(self.run_id),
        )
        return end.finish(self.state(), reason, self.elapsed_s())

    def close(self) -> None:
        self.executor.close()
