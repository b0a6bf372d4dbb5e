"""make_benchmark: a noisy pool with known corruptions, clean eval/test splits, and the truth apart."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import time
from collections import Counter
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from recipelab.data.benchmark import captions as C
from recipelab.data.benchmark.scenarios import CorruptionRates, FamilyStyle, Scenario, get_scenario
from recipelab.data.benchmark.scene import (
    ATTRIBUTES,
    BACKGROUNDS,
    COLOURS,
    Group,
    RenderJob,
    Scene,
    all_simple_scenes,
    colours_for,
    random_busy_scene,
    random_simple_scene,
    run_job,
    run_jobs,
)
from recipelab.data.benchmark.truth import CLEAN, TruthRow
from recipelab.data.sample import EOC_TOKEN, IMAGE_TOKEN

#: family -> (what it is, which statistic can see it)
FAMILIES: dict[str, tuple[str, str]] = {
    "mismatch": ("caption of another, random pool image", "image-text (CLIP) similarity"),
    "mild_mismatch": (
        "caption of an image with the same shape, count, size, position and background but another colour",
        "hard: only a good image-text similarity sees it",
    ),
    "near_duplicate": (
        "floods of copies of a few images (a few pixels nudged), same or re-templated caption",
        "perceptual-hash duplicates",
    ),
    "blur": (
        "half low-res (downscaled to ~8-12 px, upscaled back), half a moderate gaussian blur (all low-res in mixed-6)",
        "Laplacian-variance sharpness (the moderate half overlaps the clean range)",
    ),
    "extreme_aspect": (
        "image squashed to an aspect ratio of 3-4 (e.g. 64x16, 20x64; thinner strips in mixed-6)",
        "image aspect ratio",
    ),
    "tiny_image": ("image downscaled to ~12-20 px", "image width/height, file size"),
    "blank_image": ("constant or near-constant colour", "image entropy, file size"),
    "repetitive_caption": ("attribute words repeated ('red red red circles circles ...')", "word repetition"),
    "special_char_spam": ("runs of @#$%^&* between caption words", "special character ratio, alnum ratio"),
    "short_caption": ("one or two words ('red', 'circle')", "text length, word count"),
    "boilerplate_caption": (
        "true caption followed by lines of ad/legal boilerplate (3-6 by default, 1 in mixed-6)",
        "text length",
    ),
    "gibberish_caption": ("random letters", "image-text similarity, vocabulary / language score"),
}

TRAPS: dict[str, str] = {
    "busy_scene": "clean 3-group scene with a long, detailed caption (a max text length filter removes it)",
    "small_image": "clean, sharp image of ~40 px (a careless min width/height filter removes it)",
    "terse_caption": "clean, correct caption of 3-4 words, some attributes left out (a careless min length filter "
    "removes it)",
}


class BenchmarkInfo(BaseModel):
    """What was written, with the scenario and rates that made it (also in info.json and README.md)."""

    out_dir: Path
    pool: Path
    eval: Path
    test: Path
    truth: Path
    size: int
    n_eval: int
    n_test: int
    seed: int
    image_size: int
    scenario: str = "default"
    scenario_summary: str = ""
    custom_rates: bool = False  # rates passed in place of the scenario's own
    rates: CorruptionRates
    style: FamilyStyle = Field(default_factory=FamilyStyle)
    counts: dict[str, int]  # pool label -> rows ("clean" included; traps are clean)
    trap_counts: dict[str, int]  # trap kind -> rows
    n_clean: int
    n_corrupted: int
    corrupted_fraction: float
    attributes: dict[str, list[str]]  # eval/test `labels` vocabulary
    elapsed_s: float = Field(0.0, exclude=True)


def _split_counts(rates: dict[str, float], size: int) -> dict[str, int]:
    """round(rate * size) per family, with the largest-remainder rule so the total is round(sum * size)."""
    raw = {k: v * size for k, v in rates.items()}
    out = {k: int(np.floor(v)) for k, v in raw.items()}
    target = int(round(sum(raw.values())))
    rest = sorted(raw, key=lambda k: (-(raw[k] - out[k]), k))
    for k in rest[: max(0, target - sum(out.values()))]:
        out[k] += 1
    return out


def _row_text(caption: str, dj_tokens: bool) -> str:
    return f"{IMAGE_TOKEN} {caption} {EOC_TOKEN}" if dj_tokens else caption


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(0, 2**62))


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def _render_all(jobs: list[RenderJob], workers: int | None) -> list[str]:
    """Run the render jobs, in worker processes when there are many (output does not depend on it).

    Workers are forked where the platform allows it (no re-import of `__main__`, instant start; the jobs
    only use numpy and PIL), spawned elsewhere.
    """
    if workers is None:
        workers = min(os.cpu_count() or 1, 8)
    if workers <= 1 or len(jobs) < 1000:
        return run_jobs(jobs)
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    chunk = max(16, len(jobs) // (workers * 8))
    with ctx.Pool(workers) as pool:
        return pool.map(run_job, jobs, chunksize=chunk)


def _held_out_kinds(rates: CorruptionRates, n: int, seed: int) -> list[str]:
    """Per held-out row: ``clean`` or ``trap:<kind>``, each trap kind in its share of the pool's clean rows
    (traps / (traps + plain clean)), in a seeded order."""
    clean_share = max(1e-9, 1.0 - rates.noise())
    counts = {f"trap:{k}": int(round(n * v / clean_share)) for k, v in rates.traps().items() if v > 0}
    kinds = [k for k, c in counts.items() for _ in range(c)][:n]
    kinds += [CLEAN] * (n - len(kinds))
    order = np.random.default_rng([seed, 29]).permutation(n)
    return [kinds[i] for i in order]


def make_benchmark(
    out_dir: Path,
    size: int | None = None,
    n_eval: int = 1000,
    n_test: int = 1000,
    seed: int = 0,
    image_size: int = 64,
    rates: CorruptionRates | None = None,
    workers: int | None = None,
    dj_tokens: bool = True,
    scenario: str | Scenario = "default",
) -> BenchmarkInfo:
    """Write the noisy benchmark under `out_dir` and return what was written.

    Files: pool.jsonl (noisy, no labels), eval.jsonl and test.jsonl (clean, with `labels`), truth.jsonl
    (one row per pool id), README.md, info.json and images/{pool,eval,test}/*.png. The output is
    byte-identical for the same arguments whatever the number of workers. `dj_tokens` wraps each
    caption as `<__dj__image> caption <|__dj__eoc|>` (Data-Juicer's image-text form).

    `scenario` names a mix in `SCENARIOS` (or is a `Scenario`): its rates, its families' look and, when
    `size` is None, its pool size. `rates`, when given, replace the scenario's rates (recorded as
    `custom_rates`). The `default` scenario writes exactly what this function wrote before scenarios
    existed, for the same seed.
    """
    t0 = time.perf_counter()
    scen = get_scenario(scenario)
    custom_rates = rates is not None and rates != scen.rates
    rates = rates or scen.rates
    style = scen.style
    size = scen.size if size is None else size
    if size < 1 or n_eval < 1 or n_test < 1:
        raise ValueError("size, n_eval and n_test must be >= 1")
    if image_size < 32:
        raise ValueError("image_size must be >= 32")
    out_dir = Path(out_dir)
    img_dirs = {s: out_dir / "images" / s for s in ("pool", "eval", "test")}
    for d in img_dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    S = image_size

    fam_counts = _split_counts(rates.families(), size)
    trap_counts = _split_counts(rates.traps(), size)
    n_clean_plain = size - sum(fam_counts.values()) - sum(trap_counts.values())
    if n_clean_plain < 0:
        raise ValueError("rates leave no room for clean samples at this size")
    kinds = (
        [CLEAN] * n_clean_plain
        + [f"trap:{k}" for k, n in trap_counts.items() for _ in range(n)]
        + [k for k, n in fam_counts.items() for _ in range(n)]
    )
    kinds = [kinds[i] for i in rng.permutation(len(kinds))]

    # Every pool row gets a base one-group scene and its clean caption (mismatch borrows from these).
    scenes = [random_simple_scene(rng) for _ in range(size)]
    clean_caps = [C.simple_caption(s, rng) for s in scenes]
    seeds = [_seed(rng) for _ in range(size)]

    # Near-duplicate floods: a few source rows, each copied ~50 times.
    dup_rows = [i for i, k in enumerate(kinds) if k == "near_duplicate"]
    n_groups = max(1, int(round(len(dup_rows) / 50))) if dup_rows else 0
    dup_group: dict[int, int] = {}
    dup_src: dict[int, int] = {}
    if dup_rows:
        for i, g in zip(dup_rows, (rng.permutation(len(dup_rows)) % n_groups).tolist(), strict=True):
            dup_group[i] = g
            dup_src.setdefault(g, i)

    pool_rows: list[dict] = []
    truth_rows: list[dict] = []
    jobs: list[RenderJob] = []
    for i, kind in enumerate(kinds):
        rid = f"pool-{i:06d}"
        rel = f"images/pool/{rid}.png"
        scene, cap, detail = scenes[i], clean_caps[i], ""
        job = RenderJob(str(out_dir / rel), scene, S, seeds[i])
        label, trap = kind, False
        if kind == "trap:busy_scene":
            label, trap, detail = CLEAN, True, "busy_scene"
            scene = random_busy_scene(rng)
            cap = C.busy_caption(scene, rng)
            job = RenderJob(job.path, scene, S, seeds[i])
        elif kind == "trap:terse_caption":
            label, trap, detail = CLEAN, True, "terse_caption"
            cap = C.terse_caption(scene, rng)
        elif kind == "trap:small_image":
            label, trap, detail = CLEAN, True, "small_image"
            side = int(round(S * rng.uniform(0.56, 0.69)))
            job = RenderJob(job.path, scene, side, seeds[i])
            detail = f"small_image:{side}px"
        elif kind == "mismatch":
            j = int(rng.integers(size - 1))
            j = j + 1 if j >= i else j
            cap = clean_caps[j]
        elif kind == "mild_mismatch":
            g = scene.groups[0]
            other = [c for c in colours_for(scene.background) if c != g.colour]
            wrong = Scene(scene.background, (Group(g.shape, str(rng.choice(other)), g.size, g.count, g.position),))
            cap = C.simple_caption(wrong, rng)
            detail = f"caption_colour:{wrong.groups[0].colour}"
        elif kind == "near_duplicate":
            src = dup_src[dup_group[i]]
            scene = scenes[src]
            cap = clean_caps[src] if rng.random() < 0.6 else C.simple_caption(scene, rng)
            job = RenderJob(job.path, scene, S, seeds[src], "noise", (int(rng.integers(4, 24)),), _seed(rng))
            detail = f"group:{dup_group[i]}"
        elif kind == "blur":
            if rng.random() < style.lowres_blur_share:
                k = int(round(S * rng.uniform(0.125, 0.19)))
                job = RenderJob(job.path, scene, S, seeds[i], "downup", (k,))
                detail = f"lowres:{k}px"
            else:
                radius = round(float(rng.uniform(0.6, 1.2)), 3)
                job = RenderJob(job.path, scene, S, seeds[i], "gauss", (radius,))
                detail = f"gauss:{radius}"
        elif kind == "extreme_aspect":
            short = int(round(S * rng.uniform(*style.strip_short_side)))
            wh = (S, short) if rng.random() < 0.5 else (short, S)
            job = RenderJob(job.path, scene, S, seeds[i], "resize", wh)
            detail = f"{wh[0]}x{wh[1]}"
        elif kind == "tiny_image":
            side = int(round(S * rng.uniform(0.19, 0.31)))
            job = RenderJob(job.path, scene, S, seeds[i], "resize", (side, side))
            detail = f"{side}px"
        elif kind == "blank_image":
            src = BACKGROUNDS if rng.random() < 0.7 else COLOURS
            colour = src[str(rng.choice(list(src)))]
            amp = int(rng.choice((0, 1, 2)))
            job = RenderJob(job.path, scene, S, seeds[i], "blank", (*colour, amp), _seed(rng))
            detail = f"noise:{amp}"
        elif kind == "repetitive_caption":
            cap = C.repetitive_caption(scene, rng)
        elif kind == "special_char_spam":
            cap = C.special_char_spam(cap, rng)
        elif kind == "short_caption":
            cap = C.short_caption(scene, rng)
        elif kind == "boilerplate_caption":
            cap = C.boilerplate_caption(cap, rng, style.ad_lines)
        elif kind == "gibberish_caption":
            cap = C.gibberish_caption(rng)
        else:
            assert kind == CLEAN, kind
        jobs.append(job)
        pool_rows.append({"id": rid, "text": _row_text(cap, dj_tokens), "images": [rel]})
        truth_rows.append(TruthRow(id=rid, label=label, careless_trap=trap, detail=detail).model_dump())

    # Clean eval/test: distinct attribute combinations where the space allows (unique-ish captions).
    space = all_simple_scenes()
    n_held = n_eval + n_test
    pick = rng.permutation(len(space))[: min(n_held, len(space))].tolist()
    pick += rng.integers(0, len(space), size=max(0, n_held - len(space))).tolist()
    held: dict[str, list[dict]] = {"eval": [], "test": []}
    held_kinds = _held_out_kinds(rates, n_held, seed) if scen.held_out_traps else [CLEAN] * n_held
    # (a separate stream: the held-out trap kinds never shift the main draw, and the choices below that
    # only trap rows make use it too, so scenarios without held-out traps stay draw for draw as before)
    trap_rng = np.random.default_rng([seed, 31])
    for k, idx in enumerate(pick):
        split, j = ("eval", k) if k < n_eval else ("test", k - n_eval)
        scene = space[idx]
        rid = f"{split}-{j:05d}"
        rel = f"images/{split}/{rid}.png"
        cap = C.simple_caption(scene, rng)
        job = RenderJob(str(out_dir / rel), scene, S, _seed(rng))
        labels = scene.labels()
        if held_kinds[k] == "trap:busy_scene":  # labels stay the first group's (scene.labels reads group 0)
            busy = random_busy_scene(trap_rng)
            cap, job = C.busy_caption(busy, trap_rng), RenderJob(job.path, busy, S, job.seed)
            labels = busy.labels()
        elif held_kinds[k] == "trap:terse_caption":
            cap = C.terse_caption(scene, trap_rng)
        elif held_kinds[k] == "trap:small_image":
            job = RenderJob(job.path, scene, int(round(S * trap_rng.uniform(0.56, 0.69))), job.seed)
        jobs.append(job)
        held[split].append({"id": rid, "text": _row_text(cap, dj_tokens), "images": [rel], "labels": labels})

    hashes = _render_all(jobs, workers)
    # No held-out image may be byte-identical to a pool image (or to another held-out one).
    seen = set(hashes[:size])
    for n in range(size, len(jobs)):
        salt = 0
        while hashes[n] in seen:
            salt += 1
            j = jobs[n]
            jobs[n] = RenderJob(j.path, j.scene, j.side, (j.seed + 7919 * salt) % 2**62)
            hashes[n] = run_job(jobs[n])
        seen.add(hashes[n])

    paths = {name: out_dir / f"{name}.jsonl" for name in ("pool", "eval", "test", "truth")}
    _write_jsonl(paths["pool"], pool_rows)
    _write_jsonl(paths["eval"], held["eval"])
    _write_jsonl(paths["test"], held["test"])
    _write_jsonl(paths["truth"], truth_rows)

    counts = Counter(r["label"] for r in truth_rows)
    ordered = {CLEAN: counts.get(CLEAN, 0), **{k: counts.get(k, 0) for k in FAMILIES}}
    n_corrupted = size - ordered[CLEAN]
    info = BenchmarkInfo(
        out_dir=out_dir,
        pool=paths["pool"],
        eval=paths["eval"],
        test=paths["test"],
        truth=paths["truth"],
        size=size,
        n_eval=n_eval,
        n_test=n_test,
        seed=seed,
        image_size=S,
        scenario=scen.name,
        scenario_summary=scen.summary,
        custom_rates=custom_rates,
        rates=rates,
        style=style,
        counts=ordered,
        trap_counts=trap_counts,
        n_clean=ordered[CLEAN],
        n_corrupted=n_corrupted,
        corrupted_fraction=round(n_corrupted / size, 4),
        attributes=ATTRIBUTES,
    )
    (out_dir / "info.json").write_text(
        info.model_dump_json(indent=2, exclude={"out_dir", "pool", "eval", "test", "truth"}) + "\n"
    )
    (out_dir / "README.md").write_text(_readme(info))
    info.elapsed_s = round(time.perf_counter() - t0, 3)
    return info


def _readme(info: BenchmarkInfo) -> str:
    lines = [
        "# recipelab noisy benchmark",
        "",
        f"Generated by `recipelab.data.benchmark.make_benchmark` with seed {info.seed}: a pool of "
        f"{info.size} image-caption pairs of flat coloured shapes ({info.image_size} px), "
        f"{info.n_corrupted} of them corrupted ({info.corrupted_fraction:.1%}), and clean `eval.jsonl` "
        f"({info.n_eval}) and `test.jsonl` ({info.n_test}) splits whose rows carry `labels`.",
        "",
        "`truth.jsonl` holds one row per pool id: `label` (`clean` or a family below), `careless_trap` and a "
        "`detail`. It is for scoring only; no recipe may read it.",
        "",
        f"## Scenario: `{info.scenario}`" + (" (rates overridden)" if info.custom_rates else ""),
        "",
        info.scenario_summary or "-",
        "",
        "Family look: "
        f"low-res share of blur {info.style.lowres_blur_share:g}, "
        f"ad lines {info.style.ad_lines[0]}-{info.style.ad_lines[1]}, "
        f"strip short side {info.style.strip_short_side[0]:g}-{info.style.strip_short_side[1]:g} of the long side.",
        "",
        "## Corruption mix",
        "",
        "| label | rows | share | rate | what | seen by |",
        "|---|---:|---:|---:|---|---|",
        f"| clean | {info.n_clean} | {info.n_clean / info.size:.1%} | - | correct caption of a sharp image "
        "(careless-filter traps included) | - |",
    ]
    fam_rates, trap_rates = info.rates.families(), info.rates.traps()
    for fam, (what, stat) in FAMILIES.items():
        n = info.counts.get(fam, 0)
        lines.append(f"| {fam} | {n} | {n / info.size:.1%} | {fam_rates.get(fam, 0.0):g} | {what} | {stat} |")
    lines += [
        "",
        "## Careless-filter traps (clean, `careless_trap: true`)",
        "",
        "| trap | rows | rate | what |",
        "|---|---:|---:|---|",
    ]
    for k, what in TRAPS.items():
        lines.append(f"| {k} | {info.trap_counts.get(k, 0)} | {trap_rates.get(k, 0.0):g} | {what} |")
    lines += [
        "",
        "## Eval/test labels",
        "",
        *[f"- `{k}`: {', '.join(v)}" for k, v in info.attributes.items()],
        "",
        "Eval and test scenes are distinct attribute combinations (where the space allows) and no held-out "
        "image is byte-identical to a pool image.",
        "",
    ]
    return "\n".join(lines)


def zero_shot_prompt(attribute: str, value: str) -> str:
    """A caption-like prompt for one attribute value, for zero-shot classification of eval/test rows."""
    if attribute == "shape":
        return f"a photo of {C.SHAPE_PLURALS[value]}"
    if attribute == "colour":
        return f"a photo of {value} shapes"
    if attribute == "size":
        return f"a photo of {value} shapes"
    if attribute == "count":
        return f"a photo of {C._NUM[int(value)]} shapes"
    if attribute == "position":
        return f"shapes {C._POS_PHRASES[value][0]}"
    if attribute == "background":
        return f"shapes on a {value} background"
    raise ValueError(f"unknown attribute {attribute!r}")
