"""Probe recording: proposal -> recipe -> kept ids -> fingerprint -> memory -> executor -> memory.

The one path by which any probe is run (search steps, the Optuna driver, the end game's test scoring,
``recipelab probe``), so every probe is recorded the same way: a probe already done in this run is
never re-run, one done in another run with the same fingerprint is reused (a cache hit), a recipe that
keeps too few samples is recorded as failed without training.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from recipelab.agent.plan import OpChoice
from recipelab.agent.space import PoolSpace
from recipelab.executors import Executor, ProbeEnv, ProbeJob
from recipelab.memory import Memory, experiment_fingerprint
from recipelab.recipes import RecipeError
from recipelab.trainers.base import ProbeSpec, spec_fingerprint_config
from recipelab.trainers.registry import model_fingerprint_config

#: (choices, seed index, purpose) of one probe to run.
ProbeItem = tuple[list[OpChoice], int, str]


class ProbeRecorder:
    """Runs and records probes of one run.

    base_spec: the run's `ProbeSpec` fields shared by every probe (task, train size, probe overrides);
    seed_base: probe seed = ``seed_base * 1000 + seed index`` (seed indices pair probes across recipes);
    on_result: called after each finished or failed probe (the live view);
    checkpoint_dir: where multi-fidelity segments keep their state between rungs (default: the probe
        environment's cache folder).
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
        checkpoint_dir: Path | None = None,
    ) -> None:
        self.mem = memory
        self.run_id = run_id
        self.env = env
        self.space = space
        self.executor = executor
        self.base_spec = dict(base_spec)
        self.seed_base = seed_base
        self.on_result = on_result
        self.checkpoint_dir = checkpoint_dir
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

    def checkpoint_path(self, full_fp: str, step: int) -> Path:
        """Where a probe's state at ``step`` is kept between its segments (keyed by the full probe)."""
        root = self.checkpoint_dir or Path(self.env.config.cache_dir) / "checkpoints"
        return root / full_fp[:32] / f"{step}.pt"

    def submit(
        self, items: Sequence[ProbeItem], step: int, split: str = "eval", stop_step: int | None = None
    ) -> list[int | None]:
        """Record and run probes; returns experiment ids (done or failed; None for an invalid proposal).

        ``stop_step``: run them as low-fidelity segments that stop there (a rung of the fidelity ladder),
        keeping a checkpoint; a later submit of the same probe with a later stop (or none) resumes from the
        latest checkpoint, so promoting a segment costs only the steps it adds."""
        jobs: list[ProbeJob] = []
        ids: list[int | None] = []
        run_exps = {e["fingerprint"]: e for e in self.mem.experiments(self.run_id)}
        for choices, seed_index, purpose in items:
            eid, job = self._record(choices, seed_index, purpose, step, split, run_exps, stop_step)
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
        stop_step: int | None = None,
    ) -> tuple[int | None, ProbeJob | None]:
        try:
            recipe = self.space.to_recipe(choices)
        except (RecipeError, KeyError, ValueError) as e:
            self.mem.log_event(self.run_id, "error", f"invalid proposal {purpose}: {e}")
            return None, None
        applied = self.space.apply(recipe)
        kept_ids = [self.env.pool.samples[i].id for i in applied.kept_indices]
        seed = self.seed_of(seed_index)
        full = ProbeSpec(**self.base_spec, seed=seed, train_ids=kept_ids)
        full_cfg = {**spec_fingerprint_config(full), "split": split}
        full_fp = self.fingerprint(recipe.fingerprint(), full_cfg, seed, split)
        spec = full
        if stop_step is not None and stop_step < full.steps:
            spec = full.model_copy(update={"stop_step": stop_step})
        trainer_cfg = {**spec_fingerprint_config(spec), "split": split}
        fp = full_fp if spec is full else self.fingerprint(recipe.fingerprint(), trainer_cfg, seed, split)
        segmented = spec.stop_step is not None or bool(spec.eval_steps)
        resume_step, curve_before = 0, []
        if segmented:
            resume_step, curve_before = self._resume_point(full_fp, spec.end_step, run_exps.values())
            spec = spec.model_copy(
                update={
                    "resume_from": str(self.checkpoint_path(full_fp, resume_step)) if resume_step else None,
                    "save_checkpoint": str(self.checkpoint_path(full_fp, spec.end_step))
                    if spec.end_step < spec.steps
                    else None,
                }
            )
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
                    **(
                        {"full_fp": full_fp, "resume_step": resume_step, "curve_before": curve_before}
                        if segmented
                        else {}
                    ),
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

    def _resume_point(
        self, full_fp: str, end: int, run_exps: Iterable[dict[str, Any]]
    ) -> tuple[int, list[dict[str, Any]]]:
        """The latest checkpoint of this probe before ``end`` (0: none, train from the start), and the
        scores its earlier segments measured up to there (the resumed probe's curve starts after them)."""
        step = 0
        ck_dir = self.checkpoint_path(full_fp, 0).parent
        if ck_dir.is_dir():
            for f in ck_dir.glob("*.pt"):
                if f.stem.isdigit() and step < int(f.stem) < end:
                    step = int(f.stem)
        points: dict[int, float] = {}
        if step:
            for e in run_exps:  # this run's rows, read once per submit
                if e.get("status") != "done":
                    continue
                sp = e.get("spec") or {}
                if sp.get("full_fp") != full_fp:
                    continue
                res = e.get("result") or {}
                if res.get("end_step") and res["end_step"] <= step and e.get("primary_value") is not None:
                    points[int(res["end_step"])] = float(e["primary_value"])
                for p in sp.get("curve_before") or []:
                    if int(p["step"]) <= step:
                        points.setdefault(int(p["step"]), float(p["value"]))
        return step, [{"step": k, "value": v} for k, v in sorted(points.items())]

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
                if r.end_step and r.end_step < r.steps:
                    flag += f" [fidelity {r.end_step}/{r.steps} steps" + (
                        f", resumed at {r.start_step}]" if r.start_step else "]"
                    )
                elif r.start_step:
                    flag += f" [resumed at step {r.start_step}]"
                    if out.job.spec.resume_from:  # the whole probe is done: its segments' states are spent
                        for f in Path(out.job.spec.resume_from).parent.glob("*.pt"):
                            f.unlink(missing_ok=True)
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
