"""The scale-up transfer check on the synthetic environment (no training): what it re-runs and at which
scale, that its probes never enter the search, that a re-run trains nothing, and its statistics on a
hand-built case."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recipelab.agent.runs import run_rows
from recipelab.agent.state import is_search_experiment, load_state
from recipelab.agent.transfer import (
    TransferError,
    describe,
    scaled_spec,
    statistics,
    transfer_after_search,
    transfer_run,
    widened_model,
)
from recipelab.executors import InProcessExecutor
from tests.conftest import SyntheticEnv, make_synthetic_loop


def test_statistics_on_a_hand_built_case() -> None:
    # probe scale: 0.1 < 0.2 < 0.3; at scale recipes 1 and 2 swap: pairs (0,1), (0,2) hold, (1,2) flips
    probe = [0.1, 0.2, 0.3]
    ci = [(0.05, 0.15), (0.12, 0.28), (0.25, 0.35)]  # only (0,2) is separated beyond the noise
    scale = np.array([[0.15, 0.15], [0.35, 0.35], [0.30, 0.30]])
    st = statistics(probe, ci, scale)
    acc = st["decision_accuracy"]
    assert acc["all"]["value"] == pytest.approx(2 / 3) and acc["all"]["n_pairs"] == 3
    assert acc["separated"]["value"] == 1.0 and acc["separated"]["n_pairs"] == 1
    assert st["spearman"]["value"] == pytest.approx(0.5) and st["spearman"]["n"] == 3
    # seeds that agree leave nothing to resample: the intervals are the points
    assert acc["all"]["ci90"] == pytest.approx([2 / 3, 2 / 3]) and st["spearman"]["ci90"] == pytest.approx([0.5, 0.5])
    assert st["scale_means"] == pytest.approx([0.15, 0.35, 0.30])
    flips = [(p["a"], p["b"]) for p in st["pairs"] if p["agree"] == 0]
    assert flips == [(1, 2)]


def test_bootstrap_interval_is_over_seeds_and_holds_the_point() -> None:
    rng = np.random.default_rng(0)
    probe = [0.1, 0.2, 0.3, 0.4]
    ci = [(p - 0.02, p + 0.02) for p in probe]
    scale = np.array(probe)[:, None] + rng.normal(0, 0.08, size=(4, 5))
    st = statistics(probe, ci, scale)
    for s in (st["decision_accuracy"]["all"], st["spearman"]):
        lo, hi = s["ci90"]
        assert lo <= s["value"] <= hi and lo < hi  # noisy seeds: a real interval
    assert st["bootstrap"] == {"resamples": 2000, "seeds": 5}
    # a missing scale-up probe (failed) leaves its recipe's other seeds; a recipe with none drops out
    scale[3, :] = np.nan
    st = statistics(probe, ci, scale)
    assert st["spearman"]["n"] == 3 and st["decision_accuracy"]["all"]["n_pairs"] == 3


def test_width_keys_per_task_and_a_clear_error_without_one() -> None:
    model, changed = widened_model("clip", {"vision": {"hidden_size": 64}}, 2)
    assert model["vision"]["hidden_size"] == 128 and changed["vision.hidden_size"] == [64, 128]
    assert model["text"]["hidden_size"] == 128 and model["projection_dim"] == 128
    assert model["vision"]["num_hidden_layers"] == 2  # same depth: only wider
    cap, changed = widened_model("caption", {}, 2)
    assert cap["encoder"]["hidden_size"] == 192 and cap["decoder"]["n_embd"] == 192
    assert widened_model("clip", {"x": 1}, 1) == ({"x": 1}, {})
    t2i, changed = widened_model("t2i", {"unet": {"block_out_channels": [8, 12]}}, 1.5)
    assert t2i["unet"]["block_out_channels"] == [16, 16] and changed["unet.block_out_channels"] == [[8, 12], [16, 16]]
    assert t2i["text"]["hidden_size"] == 96 and t2i["unet"]["layers_per_block"] == 1  # multiples of 8 groups
    with pytest.raises(TransferError, match="no known model width key.*--model-scale 1"):
        widened_model("nope", {}, 2)
    spec, about = scaled_spec({"task": "caption", "train_size": 100}, 4, 2)
    assert spec["train_size"] == 400 and spec["steps"] == 800  # the caption trainer's own 200 steps x 4
    assert about["probe_steps"] == 200 and about["width"]["decoder.n_embd"] == [96, 192]
    with pytest.raises(TransferError, match="checkpoint"):
        scaled_spec({"task": "clip", "train_size": 100, "checkpoint": "/x"}, 4, 2)


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory, tiny_bench: Path):  # noqa: ANN201
    """A finished synthetic search (noise-free scores, so the order at scale is the clean share's), shared
    by the tests below: each checks at its own scale, so none finds another's probes."""
    env = SyntheticEnv(tiny_bench, noise=0.0)
    loop = make_synthetic_loop(
        tmp_path_factory.mktemp("searched"), tiny_bench, env, budget_probes=12, test_seeds=0, planner="stat",
        probe={"train_size": 150},
    )  # fmt: skip
    outcome = loop.run()
    assert outcome.status == "done"
    return loop, env


def test_transfer_reruns_top_recipes_at_scale_outside_the_search(searched) -> None:  # noqa: ANN001
    loop, env = searched
    mem, rid = loop.mem, loop.run_id
    before = load_state(mem, rid)
    used, calls = before.used, env.calls
    doc = transfer_run(loop.ws, mem, rid, env=env, executor=InProcessExecutor(env), top=3, data_scale=2, seeds=3)
    recipes = doc["recipes"]
    assert [r["rank"] for r in recipes] == [0, 1, 2, 3] and recipes[0]["label"] == "(no filter)"
    assert doc["scale"]["train_size"] == 300 and doc["scale"]["steps"] == 400 and doc["scale"]["model_scale"] == 2
    assert doc["probes"]["new"] == 12 and env.calls - calls == 12  # 4 recipes x 3 seeds, none cached
    # the scale-up order is the probe-scale order on this environment
    assert doc["decision_accuracy"]["separated"]["value"] == 1.0
    assert doc["decision_accuracy"]["all"]["n_pairs"] == 6
    # the probes are in the memory under the run, as transfer:<rank>, and never in the search
    exps = [e for e in mem.experiments(rid) if e["id"] in {i for r in recipes for i in r["experiments"]}]
    assert len(exps) == 12 and {e["purpose"] for e in exps} == {f"transfer:{k}" for k in range(4)}
    assert not any(is_search_experiment(e) for e in exps)
    assert exps[0]["spec"]["probe"]["model"]["vision"]["hidden_size"] == 192
    after = load_state(mem, rid)
    assert after.used == used and {t.id for t in after.trials} == {t.id for t in before.trials}
    assert next(r for r in run_rows(mem) if r["id"] == rid)["probes_used"] == used
    # recorded: the run's summary and a log event with the document
    assert mem.get_run(rid)["summary"]["transfer"]["decision_accuracy"] == doc["decision_accuracy"]
    ev = [e for e in mem.events(rid) if (e.get("payload") or {}).get("transfer")]
    assert ev[-1]["payload"]["transfer"] == doc and ev[-1]["message"].startswith("transfer check:")
    # a second check trains nothing: every probe is found by its fingerprint
    n_exps = len(mem.experiments(rid))
    again = transfer_run(loop.ws, mem, rid, env=env, executor=InProcessExecutor(env), top=3, data_scale=2, seeds=3)
    assert again["probes"]["new"] == 0 and env.calls - calls == 12 and len(mem.experiments(rid)) == n_exps
    assert again["decision_accuracy"] == doc["decision_accuracy"]


class _InterruptedAfter(InProcessExecutor):
    """The synthetic executor, with a Ctrl-C arriving while probe number ``n + 1`` is being trained."""

    def __init__(self, env: SyntheticEnv, n: int) -> None:
        super().__init__(env)  # type: ignore[arg-type]
        self.left = n

    def run(self, jobs):  # noqa: ANN001, ANN201
        for out in super().run(jobs):
            if self.left == 0:
                raise KeyboardInterrupt
            self.left -= 1
            yield out


def test_an_interrupted_check_resumes_with_what_it_finished(searched) -> None:  # noqa: ANN001
    loop, env = searched
    kw = {"top": 1, "data_scale": 5, "seeds": 3}
    with pytest.raises(KeyboardInterrupt):
        transfer_run(loop.ws, loop.mem, loop.run_id, env=env, executor=_InterruptedAfter(env, 2), **kw)
    running = [e for e in loop.mem.experiments(loop.run_id) if e["status"] == "running"]
    assert len(running) == 1  # cut off mid-probe, as a Ctrl-C or kill -9 leaves it
    calls = env.calls
    doc = transfer_run(loop.ws, loop.mem, loop.run_id, env=env, executor=InProcessExecutor(env), **kw)
    # 2 finished probes reused; the cut-off one and the 3 never started run now
    assert env.calls - calls == 4 and doc["probes"]["total"] == 6 and doc["probes"]["failed"] == 0
    assert loop.mem.get_experiment(running[0]["id"])["status"] == "done"


def test_capped_train_size_is_said(searched) -> None:  # noqa: ANN001
    loop, env = searched
    doc = transfer_run(
        loop.ws, loop.mem, loop.run_id, env=env, executor=InProcessExecutor(env), top=2, data_scale=20, seeds=1
    )
    assert doc["scale"]["train_size"] == 3000  # more than the 600-row pool holds
    assert doc["capped"] == [0, 1, 2] and all(r["train_size"] == r["kept"] for r in doc["recipes"])
    assert "capped at what the recipe keeps for 3" in describe(doc)
    assert doc["bootstrap"]["resamples"] == 0  # one seed: nothing to resample
    trained = loop.mem.get_experiment(doc["recipes"][0]["experiments"][0])
    assert trained["result"]["undersized"] is False  # capped, not an undersized draw


def test_transfer_after_search_logs_that_it_ran(searched) -> None:  # noqa: ANN001
    loop, _ = searched
    doc = transfer_after_search(loop, top=2, data_scale=3, seeds=2)
    assert doc is not None and len(doc["recipes"]) == 3
    msgs = [e["message"] for e in loop.mem.events(loop.run_id)]
    assert any(m.startswith("transfer check ran after the search: 6 probe(s)") for m in msgs)


def test_nothing_to_compare_is_a_one_line_refusal(tmp_path: Path, tiny_bench: Path) -> None:
    env = SyntheticEnv(tiny_bench)
    loop = make_synthetic_loop(tmp_path, tiny_bench, env, budget_probes=2, test_seeds=0, planner="stat")
    loop.run()  # two baseline seeds, no recipe
    with pytest.raises(TransferError, match="no recipe besides the baseline"):
        transfer_run(loop.ws, loop.mem, loop.run_id, env=env, executor=InProcessExecutor(env))
    assert transfer_after_search(loop) is None
    assert any(e["message"].startswith("transfer check skipped") for e in loop.mem.events(loop.run_id))
