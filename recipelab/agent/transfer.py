"""The scale-up transfer check: do the run's probe-scale findings hold on more data and a wider model?

The Data-Juicer Sandbox paper's premise is that what small probes find transfers to larger models;
DataComp and DataDecide warn that the best filter can change with scale (DataDecide: about 80% pairwise
decision accuracy from a 150M to a 1B model). This module measures it for one run, in three steps:

- plan: the no-filter baseline (rank 0) and the run's top-K recipes, ranked as the end game ranks them
  (lower confidence bound, banned ops left out), each at a larger scale: ``train_size x data_scale``
  distinct samples (capped at what the recipe keeps), ``steps x data_scale`` (so the samples seen scale
  too), and the task's model width ``x model_scale``;
- run: through the run's `ProbeRecorder`, with purpose ``transfer:<rank>``, so each probe is recorded,
  cached by fingerprint (a re-run or a resumed check trains nothing already done) and kept out of the
  search state (`state.is_search_experiment`);
- statistics: pairwise decision accuracy (does the probe-scale order of two recipes hold at scale?),
  over all pairs and over the pairs whose probe-scale 90% intervals (the run's pooled noise) do not
  overlap, and the Spearman correlation of probe-scale and scale-up means; each with a bootstrap 90%
  interval over the scale-up seeds (seeds are paired across recipes, so they are resampled together).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from recipelab.agent import analysis
from recipelab.agent.plan import OpChoice
from recipelab.agent.recorder import ProbeRecorder
from recipelab.agent.space import PoolSpace
from recipelab.agent.state import TRANSFER_PURPOSE, SearchState, load_state
from recipelab.agent.surrogate import spearman
from recipelab.executors import Executor, ProbeEnv
from recipelab.memory import Memory
from recipelab.trainers.base import ProbeSpec
from recipelab.trainers.registry import make_trainer, model_fingerprint_config

if TYPE_CHECKING:
    from recipelab.agent.loop import SearchLoop
    from recipelab.workspace import Workspace

__all__ = [
    "WIDTH_KEYS",
    "TransferCheck",
    "TransferEntry",
    "TransferError",
    "scaled_spec",
    "select_recipes",
    "statistics",
    "transfer_after_search",
    "transfer_run",
    "widened_model",
]

#: Per task: the model-override section (``""``: top level) -> the keys that set its width. Scaled by
#: ``model_scale``; depth, heads and patch size stay, so the wider model is the same architecture.
WIDTH_KEYS: dict[str, dict[str, tuple[str, ...]]] = {
    "clip": {
        "": ("projection_dim",),
        "vision": ("hidden_size", "intermediate_size"),
        "text": ("hidden_size", "intermediate_size"),
    },
    "caption": {
        "encoder": ("hidden_size", "intermediate_size"),
        "decoder": ("n_embd", "n_inner"),
    },
    "t2i": {
        "unet": ("block_out_channels",),  # every level's channels, kept multiples of the norm groups
        "text": ("hidden_size", "intermediate_size"),
    },
}
#: The key of each section whose value the hidden size must stay a multiple of (attention heads).
_HEADS = {
    "vision": "num_attention_heads",
    "text": "num_attention_heads",
    "encoder": "num_attention_heads",
    "decoder": "n_head",
    "unet": "norm_num_groups",
}
#: Section keys `build_config` also reads, after the plain ones (clip accepts ``vision_config`` too).
_ALIASES = {"vision": "vision_config", "text": "text_config"}
#: Bootstrap resamples of the scale-up seeds.
N_BOOT = 2000
CONF = 0.9


class TransferError(ValueError):
    """A transfer check that cannot run (unknown width key, too few recipes, a checkpoint to widen)."""


def purpose_of(rank: int) -> str:
    return f"{TRANSFER_PURPOSE}{rank}"


# ---------------------------------------------------------------------- plan
def widened_model(task: str, model: dict[str, Any], scale: float) -> tuple[dict[str, Any], dict[str, list[int]]]:
    """The run's model overrides with every width key of ``task`` times ``scale`` (hidden sizes rounded
    to a multiple of their attention heads, so the wider model builds). Returns (overrides, what
    changed as ``{"vision.hidden_size": [96, 192], ...}``). Raises `TransferError` for a task without
    known width keys: a silently unchanged model would report transfer across data scale only."""
    if scale == 1:
        return dict(model), {}
    keys = WIDTH_KEYS.get(task)
    if not keys:
        raise TransferError(
            f"task {task!r} has no known model width key to scale; use --model-scale 1 "
            f"(width keys are known for {', '.join(sorted(WIDTH_KEYS))})"
        )
    defaults = model_fingerprint_config(task)
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in model.items()}
    changed: dict[str, list[int]] = {}
    for section, names in keys.items():
        if section:
            current = {
                **(defaults.get(section) or {}),
                **out.pop(section, {}),
                **out.pop(_ALIASES.get(section, ""), {}),
            }
        else:
            current = {k: out.get(k, defaults.get(k)) for k in names}
        heads = int(current.get(_HEADS.get(section, ""), 1) or 1)
        for name in names:
            base = current.get(name)
            if isinstance(base, (list, tuple)) and base and all(isinstance(b, int) and b > 0 for b in base):
                widths = [max(heads, int(round(b * scale / heads)) * heads) for b in base]
                current[name] = widths
                changed[f"{section}.{name}"] = [list(base), widths]  # type: ignore[list-item]
                continue
            if not isinstance(base, int) or base <= 0:
                raise TransferError(f"task {task!r}: model width key {section or 'top'}.{name} has no size to scale")
            step = heads if name in ("hidden_size", "n_embd") else 1
            new = max(step, int(round(base * scale / step)) * step)
            current[name] = new
            changed[f"{section}.{name}" if section else name] = [base, new]
        if section:
            out[section] = current
        else:
            out.update(current)
    return out, changed


def scaled_spec(base_spec: dict[str, Any], data_scale: float, model_scale: float) -> tuple[dict[str, Any], dict]:
    """The scale-up probes' shared spec fields from the run's (``ProbeRecorder.base_spec``): train size and
    steps times ``data_scale`` (samples seen scale with the samples), the model wider by ``model_scale``.

    Steps the run left to the trainer are the trainer's own default (a task's ``resolve_spec``), so
    ``caption`` scales its 200 steps, not the clip default. Returns (spec fields, a description)."""
    if data_scale <= 0 or model_scale <= 0:
        raise TransferError("--data-scale and --model-scale must be positive")
    task = str(base_spec.get("task", "clip"))
    if base_spec.get("checkpoint") and model_scale != 1:
        raise TransferError("the run fine-tunes a checkpoint, whose width is fixed; use --model-scale 1")
    probe = ProbeSpec(**base_spec)
    trainer = make_trainer(task)
    if hasattr(trainer, "resolve_spec"):
        probe = trainer.resolve_spec(probe)
    spec = dict(base_spec)
    spec["train_size"] = max(1, int(round(int(base_spec["train_size"]) * data_scale)))
    spec["steps"] = max(1, int(round(probe.steps * data_scale)))
    model, changed = widened_model(task, dict(base_spec.get("model") or {}), model_scale)
    if model:
        spec["model"] = model
    about = {
        "task": task,
        "probe_train_size": int(base_spec["train_size"]),
        "train_size": spec["train_size"],
        "probe_steps": probe.steps,
        "steps": spec["steps"],
        "data_scale": data_scale,
        "model_scale": model_scale,
        "width": changed,
    }
    return spec, about


@dataclass
class TransferEntry:
    """One recipe of the check: its probe-scale result (from the search) and its scale-up probes."""

    rank: int  # 0: the no-filter baseline; 1..K: the run's ranking
    label: str
    recipe_fp: str
    choices: list[OpChoice]
    probe_mean: float | None
    probe_ci90: tuple[float, float] | None
    probe_seeds: int
    kept: int = 0
    train_size: int = 0
    capped: bool = False
    experiments: list[int | None] = field(default_factory=list)
    values: list[float | None] = field(default_factory=list)
    source: str = ""  # the purpose of its probe-scale probes (which step of the search found it)

    @property
    def purpose(self) -> str:
        return purpose_of(self.rank)

    @property
    def scale_mean(self) -> float | None:
        v = [x for x in self.values if x is not None]
        return float(np.mean(v)) if v else None


def select_recipes(state: SearchState, top: int) -> list[TransferEntry]:
    """The baseline (rank 0) and the run's top-``top`` distinct recipes besides it, in the end game's
    order (`analysis.ranked`, pooled noise; recipes with a banned op left out, as the end game does)."""
    pooled = analysis.noise_sd(state)
    banned = state.steering.banned
    base = analysis.baseline(state)
    entries = [
        TransferEntry(
            0,
            "(no filter)",
            base.recipe_fp if base else "",
            [],
            base.mean if base else None,
            base.interval(pooled) if base else None,
            base.n if base else 0,
            source=analysis.BASELINE,
        )
    ]
    for c, _ in analysis.ranked(state):
        if len(entries) > top:
            break
        if c.purpose == analysis.BASELINE or (base is not None and c.recipe_fp == base.recipe_fp):
            continue
        if banned & set(c.trials[0].op_names) or not c.trials[0].choices:
            continue
        entries.append(
            TransferEntry(
                len(entries),
                c.description,
                c.recipe_fp,
                list(c.trials[0].choices),
                c.mean,
                c.interval(pooled),
                c.n,
                source=c.purpose,
            )
        )
    return entries


def checked_selection(state: SearchState, top: int) -> list[TransferEntry]:
    """`select_recipes`, refused (one line) when there is nothing to compare: no measured baseline, or
    no recipe besides it."""
    entries = select_recipes(state, top)
    if entries[0].probe_mean is None:
        raise TransferError(f"run {state.run_id} has no no-filter baseline measured; nothing to compare against")
    if len(entries) < 2:
        raise TransferError(f"run {state.run_id} has no recipe besides the baseline with a finished probe")
    return entries


# ---------------------------------------------------------------------- statistics
def _agree(d_probe: float, d_scale: float) -> float:
    """1 when both scales order the pair the same way, 0 when they disagree, 0.5 for a tie."""
    p = d_probe * d_scale
    return 1.0 if p > 0 else (0.5 if p == 0 else 0.0)


def _interval(samples: Sequence[float], conf: float = CONF) -> list[float] | None:
    a = np.asarray([s for s in samples if np.isfinite(s)], dtype=float)
    if not len(a):
        return None
    return [float(np.quantile(a, 0.5 - conf / 2)), float(np.quantile(a, 0.5 + conf / 2))]


def _means(vals: np.ndarray) -> np.ndarray:
    """Per-recipe means over the last axis, nan where a recipe has no finite value (no warning)."""
    finite = np.isfinite(vals)
    total = np.where(finite, vals, 0.0).sum(axis=-1)
    count = finite.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _boot_accuracy(probe: np.ndarray, boot: np.ndarray, pairs: Sequence[tuple[int, int]]) -> np.ndarray:
    """Decision accuracy of every bootstrap row of ``boot`` (resamples x recipes) at once."""
    if not pairs:
        return np.full(len(boot), np.nan)
    a, b = np.array(pairs).T
    prod = (probe[a] - probe[b])[None, :] * (boot[:, a] - boot[:, b])
    agree = np.where(prod > 0, 1.0, np.where(prod == 0, 0.5, 0.0))
    ok = np.isfinite(prod)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ok.any(axis=1), np.where(ok, agree, 0).sum(axis=1) / ok.sum(axis=1), np.nan)


def _boot_spearman(probe: np.ndarray, boot: np.ndarray) -> np.ndarray:
    """Spearman correlation of ``probe`` with every bootstrap row; rows with a missing recipe one by one."""
    from scipy.stats import rankdata

    out = np.full(len(boot), np.nan)
    full = np.isfinite(boot).all(axis=1)
    if full.any() and len(probe) >= 3 and len(set(probe.tolist())) > 1:
        rp = rankdata(probe)
        rb = rankdata(boot[full], axis=1)
        rp, rb = rp - rp.mean(), rb - rb.mean(axis=1, keepdims=True)
        den = np.sqrt((rp**2).sum() * (rb**2).sum(axis=1))
        with np.errstate(invalid="ignore", divide="ignore"):
            out[full] = np.where(den > 0, (rb * rp).sum(axis=1) / den, np.nan)
    for k in np.flatnonzero(~full):
        ok = np.isfinite(boot[k])
        out[k] = spearman(list(probe[ok]), list(boot[k][ok]))
    return out


def statistics(
    probe_means: Sequence[float],
    probe_ci90: Sequence[tuple[float, float]],
    scale_values: np.ndarray,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> dict[str, Any]:
    """Decision accuracy (all pairs; pairs whose probe-scale intervals do not overlap) and Spearman
    correlation between probe-scale means and the scale-up means of ``scale_values`` (recipes x seeds,
    nan for a missing probe), each with a bootstrap 90% interval over the scale-up seeds: the seed
    indices are resampled together for every recipe, since a seed pairs the probes across recipes."""
    probe = np.asarray(probe_means, dtype=float)
    vals = np.asarray(scale_values, dtype=float).reshape(len(probe), -1)
    n, n_seeds = vals.shape
    scale = _means(vals)
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    separated = [(i, j) for i, j in pairs if probe_ci90[i][1] < probe_ci90[j][0] or probe_ci90[j][1] < probe_ci90[i][0]]
    usable = [(i, j) for i, j in pairs if np.isfinite(scale[[i, j]]).all()]
    resamples = n_boot if n_seeds > 1 else 0
    idx = np.random.default_rng(seed).integers(0, n_seeds, size=(resamples, n_seeds))
    boot = _means(vals[:, idx]).T  # resamples x recipes

    def stat(point: np.ndarray, samples: np.ndarray) -> dict[str, Any]:
        value = float(point[0])
        if not math.isfinite(value):
            return {"value": None, "ci90": None}
        return {"value": value, "ci90": _interval(list(samples)) if resamples else [value, value]}

    one = scale[None, :]
    return {
        "scale_means": [float(x) if np.isfinite(x) else None for x in scale],
        "pairs": [
            {
                "a": i,
                "b": j,
                "probe_diff": float(probe[i] - probe[j]),
                "scale_diff": float(scale[i] - scale[j]),
                "agree": _agree(probe[i] - probe[j], scale[i] - scale[j]),
                "separated": (i, j) in separated,
            }
            for i, j in usable
        ],
        "decision_accuracy": {
            "all": {
                **stat(_boot_accuracy(probe, one, pairs), _boot_accuracy(probe, boot, pairs)),
                "n_pairs": len(usable),
            },
            "separated": {
                **stat(_boot_accuracy(probe, one, separated), _boot_accuracy(probe, boot, separated)),
                "n_pairs": sum(1 for p in separated if p in usable),
            },
        },
        "spearman": {
            **stat(_boot_spearman(probe, one), _boot_spearman(probe, boot)),
            "n": int(np.isfinite(scale).sum()),
        },
        "bootstrap": {"resamples": resamples, "seeds": n_seeds},
    }


# ---------------------------------------------------------------------- run
class TransferCheck:
    """The transfer check of one run, on its probe environment, pool space and executor.

    base_spec / seed_base: the run's probe spec and seed base (`ProbeRecorder`), so the scale-up probes
    differ from the search's only in size; on_result: called after each probe (a live view)."""

    def __init__(
        self,
        memory: Memory,
        run_id: str,
        env: ProbeEnv,
        space: PoolSpace,
        executor: Executor,
        base_spec: dict[str, Any],
        seed_base: int = 0,
        *,
        top: int = 4,
        data_scale: float = 4,
        model_scale: float = 2,
        seeds: int = 3,
        on_result: Callable[[], None] | None = None,
    ) -> None:
        if top < 1 or seeds < 1:
            raise TransferError("--top and --seeds must be at least 1")
        self.mem = memory
        self.run_id = run_id
        self.env = env
        self.space = space
        self.executor = executor
        self.seed_base = seed_base
        self.top = top
        self.seeds = seeds
        self.on_result = on_result
        self.spec, self.scale = scaled_spec(base_spec, data_scale, model_scale)

    def plan(self) -> list[TransferEntry]:
        """The recipes to re-run, each with its scale-up train size (capped at what it keeps)."""
        entries = checked_selection(load_state(self.mem, self.run_id), self.top)
        for e in entries:
            e.kept = self.space.apply(self.space.to_recipe(e.choices)).n_kept
            e.train_size = min(self.scale["train_size"], e.kept)
            e.capped = e.kept < self.scale["train_size"]
        return entries

    def run(self) -> dict[str, Any]:
        """Plan, run (or reuse) the scale-up probes, compute the statistics; record them in the run's log
        (an ``info`` event with the document as payload) and its summary (key ``transfer``)."""
        entries = self.plan()
        before = {e["id"] for e in self.mem.experiments(self.run_id)}
        step = load_state(self.mem, self.run_id).step + 1
        for e in entries:
            # One recorder per train size: the size is part of the fingerprint, and a recipe capped at what
            # it keeps trains on all of it (not an "undersized" draw of the uncapped size).
            rec = ProbeRecorder(
                self.mem,
                self.run_id,
                self.env,
                self.space,
                self.executor,
                {**self.spec, "train_size": max(1, e.train_size)},
                self.seed_base,
                self.on_result,
            )
            e.experiments = rec.submit([(e.choices, k, e.purpose) for k in range(self.seeds)], step)
            e.values = [rec.value(i) for i in e.experiments]
        created = [x for x in self.mem.experiments(self.run_id) if x["id"] not in before]
        doc = self.document(entries, created)
        self.record(doc)
        return doc

    def document(self, entries: list[TransferEntry], created: list[dict[str, Any]]) -> dict[str, Any]:
        usable = [e for e in entries if e.probe_mean is not None]
        vals = np.array([[np.nan if v is None else v for v in e.values] for e in usable], dtype=float)
        st = statistics([e.probe_mean for e in usable], [e.probe_ci90 for e in usable], vals)  # type: ignore[misc]
        means = dict(zip([e.rank for e in usable], st["scale_means"], strict=True))
        for p in st["pairs"]:
            p["a"], p["b"] = usable[p["a"]].rank, usable[p["b"]].rank
        return {
            "run_id": self.run_id,
            "top": self.top,
            "seeds": self.seeds,
            "scale": self.scale,
            "recipes": [
                {
                    "rank": e.rank,
                    "purpose": e.purpose,
                    "label": e.label,
                    "source_purpose": e.source,
                    "recipe_fp": e.recipe_fp,
                    "probe_mean": e.probe_mean,
                    "probe_ci90": list(e.probe_ci90) if e.probe_ci90 else None,
                    "probe_seeds": e.probe_seeds,
                    "kept": e.kept,
                    "train_size": e.train_size,
                    "capped": e.capped,
                    "scale_values": e.values,
                    "scale_mean": means.get(e.rank),
                    "experiments": e.experiments,
                }
                for e in entries
            ],
            "capped": [e.rank for e in entries if e.capped],
            "probes": {
                "total": sum(len(e.experiments) for e in entries),
                "new": len(created),
                "cache_hits": sum(1 for x in created if x.get("cached_from") is not None),
                "failed": sum(1 for e in entries for v in e.values if v is None),
            },
            **{k: st[k] for k in ("pairs", "decision_accuracy", "spearman", "bootstrap")},
        }

    def record(self, doc: dict[str, Any]) -> None:
        run = self.mem.get_run(self.run_id) or {}
        self.mem.update_run(self.run_id, summary={**(run.get("summary") or {}), "transfer": doc})
        self.mem.log_event(self.run_id, "info", describe(doc), {"transfer": doc})


def _fmt(stat: dict[str, Any], nd: int = 2) -> str:
    if stat.get("value") is None:
        return "n/a"
    ci = stat.get("ci90")
    return f"{stat['value']:.{nd}f}" + (f" (90% CI {ci[0]:.{nd}f}..{ci[1]:.{nd}f})" if ci else "")


def describe(doc: dict[str, Any]) -> str:
    """The check's result in one line (the log event's message, the CLI's summary line)."""
    sc = doc["scale"]
    acc = doc["decision_accuracy"]
    capped = len(doc.get("capped") or [])
    return (
        f"transfer check: {len(doc['recipes'])} recipe(s) x {doc['seeds']} seed(s) at train size {sc['train_size']} "
        f"(x{sc['data_scale']:g}{f', capped at what the recipe keeps for {capped}' if capped else ''}), "
        f"{sc['steps']} steps, model width x{sc['model_scale']:g}: decision accuracy {_fmt(acc['all'])} over "
        f"{acc['all']['n_pairs']} pair(s), {_fmt(acc['separated'])} over {acc['separated']['n_pairs']} pair(s) "
        f"beyond the noise; Spearman {_fmt(doc['spearman'])}; {doc['probes']['new']} new probe(s)"
    )


def transfer_run(
    ws: Workspace,
    memory: Memory,
    run_id: str,
    *,
    env: ProbeEnv | None = None,
    executor: Executor | None = None,
    quiet: bool = True,
    **kw: Any,
) -> dict[str, Any]:
    """The transfer check of a recorded run, on the probe environment its configuration describes (or
    ``env``/``executor``, e.g. a test's synthetic one). ``kw``: `TransferCheck`'s options. Raises
    ValueError (`TransferError`, DataError) with a one-line message; the run's status is left as it is."""
    from recipelab.agent.loop import SearchLoop, resume_config
    from recipelab.executors import ProbeEnvConfig, make_executor

    cfg = resume_config(memory, run_id)
    try:  # probes cut off by an interrupted check (Ctrl-C, kill -9) become runnable again
        memory.mark_interrupted(run_id)
    except RuntimeError as e:  # the search itself is still going in another process
        raise TransferError(f"{e}; run the transfer check once it has ended") from None
    entries = checked_selection(load_state(memory, run_id), int(kw.get("top", 4)))  # refused before any set-up
    scaled_spec(
        {"task": cfg.task, "train_size": 1, **cfg.probe.spec_overrides()},
        kw.get("data_scale", 4),
        kw.get("model_scale", 2),
    )
    if env is None:
        env = ProbeEnv.from_config(ProbeEnvConfig.for_run(cfg, ws, run_id), quiet=quiet)
    own = executor is None
    if executor is None:
        executor = make_executor(env, cfg.workers, kind=cfg.executor, ray_address=cfg.ray_address)
    try:
        loop = SearchLoop(ws, memory, run_id, cfg, env, executor, quiet=True)  # its probe spec, not its set-up
        # Only the ops of the chosen recipes (their stats are cached since the search): never every op.
        ops = sorted({c.op for e in entries for c in e.choices})
        space = PoolSpace(env.pool, ws.stats_cache(), ops=ops, quiet=quiet)
        check = TransferCheck(memory, run_id, env, space, executor, loop.base_spec(), cfg.seed, **kw)
        return check.run()
    finally:
        if own:
            executor.close()


def transfer_after_search(loop: SearchLoop, top: int = 4, **kw: Any) -> dict[str, Any] | None:
    """``search --transfer-check``: the check on the finished run's own environment, K = min(top, the
    recipes it has); logs that it ran (or why it could not). None when it could not run."""
    assert loop.recorder is not None and loop.space is not None
    try:
        check = TransferCheck(
            loop.mem,
            loop.run_id,
            loop.env,
            loop.space,
            loop.executor,
            loop.base_spec(),
            loop.cfg.seed,
            top=top,
            on_result=loop.recorder.on_result,
            **kw,
        )
        doc = check.run()
    except TransferError as e:
        loop.mem.log_event(loop.run_id, "info", f"transfer check skipped: {e}")
        return None
    loop.mem.log_event(
        loop.run_id, "info", f"transfer check ran after the search: {doc['probes']['new']} probe(s) beyond the budget"
    )
    return doc
