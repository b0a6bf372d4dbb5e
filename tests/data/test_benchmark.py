"""The built-in noisy benchmark: layout, determinism, rates, truth, leakage, and that each family shows."""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError

from recipelab.data.benchmark import (
    ATTRIBUTES,
    CLEAN,
    FAMILIES,
    SCENARIOS,
    CorruptionRates,
    FamilyStyle,
    Scenario,
    caption_key,
    clean_ids,
    get_scenario,
    load_truth,
    load_truth_rows,
    make_benchmark,
    oracle_ids,
    trap_ids,
    truth_shares,
    zero_shot_prompt,
)
from recipelab.data.benchmark.scene import COLOURS
from recipelab.data.sample import EOC_TOKEN, IMAGE_TOKEN, strip_special_tokens

SIZE, N_EVAL, N_TEST = 300, 50, 50
WORD = re.compile(r"[a-z]+")


def _read(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def _sha(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def _image_hashes(d: Path) -> dict[str, str]:
    return {str(p.relative_to(d)): _sha(p) for p in sorted((d / "images").rglob("*.png"))}


def _gray(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("L"), dtype=np.float64)


def _laplacian_var(g: np.ndarray) -> float:
    lap = g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:] - 4 * g[1:-1, 1:-1]
    return float(lap.var())


def _entropy(g: np.ndarray) -> float:
    h = np.bincount(g.astype(np.int64).ravel(), minlength=256) / g.size
    h = h[h > 0]
    return float(-(h * np.log2(h)).sum())


def _ahash(path: Path) -> int:
    a = np.asarray(Image.open(path).convert("L").resize((8, 8), Image.Resampling.BILINEAR), dtype=np.float64)
    bits = (a > a.mean()).ravel()
    return int("".join("1" if b else "0" for b in bits), 2)


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    d = tmp_path_factory.mktemp("bench")
    info = make_benchmark(d, size=SIZE, n_eval=N_EVAL, n_test=N_TEST, seed=3, workers=1)
    pool = _read(d / "pool.jsonl")
    truth = {r.id: r for r in load_truth_rows(d)}
    by_label: dict[str, list[dict]] = defaultdict(list)
    for row in pool:
        t = truth[row["id"]]
        key = "trap:" + t.detail.split(":")[0] if t.careless_trap else t.label
        by_label[key].append(row)
    return d, info, pool, truth, by_label


def _plain(row: dict) -> str:
    return strip_special_tokens(row["text"]).strip()


def test_files_and_rows(bench):
    d, info, pool, _, _ = bench
    for name in ("pool.jsonl", "eval.jsonl", "test.jsonl", "truth.jsonl", "README.md", "info.json"):
        assert (d / name).is_file(), name
    assert len(pool) == SIZE
    assert len(_read(d / "eval.jsonl")) == N_EVAL and len(_read(d / "test.jsonl")) == N_TEST
    for split in ("pool", "eval", "test"):
        rows = _read(d / f"{split}.jsonl")
        assert len({r["id"] for r in rows}) == len(rows)
        for r in rows:
            assert isinstance(r["id"], str) and isinstance(r["text"], str)
            assert r["text"].startswith(IMAGE_TOKEN) and r["text"].endswith(EOC_TOKEN)
            assert len(r["images"]) == 1
            rel = r["images"][0]
            assert not Path(rel).is_absolute() and rel.startswith(f"images/{split}/")
            with Image.open(d / rel) as im:
                assert im.format == "PNG" and im.mode == "RGB"
    readme = (d / "README.md").read_text()
    assert f"| mismatch | {info.counts['mismatch']} |" in readme
    assert json.loads((d / "info.json").read_text())["counts"] == info.counts


def test_pool_rows_reveal_nothing(bench):
    d, _, pool, _, _ = bench
    assert all(set(r) == {"id", "text", "images"} for r in pool)
    assert all(re.fullmatch(r"pool-\d{6}", r["id"]) for r in pool)
    for split in ("eval", "test"):
        for r in _read(d / f"{split}.jsonl"):
            assert set(r["labels"]) == set(ATTRIBUTES)
            assert all(r["labels"][k] in ATTRIBUTES[k] for k in ATTRIBUTES)


def test_deterministic(bench, tmp_path):
    d, *_ = bench
    make_benchmark(tmp_path / "a", size=SIZE, n_eval=N_EVAL, n_test=N_TEST, seed=3, workers=1)
    for name in ("pool.jsonl", "eval.jsonl", "test.jsonl", "truth.jsonl", "README.md", "info.json"):
        assert (d / name).read_bytes() == (tmp_path / "a" / name).read_bytes(), name
    assert _image_hashes(d) == _image_hashes(tmp_path / "a")
    make_benchmark(tmp_path / "b", size=SIZE, n_eval=N_EVAL, n_test=N_TEST, seed=4, workers=1)
    assert (d / "pool.jsonl").read_bytes() != (tmp_path / "b" / "pool.jsonl").read_bytes()


def test_workers_do_not_change_output(tmp_path):
    kw = dict(size=900, n_eval=60, n_test=60, seed=1)  # 1020 images: the parallel path is taken
    make_benchmark(tmp_path / "s", workers=1, **kw)
    make_benchmark(tmp_path / "p", workers=2, **kw)
    assert (tmp_path / "s" / "pool.jsonl").read_bytes() == (tmp_path / "p" / "pool.jsonl").read_bytes()
    assert _image_hashes(tmp_path / "s") == _image_hashes(tmp_path / "p")


def test_rates_respected(bench):
    _, info, _, truth, _ = bench
    rates = CorruptionRates()
    assert sum(info.counts.values()) == SIZE
    for fam, rate in rates.families().items():
        assert abs(info.counts[fam] - rate * SIZE) <= 1, fam
    for kind, rate in rates.traps().items():
        assert abs(info.trap_counts[kind] - rate * SIZE) <= 1, kind
    assert 0.45 <= info.corrupted_fraction <= 0.52
    assert max(rates.families(), key=rates.families().get) == "mismatch"
    assert info.n_corrupted == sum(t.label != CLEAN for t in truth.values())


def test_default_mix_at_full_size_is_exact():
    rates = CorruptionRates()
    from recipelab.data.benchmark.generate import _split_counts

    counts = _split_counts(rates.families(), 10000)
    assert counts == {k: round(v * 10000) for k, v in rates.families().items()}
    assert 0.45 <= sum(counts.values()) / 10000 <= 0.5


def test_rates_validated():
    with pytest.raises(ValidationError):
        CorruptionRates(mismatch=0.9)
    with pytest.raises(ValidationError):
        CorruptionRates(blur=-0.1)


def test_truth(bench):
    d, _, pool, truth, _ = bench
    assert list(truth) == [r["id"] for r in pool]
    assert set(t.label for t in truth.values()) <= {CLEAN, *FAMILIES}
    labels = load_truth(d / "truth.jsonl")
    assert labels == load_truth(d) and len(labels) == SIZE
    clean = clean_ids(d)
    assert clean == [i for i, lab in labels.items() if lab == CLEAN]
    traps = trap_ids(d)
    assert traps and set(traps) <= set(clean)
    assert all(truth[i].label == CLEAN for i in traps)


def test_held_out_images_are_not_pool_images(bench):
    d, *_ = bench
    hashes = _image_hashes(d)
    pool = {h for p, h in hashes.items() if p.startswith("images/pool/")}
    held = [h for p, h in hashes.items() if not p.startswith("images/pool/")]
    assert len(held) == N_EVAL + N_TEST
    assert not pool & set(held)
    assert len(set(held)) == len(held)


def test_held_out_captions_mostly_unique(bench):
    d, *_ = bench
    for split in ("eval", "test"):
        rows = _read(d / f"{split}.jsonl")
        combos = {tuple(sorted(r["labels"].items())) for r in rows}
        assert len(combos) == len(rows)
        assert len({_plain(r) for r in rows}) >= 0.95 * len(rows)


# ---- each family can be seen by a simple statistic -------------------------------------------------------


def _stat(d: Path, rows: list[dict], fn) -> np.ndarray:
    return np.array([fn(_gray(d / r["images"][0])) for r in rows])


def test_blank_images_have_low_entropy(bench):
    d, _, _, _, by = bench
    blank = _stat(d, by["blank_image"], _entropy)
    clean = _stat(d, by[CLEAN], _entropy)
    assert len(blank) > 0 and blank.max() < 2.5 < clean.min()


def test_blur_lowers_sharpness(bench):
    d, _, _, truth, by = bench
    blur = _stat(d, by["blur"], _laplacian_var)
    clean = _stat(d, by[CLEAN], _laplacian_var)
    assert np.median(blur) < 0.2 * np.median(clean)
    lowres = [r for r in by["blur"] if truth[r["id"]].detail.startswith("lowres")]
    assert np.median(_stat(d, lowres, _laplacian_var)) < np.percentile(clean, 5)
    # the moderate half overlaps the clean range: no single threshold gets all of it for free
    gauss = [r for r in by["blur"] if truth[r["id"]].detail.startswith("gauss")]
    assert _stat(d, gauss, _laplacian_var).max() > np.percentile(clean, 5)


def _size(d: Path, row: dict) -> tuple[int, int]:
    with Image.open(d / row["images"][0]) as im:
        return im.size


def test_image_shapes(bench):
    d, info, pool, _, by = bench
    side = info.image_size
    for r in by["extreme_aspect"]:
        w, h = _size(d, r)
        assert max(w, h) / min(w, h) >= 3
    for r in by["tiny_image"]:
        assert max(_size(d, r)) <= 20
    small = [_size(d, r) for r in by["trap:small_image"]]
    assert small and all(30 <= w == h <= 46 for w, h in small)
    # small traps are sharp (a sharpness filter should not take them)
    assert np.median(_stat(d, by["trap:small_image"], _laplacian_var)) > np.percentile(
        _stat(d, by[CLEAN], _laplacian_var), 25
    )
    for key in (CLEAN, "mismatch", "trap:busy_scene", "blank_image", "near_duplicate"):
        assert all(_size(d, r) == (side, side) for r in by[key]), key


def test_near_duplicate_floods_share_a_perceptual_hash(bench):
    d, _, _, truth, by = bench
    groups: dict[str, list[int]] = defaultdict(list)
    for r in by["near_duplicate"]:
        groups[truth[r["id"]].detail].append(_ahash(d / r["images"][0]))
    assert len(groups) >= 1 and max(len(g) for g in groups.values()) >= 5
    for hashes in groups.values():
        assert max(bin(h ^ hashes[0]).count("1") for h in hashes) <= 2
    files = [_sha(d / r["images"][0]) for r in by["near_duplicate"]]
    assert len(set(files)) == len(files)  # not byte-identical: an exact-hash dedup misses them


def _special_ratio(text: str) -> float:
    return sum(not (c.isalnum() or c.isspace()) for c in text) / max(len(text), 1)


def _distinct_word_ratio(text: str) -> float:
    words = text.split()
    return len(set(words)) / max(len(words), 1)


def test_caption_families(bench):
    _, _, _, _, by = bench
    clean = [_plain(r) for r in by[CLEAN]]
    clean_len = np.array([len(t) for t in clean])
    assert all(len(_plain(r).split()) <= 2 for r in by["short_caption"])
    assert min(len(_plain(r).split()) for r in by[CLEAN]) >= 5
    boiler = [_plain(r) for r in by["boilerplate_caption"]]
    busy = [_plain(r) for r in by["trap:busy_scene"]]
    assert min(len(t) for t in boiler) > max(len(t) for t in busy) > clean_len.max()
    assert all(t.count("\n") >= 3 for t in boiler)
    assert min(_special_ratio(_plain(r)) for r in by["special_char_spam"]) > 0.2
    assert max(_special_ratio(t) for t in clean) < 0.1
    assert max(_distinct_word_ratio(_plain(r)) for r in by["repetitive_caption"]) < 0.35
    assert min(_distinct_word_ratio(t) for t in clean) > 0.6
    vocab = {w for t in clean for w in WORD.findall(t)}
    for r in by["gibberish_caption"]:
        words = WORD.findall(_plain(r))
        assert sum(w in vocab for w in words) / len(words) < 0.5


def _caption_colour(text: str) -> str | None:
    for w in WORD.findall(text):
        if w in COLOURS:
            return w
    return None


def _shows_colour(path: Path, colour: str) -> bool:
    a = np.asarray(Image.open(path).convert("RGB"))
    return bool((a == np.array(COLOURS[colour], dtype=np.uint8)).all(axis=-1).sum() >= 4)


def test_mismatched_captions_name_colours_not_in_the_image(bench):
    d, _, _, _, by = bench

    def hit_rate(rows):
        hits = [_shows_colour(d / r["images"][0], _caption_colour(_plain(r))) for r in rows]
        return float(np.mean(hits))

    assert hit_rate(by[CLEAN]) == 1.0
    assert hit_rate(by["mismatch"]) < 0.4
    assert hit_rate(by["mild_mismatch"]) < 0.2


def test_zero_shot_prompts_cover_the_vocabulary():
    prompts = {(a, v): zero_shot_prompt(a, v) for a, vals in ATTRIBUTES.items() for v in vals}
    for a in ATTRIBUTES:
        texts = [p for (aa, _), p in prompts.items() if aa == a]
        assert len(set(texts)) == len(texts), a
    with pytest.raises(ValueError):
        zero_shot_prompt("texture", "smooth")


# ---- the default scenario is the pre-scenario generator, byte for byte ----------------------------------

#: Digests of what `make_benchmark(size=300, n_eval=50, n_test=50, seed=3)` wrote before scenarios existed:
#: the four JSONL files' bytes, and every image's decoded pixels (independent of the zlib build).
GOLDEN_JSONL = "c72c930b91eb2e1406705de05259bef12ab2db3b6fe1f3da8cd63c4d61b58816"
GOLDEN_PIXELS = "64d0250f4575d8955e70008fb424c78100098d29e406bd115a15ddededb66cd2"


def _digests(d: Path) -> tuple[str, str]:
    jl = hashlib.sha256()
    for name in ("pool", "eval", "test", "truth"):
        jl.update((d / f"{name}.jsonl").read_bytes())
    px = hashlib.sha256()
    for p in sorted((d / "images").rglob("*.png")):
        with Image.open(p) as im:
            px.update(str(p.relative_to(d)).encode())
            px.update(repr(im.size).encode())
            px.update(im.convert("RGB").tobytes())
    return jl.hexdigest(), px.hexdigest()


def test_default_scenario_matches_the_pre_scenario_generator(bench, tmp_path):
    d, info, *_ = bench
    assert info.scenario == "default" and not info.custom_rates
    assert _digests(d) == (GOLDEN_JSONL, GOLDEN_PIXELS)
    # naming the default explicitly, or passing its rates, changes nothing
    make_benchmark(tmp_path / "x", size=SIZE, n_eval=N_EVAL, n_test=N_TEST, seed=3, workers=1, scenario="default")
    for name in ("pool.jsonl", "truth.jsonl", "info.json", "README.md"):
        assert (d / name).read_bytes() == (tmp_path / "x" / name).read_bytes(), name
    assert SCENARIOS["default"].rates == CorruptionRates() and SCENARIOS["default"].style == FamilyStyle()


# ---- scenarios ------------------------------------------------------------------------------------------


def test_scenario_registry_and_unknown_name(tmp_path):
    assert {"default", "no-mismatch", "mostly-clean", "traps", "mixed-6"} <= set(SCENARIOS)
    assert all(name == s.name and s.summary for name, s in SCENARIOS.items())
    assert get_scenario("traps") is SCENARIOS["traps"]
    custom = Scenario(name="five-percent-mismatch", summary="t", rates=CorruptionRates().scaled(0, mismatch=0.05))
    assert get_scenario(custom) is custom
    with pytest.raises(ValueError, match=r"unknown benchmark scenario 'nope'; known: default, no-mismatch, "):
        get_scenario("nope")
    with pytest.raises(ValueError, match=r"known: .*mixed-6"):
        make_benchmark(tmp_path / "never", size=50, n_eval=5, n_test=5, scenario="nope")
    assert not (tmp_path / "never").exists()  # refused before writing anything


def test_family_style_validated():
    with pytest.raises(ValidationError):
        FamilyStyle(ad_lines=(0, 2))
    with pytest.raises(ValidationError):
        FamilyStyle(ad_lines=(3, 2))
    with pytest.raises(ValidationError):
        FamilyStyle(strip_short_side=(0.4, 0.6))
    with pytest.raises(ValidationError):
        FamilyStyle(lowres_blur_share=1.5)


SCEN_SIZE = 400


@pytest.fixture(scope="module")
def scenario_benches(tmp_path_factory):
    out = {}
    for name in ("no-mismatch", "mostly-clean", "traps", "mixed-6"):
        d = tmp_path_factory.mktemp(name)
        info = make_benchmark(d, size=SCEN_SIZE, n_eval=10, n_test=10, seed=5, workers=1, scenario=name)
        out[name] = (d, info)
    return out


def _rows_by_kind(d: Path) -> dict[str, list[dict]]:
    truth = {r.id: r for r in load_truth_rows(d)}
    by: dict[str, list[dict]] = defaultdict(list)
    for row in _read(d / "pool.jsonl"):
        t = truth[row["id"]]
        by[f"trap:{t.trap_kind}" if t.careless_trap else t.label].append(row)
    return by


@pytest.mark.parametrize("name", ["no-mismatch", "mostly-clean", "traps", "mixed-6"])
def test_scenario_shares_follow_its_rates(scenario_benches, name):
    d, info = scenario_benches[name]
    rates = SCENARIOS[name].rates
    shares = truth_shares(d)
    for fam, rate in rates.families().items():
        assert abs(shares.get(fam, 0.0) - rate) <= 1.5 / SCEN_SIZE, fam
    for kind, rate in rates.traps().items():
        assert abs(shares.get(f"trap:{kind}", 0.0) - rate) <= 1.5 / SCEN_SIZE, kind
    assert abs((1 - shares[CLEAN]) - rates.noise()) <= 1.5 / SCEN_SIZE
    assert info.scenario == name and not info.custom_rates and info.rates == rates
    meta = json.loads((d / "info.json").read_text())
    assert meta["scenario"] == name and meta["rates"] == rates.model_dump()
    assert f"## Scenario: `{name}`" in (d / "README.md").read_text()


def test_scenario_descriptions(scenario_benches):
    nm = SCENARIOS["no-mismatch"].rates
    assert nm.mismatch == nm.mild_mismatch == nm.gibberish_caption == 0 and 0.4 <= nm.noise() <= 0.5
    assert abs(SCENARIOS["mostly-clean"].rates.noise() - 0.05) < 1e-9
    tr = SCENARIOS["traps"].rates
    assert sum(tr.traps().values()) >= 0.25 and 0.2 <= tr.noise() <= 0.3
    m6 = SCENARIOS["mixed-6"]
    assert m6.size == 6000 and 0.25 <= m6.rates.mismatch <= 0.35
    six = {"mismatch", "near_duplicate", "blur", "short_caption", "boilerplate_caption", "extreme_aspect"}
    assert {k for k, v in m6.rates.families().items() if v > 0} == six
    assert sum(m6.rates.traps().values()) > 0


def test_traps_hold_out_rows_like_their_traps(scenario_benches, tmp_path):
    """In `traps` the eval/test splits hold busy scenes, terse captions and small images in their share of
    the pool's clean rows, so removing the traps costs on held-out data; other scenarios hold typical rows."""
    from recipelab.data.benchmark.generate import _held_out_kinds

    rates = SCENARIOS["traps"].rates
    kinds = _held_out_kinds(rates, 1000, seed=5)
    clean_share = 1 - rates.noise()
    for kind, rate in rates.traps().items():
        assert abs(kinds.count(f"trap:{kind}") / 1000 - rate / clean_share) < 0.002, kind
    assert SCENARIOS["traps"].held_out_traps and not SCENARIOS["default"].held_out_traps
    d = tmp_path / "t"
    make_benchmark(d, size=200, n_eval=60, n_test=60, seed=5, workers=1, scenario="traps")
    held = _read(d / "eval.jsonl") + _read(d / "test.jsonl")
    busy = [r for r in held if "busy scene" in r["text"] or "detailed picture" in r["text"]]
    assert 0.05 <= len(busy) / len(held) <= 0.3 and all(set(r["labels"]) >= {"shape", "background"} for r in busy)
    sizes = {Image.open(d / r["images"][0]).size[0] for r in held}
    assert min(sizes) < 64 == max(sizes)  # small images among the 64 px ones
    d2, _ = scenario_benches["mixed-6"]
    plain = _read(d2 / "eval.jsonl") + _read(d2 / "test.jsonl")
    assert not [r for r in plain if "busy scene" in r["text"] or "detailed picture" in r["text"]]


def test_mixed6_family_looks(scenario_benches):
    d, _ = scenario_benches["mixed-6"]
    truth = {r.id: r for r in load_truth_rows(d)}
    by = _rows_by_kind(d)
    assert all(truth[r["id"]].detail.startswith("lowres") for r in by["blur"])  # heavy blur only
    assert all(_plain(r).count("\n") == 1 for r in by["boilerplate_caption"])  # one ad sentence
    for r in by["extreme_aspect"]:  # thin strips
        w, h = _size(d, r)
        assert max(w, h) / min(w, h) >= 4.5
    assert all(len(_plain(r).split()) <= 2 for r in by["short_caption"])
    terse = [len(_plain(r).split()) for r in by["trap:terse_caption"]]
    assert terse and all(3 <= n <= 4 for n in terse)
    assert min(len(_plain(r).split()) for r in by[CLEAN]) >= 5


def test_custom_rates_are_recorded(tmp_path):
    rates = CorruptionRates().scaled(0, mismatch=0.35)
    info = make_benchmark(tmp_path, size=100, n_eval=5, n_test=5, seed=0, workers=1, rates=rates)
    assert info.custom_rates and info.scenario == "default" and info.n_corrupted == 35
    assert "(rates overridden)" in (tmp_path / "README.md").read_text()


# ---- the oracle: the best pool the truth allows ---------------------------------------------------------


def _fake_bench(d: Path, rows: list[tuple[str, str, str, str]]) -> Path:
    """rows: (id, caption, label, detail); a row is a trap when its detail is `trap`."""
    d.mkdir(parents=True, exist_ok=True)
    with (d / "pool.jsonl").open("w") as f:
        for rid, cap, _, _ in rows:
            f.write(json.dumps({"id": rid, "text": f"{IMAGE_TOKEN} {cap} {EOC_TOKEN}", "images": []}) + "\n")
    with (d / "truth.jsonl").open("w") as f:
        for rid, _, label, detail in rows:
            f.write(json.dumps({"id": rid, "label": label, "careless_trap": detail == "trap", "detail": detail}) + "\n")
    return d


def test_oracle_collapses_exact_duplicate_captions(tmp_path):
    d = _fake_bench(
        tmp_path,
        [
            ("a", "two red circles", CLEAN, ""),
            ("b", "a blue star", "mismatch", ""),
            ("c", "two  red circles ", CLEAN, "trap"),  # same caption after whitespace: collapsed, first kept
            ("d", "a blue star", CLEAN, ""),  # repeats a noisy row's caption only: kept
            ("e", "one green ring", "near_duplicate", "group:0"),
            ("f", "one green ring", "near_duplicate", "group:0"),
            ("g", "three stars", "near_duplicate", "group:1"),
            ("h", "Two red circles", CLEAN, ""),  # differs in case: a different caption
        ],
    )
    assert clean_ids(d) == ["a", "c", "d", "h"]
    assert oracle_ids(d) == ["a", "d", "h"]
    assert oracle_ids(d, keep_one_per_flood=True) == ["a", "d", "e", "g", "h"]


def test_oracle_on_a_generated_benchmark(bench):
    d, _, pool, truth, _ = bench
    oracle = oracle_ids(d)
    clean = clean_ids(d)
    caps = {r["id"]: caption_key(r["text"]) for r in pool}
    assert set(oracle) <= set(clean) and len(oracle) >= 0.95 * len(clean)
    assert len({caps[i] for i in oracle}) == len(oracle)  # no two oracle rows share a caption
    assert {caps[i] for i in oracle} == {caps[i] for i in clean}  # nothing but repeats dropped
    order = [r["id"] for r in pool]
    assert oracle == sorted(oracle, key=order.index)
    floods = oracle_ids(d, keep_one_per_flood=True)
    n_groups = len({truth[i].detail for i in truth if truth[i].label == "near_duplicate"})
    assert set(oracle) <= set(floods) and len(floods) <= len(oracle) + n_groups
