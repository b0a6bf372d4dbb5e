"""Time the default `clip` probe and write benchmarks/results/probe_speed.md.

Generates (once, under --workdir) a glyph pool of 64 px JPEGs with captions such as
"two red squares on the left", plus a clean 1,000-pair eval split with `labels`, builds the run's
tokenizer and a 32 px image bank, then times the default probe (median of --repeats runs).

    python benchmarks/probe_speed.py                  # default probe, 5 repeats
    python benchmarks/probe_speed.py --quality 3      # also clean vs 40%-mismatched pool, 3 seeds
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recipelab.data.sample import Sample  # noqa: E402
from recipelab.trainers import DEFAULT_MODEL, DEFAULT_PROBE, ClipTrainer, ImageBank, ProbeSpec  # noqa: E402
from recipelab.trainers.base import library_versions  # noqa: E402
from recipelab.trainers.tokenizer import ProbeTokenizer  # noqa: E402

COLOURS = {
    "red": (220, 30, 30),
    "green": (30, 170, 40),
    "blue": (30, 60, 220),
    "yellow": (235, 210, 20),
    "purple": (140, 40, 170),
    "orange": (245, 130, 20),
    "black": (15, 15, 15),
    "cyan": (20, 200, 210),
}
SHAPES = ("circle", "square", "triangle", "cross", "diamond")
COUNTS = {1: "one", 2: "two", 3: "three"}
PLACES = ("left", "right", "top", "bottom")


def draw_glyph(rng: np.random.Generator, size: int):
    colour = str(rng.choice(list(COLOURS)))
    shape = str(rng.choice(SHAPES))
    count = int(rng.integers(1, 4))
    place = str(rng.choice(PLACES))
    bg = tuple(int(v) for v in rng.integers(170, 256, 3))
    im = Image.new("RGB", (size, size), bg)
    d = ImageDraw.Draw(im)
    r = size // 9
    cx0, cy0 = {"left": (0.3, 0.5), "right": (0.7, 0.5), "top": (0.5, 0.3), "bottom": (0.5, 0.7)}[place]
    for k in range(count):
        off = (k - (count - 1) / 2) * 2.4 * r
        cx = cx0 * size + (0 if place in ("left", "right") else off) + rng.normal(0, size * 0.02)
        cy = cy0 * size + (off if place in ("left", "right") else 0) + rng.normal(0, size * 0.02)
        box = (cx - r, cy - r, cx + r, cy + r)
        fill = COLOURS[colour]
        if shape == "circle":
            d.ellipse(box, fill=fill)
        elif shape == "square":
            d.rectangle(box, fill=fill)
        elif shape == "triangle":
            d.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=fill)
        elif shape == "diamond":
            d.polygon([(cx, cy - r), (cx - r, cy), (cx, cy + r), (cx + r, cy)], fill=fill)
        else:
            w = max(1, r // 2)
            d.rectangle((cx - w, cy - r, cx + w, cy + r), fill=fill)
            d.rectangle((cx - r, cy - w, cx + r, cy + w), fill=fill)
    noun = shape + ("s" if count > 1 else "")
    caption = f"{COUNTS[count]} {colour} {noun} on the {place}"
    labels = {"shape": shape, "colour": colour, "count": str(count), "place": place}
    return im, caption, labels


def make_pool(folder: Path, n: int, seed: int, size: int = 64, prefix: str = "s") -> list[Sample]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        im, caption, labels = draw_glyph(rng, size)
        path = folder / f"{prefix}{i:06d}.jpg"
        if not path.exists():
            im.save(path, quality=90)
        out.append(Sample(id=f"{prefix}{i}", text=caption, images=[str(path)], extra={"labels": labels}))
    return out


def mismatch(samples: list[Sample], frac: float, seed: int) -> list[Sample]:
    """A copy where `frac` of the captions are swapped among themselves (the classic noisy pair)."""
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(samples), size=int(frac * len(samples)), replace=False)
    texts = [samples[i].text for i in rng.permutation(idx)]
    out = list(samples)
    for i, t in zip(idx, texts, strict=True):
        s = samples[i]
        out[i] = Sample(id=s.id, text=t, images=s.images, extra=s.extra)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workdir", default=os.environ.get("RECIPELAB_BENCH_DIR", "/tmp/recipelab-probe-bench"))
    ap.add_argument("--pool", type=int, default=10_000)
    ap.add_argument("--eval", type=int, default=1_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quality", type=int, default=0, help="seeds for the clean-vs-noisy check (0: skip)")
    ap.add_argument("--steps", type=int, default=DEFAULT_PROBE["steps"])
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "probe_speed.md"))
    args = ap.parse_args()

    work = Path(args.workdir)
    t = time.perf_counter()
    pool = make_pool(work / "pool", args.pool, seed=1)
    evals = make_pool(work / "eval", args.eval, seed=2, prefix="e")
    gen_s = time.perf_counter() - t
    tok = ProbeTokenizer.build_or_load(work / "tokenizer.json", (s.plain_text() for s in pool))
    t = time.perf_counter()
    bank = ImageBank.from_samples(pool + evals, 32, cache_dir=work / "cache", key=f"bench{args.pool}-{args.eval}")
    bank_s = time.perf_counter() - t
    trainer = ClipTrainer(tok, bank, threads=args.threads)
    spec = ProbeSpec(steps=args.steps, train_size=5000, seed=0)

    trainer.run(spec.model_copy(update={"steps": 2}), pool, evals)  # warm-up: imports, allocator
    walls, cpus, results = [], [], []
    load0 = os.getloadavg()[0]
    for r in range(args.repeats):
        c0 = time.process_time()
        res = trainer.run(spec.model_copy(update={"seed": r}), pool, evals)
        cpus.append(time.process_time() - c0)
        walls.append(res.wall_time_s)
        results.append(res)
        print(
            f"run {r}: wall {res.wall_time_s:.2f}s train {res.train_time_s:.2f}s eval {res.eval_time_s:.2f}s "
            f"{res.samples_per_s:.0f} samples/s mean_recall {res.metrics['mean_recall']:.3f}",
            flush=True,
        )
    med = statistics.median(walls)
    sps = statistics.median(r.samples_per_s for r in results)
    ev = statistics.median(r.eval_time_s for r in results)
    mr = [r.metrics["mean_recall"] for r in results]

    lines = [
        "# Probe speed (default `clip` probe)",
        "",
        f"- machine: {os.cpu_count()} CPUs, torch threads {trainer.threads}, device {trainer.device}",
        f"- versions: {library_versions()}",
        f"- pool: {args.pool} generated glyph JPEGs at 64 px (generation {gen_s:.1f} s), "
        f"image bank at 32 px: {bank_s:.2f} s ({'cache hit' if bank.from_cache else 'decoded'})",
        f"- spec: steps {spec.steps}, batch {spec.batch_size}, train draw {spec.train_size}, "
        f"max_text_len {spec.max_text_len}, lr {spec.lr}",
        f"- model: {DEFAULT_MODEL}",
        "",
        "| metric | value |",
        "|---|---|",
        f"| wall time per probe (median of {args.repeats}) | {med:.2f} s |",
        f"| CPU time per probe / threads (median; wall time on an idle machine) "
        f"| {statistics.median(cpus) / trainer.threads:.2f} s |",
        f"| load average (1 min) before / after the timed runs | {load0:.2f} / {os.getloadavg()[0]:.2f} |",
        f"| train samples/s (median) | {sps:.0f} |",
        f"| eval time on {results[0].eval_size} pairs (median) | {ev:.2f} s |",
        f"| mean_recall over seeds 0..{args.repeats - 1} | {np.mean(mr):.3f} ± {np.std(mr):.3f} |",
        "",
    ]
    if args.quality:
        noisy = mismatch(pool, 0.4, seed=3)
        rows = []
        for name, p in (("clean", pool), ("40% mismatched captions", noisy)):
            vals = [trainer.run(spec.model_copy(update={"seed": s}), p, evals).metrics for s in range(args.quality)]
            m = [v["mean_recall"] for v in vals]
            r1 = [v["recall@1"] for v in vals]
            zs = [v.get("zeroshot", float("nan")) for v in vals]
            rows.append((name, m, r1, zs))
            print(name, np.mean(m), np.std(m), flush=True)
        lines += [
            f"## Clean vs noisy pool ({args.quality} seeds, same draw size)",
            "",
            "| pool | mean_recall | recall@1 | zeroshot |",
            "|---|---|---|---|",
        ]
        for name, m, r1, zs in rows:
            lines.append(
                f"| {name} | {np.mean(m):.3f} ± {np.std(m):.3f} | {np.mean(r1):.3f} ± {np.std(r1):.3f} "
                f"| {np.mean(zs):.3f} ± {np.std(zs):.3f} |"
            )
        gap = np.mean(rows[0][1]) - np.mean(rows[1][1])
        sd = max(np.std(rows[0][1]), np.std(rows[1][1]), 1e-9)
        lines += ["", f"gap / seed std (mean_recall): {gap / sd:.1f}", ""]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
