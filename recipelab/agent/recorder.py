"""Probe recording: proposal -> recipe -> kept ids -> fingerprint -> memory -> executor -> memory.

The one path by which any probe is run (search steps, the Optuna driver, the end game's test scoring,
``recipelab probe``), so every probe is recorded the same way: a probe already done in this run is
never re-run, one done in another run with the same fingerprint is reused (a cache hit), a recipe that
keeps too few samples is recorded as failed without training.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from recipelab.agent.plan import OpChoice
from recipelab.agent.space import PoolSpace
from recipelab.executors import Executor, ProbeEnv, ProbeJob
from recipelab.memory import Memory, experiment_fingerprint
from recipelab.recipes import RecipeError
from recipelab.trainers.base import ProbeSpec
from recipelab.trainers.registry import model_fingerprint_config

#: (choices, seed index, purpose) of one probe to run.
ProbeItem = tuple[list[OpChoice], int, str]


class ProbeRecorder:
    """Runs and records probes of one run.

    base_spec: the run's `ProbeSpec` fields shared by every probe (task, train size, probe overrides);
    seed_base: probe seed = ``seed_base * 1000 + seed index`` (seed indices pair probes across recipes);
    on_result: called after each finished or failed probe (the live view).
    """

    def __init__(
        self,
        memory: Memory,
        run_id: str,
        env: ProbeEnv,
        space: PoolSpace,
        executor: Executor,
        base_spec: dict[str, Any],
        seed_base: int = 0,
        on_result: Callable[[], None] | None = None,
    ) -> None:
        self.mem = memory
        self.run_id = run_id
        self.env = env
        self.space = space
        self.executor = executor
        self.base_spec = dict(base_spec)
        self.seed_base = seed_base
        self.on_result = on_result
        self._model_cfg = model_fingerprint_config(self.base_spec.get("task", "clip"))

    @property
    def train_size(self) -> int:
        return int(self.base_spec["train_size"])

    def seed_of(self, seed_index: int) -> int:
        return self.seed_base * 1000 + seed_index

    def fingerprint(self, recipe_fp: str, trainer_cfg: dict[str, Any], seed: int, split: str) -> str:
        """The probe's identity: data (pool + scoring split), recipe, trainer config including the task's
        built-in model sizes, seed and train size."""
        data_fp = self.env.pool.fingerprint
        if split in self.env.splits:
            data_fp += ":" + self.env.splits[split].fingerprint
        key_cfg = {**trainer_cfg, "model_defaults": self._model_cfg} if self._model_cfg else trainer_cfg
        return experiment_fingerprint(data_fp, recipe_fp, key_cfg, seed, self.train_size)

    def submit(self, items: Sequence[ProbeItem], step: int, split: str = "eval") -> list[int | None]:
        """Record and run probes; returns experiment ids (done or failed; None for an invalid proposal)."""
        jobs: list[ProbeJob] = []
        ids: list[int | None] = []
        run_exps = {e["fingerprint"]: e for e in self.mem.experiments(self.run_id)}
        for choices, seed_index, purpose in items:
            eid, job = self._record(choices, seed_index, purpose, step, split, run_exps)
            ids.append(eid)
            if job is not None:
                jobs.append(job)
        if jobs:
            self._run(jobs)
        return ids

    def _record(
        self,
        choices: list[OpChoice],
        seed_index: int,
        purpose: str,
        step: int,
        split: str,
        run_exps: dict[str, dict[str, Any]],
    ) -> tuple[int | None, ProbeJob | None]:
        try:
            recipe = self.space.to_recipe(choices)
        except (RecipeError, KeyError, ValueError) as e:
            self.mem.log_event(self.run_id, "error", f"invalid proposal {purpose}: {e}")
            return None, None
        applied = self.space.apply(recipe)
        kept_ids = [self.env.pool.samples[i].id for i in applied.kept_indices]
        seed = self.seed_of(seed_index)
        spec = ProbeSpec(**self.base_spec, seed=seed, train_ids=kept_ids)
        trainer_cfg = spec.model_dump(mode="json", exclude={"train_ids", "seed"})
        trainer_cfg["split"] = split
        fp = self.fingerprint(recipe.fingerprint(), trainer_cfg, seed, split)
        existing = run_exps.get(fp)
        if existing is not None and existing["status"] in ("done", "failed", "pending"):
            return existing["id"], None  # measured already, or queued earlier in this batch
        if existing is not None:
            eid = existing["id"]
        else:
            hit = self.mem.find_done(fp)
            if hit is not None:
                eid = self.mem.reuse_experiment(self.run_id, hit["id"], purpose=purpose, step=step)
                self.mem.log_event(
                    self.run_id,
                    "probe",
                    f"cache hit for {purpose}: reused experiment #{hit['id']}",
                    {"experiment": eid, "source": hit["id"]},
                )
                run_exps[fp] = {"id": eid, "status": "done", "fingerprint": fp}
                return eid, None
            eid = self.mem.add_experiment(
                self.run_id,
                fp,
                recipe=recipe.to_dj(),
                recipe_fp=recipe.fingerprint(),
                recipe_yaml=recipe.to_yaml(),
                spec={
                    "choices": [c.model_dump(mode="json") for c in choices],
                    "seed_index": seed_index,
                    "split": split,
                    "probe": trainer_cfg,
                    "removed": [{"op": a, "removed": b} for a, b in applied.removed],
                },
                seed=seed,
                train_size=min(self.train_size, applied.n_kept),
                kept_size=applied.n_kept,
                purpose=purpose,
                step=step,
            )
        if applied.n_kept < spec.min_train_size:
            self.mem.start_experiment(eid)
            reason = f"recipe keeps {applied.n_kept} samples, fewer than the probe's minimum {spec.min_train_size}"
            self.mem.fail_experiment(eid, reason)
            self.mem.log_event(self.run_id, "probe", f"#{eid} {purpose}: failed: {reason}", {"experiment": eid})
            run_exps[fp] = {"id": eid, "status": "failed", "fingerprint": fp}
            return eid, None
        run_exps[fp] = {"id": eid, "status": "pending", "fingerprint": fp}
        return eid, ProbeJob(key=eid, spec=spec, split=split)

    def _run(self, jobs: list[ProbeJob]) -> None:
        for j in jobs:
            self.mem.start_experiment(j.key)
        for out in self.executor.run(jobs):
            eid = out.job.key
            exp = self.mem.get_experiment(eid) or {}
            if out.result is not None:
                r = out.result
                self.mem.finish_experiment(
                    eid, r.metrics, r.model_dump(mode="json"), r.primary_metric,
                    wall_time_s=r.wall_time_s, train_size=r.train_size,
                )  # fmt: skip
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
                    self.run_id, "error", f"#{eid} {exp.get('purpose')}: probe failed: {out.error}", {"experiment": eid}
                )
            if self.on_result is not None:
                self.on_result()

    def value(self, eid: int | None) -> float | None:
        """The primary metric of a recorded probe (None while not done or failed)."""
        e = self.mem.get_experiment(eid) if eid is not None else None
        return e.get("primary_value") if e else None
