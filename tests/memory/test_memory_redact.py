from __future__ import annotations

import math

from recipelab.memory import Memory, redact, to_jsonable

SECRET = "sk-proj-AbCdEfGhIjKlMnOpQrStUvWx0123456789"


def test_redact_env_values_and_key_patterns(monkeypatch):
    monkeypatch.setenv("RECIPELAB_LLM_API_KEY", "local-key-zz9-plural-z-alpha")
    monkeypatch.setenv("MY_SERVICE_TOKEN", "tok_123456789")
    monkeypatch.setenv("SOME_SECRET", "hunter2hunter2")
    monkeypatch.setenv("HARMLESS_TOKEN", "x")  # too short to redact in free text
    text = (
        f"key={SECRET} and local-key-zz9-plural-z-alpha, tok_123456789, hunter2hunter2; "
        "Authorization: Bearer abcdefghijklmnop123; x marks the task-abcdefghijklmnopqrstu"
    )
    out = redact(text)
    assert SECRET not in out and "zz9" not in out and "tok_123" not in out and "hunter2" not in out
    assert "abcdefghijklmnop123" not in out
    assert "Bearer ***" in out
    assert "x marks the task-abcdefghijklmnopqrstu" in out  # not a key; short env values ignored


def test_redact_walks_structures_and_secret_named_keys():
    data = {"llm": {"api_key": "whatever-it-is", "max_tokens": 512, "model": "m"}, "notes": [SECRET, 3]}
    out = redact(data)
    assert out == {"llm": {"api_key": "***", "max_tokens": 512, "model": "m"}, "notes": ["***", 3]}


def test_memory_never_stores_secrets(mem: Memory, monkeypatch, db_path):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-openai-0123456789abcdef")
    monkeypatch.setenv("RECIPELAB_LLM_API_KEY", "vllm-local-secret-value")
    key = "sk-test-openai-0123456789abcdef"
    run_id = mem.create_run({"llm": {"api_key": key, "base_url": "http://x"}}, {"probes": 1})
    mem.log_event(run_id, "llm", f"calling with {key}", {"headers": {"Authorization": f"Bearer {key}"}})
    mem.log_event(run_id, "error", "env leaked vllm-local-secret-value here")
    eid = mem.add_experiment(run_id, "fp", recipe={"process": []}, recipe_yaml=f"# {key}")
    mem.start_experiment(eid)
    mem.fail_experiment(eid, f"Traceback ... api_key={key}")
    did = mem.add_directive(run_id, "note", {"text": key}, "chat")
    mem.resolve_directive(did, "applied", f"ok {key}")
    mem.add_message(run_id, "user", f"my key is {key}")
    mem.update_run(run_id, summary={"k": key})
    mem.close()

    raw = db_path.read_bytes()
    for f in db_path.parent.iterdir():  # also the WAL, if not checkpointed
        raw += f.read_bytes()
    assert b"0123456789abcdef" not in raw
    assert b"vllm-local-secret-value" not in raw
    assert b"***" in raw


def test_nan_and_inf_become_null(mem: Memory):
    run_id = mem.create_run({}, {})
    eid = mem.add_experiment(run_id, "fp")
    mem.start_experiment(eid)
    mem.finish_experiment(eid, {"r1": float("nan"), "r5": math.inf, "ok": 0.5}, {"loss": [1.0, -math.inf]}, "r1")
    row = mem.get_experiment(eid)
    assert row["metrics"] == {"r1": None, "r5": None, "ok": 0.5}
    assert row["result"] == {"loss": [1.0, None]}
    assert row["primary_value"] is None


def test_to_jsonable_numpy_like_and_pydantic():
    import pydantic

    class Cfg(pydantic.BaseModel):
        lr: float = 1e-3
        steps: int = 10

    class FakeNp:
        def tolist(self):
            return [1.0, float("nan")]

    assert to_jsonable({"cfg": Cfg(), "a": FakeNp(), "t": (1, 2), "s": {2, 1}}) == {
        "cfg": {"lr": 1e-3, "steps": 10},
        "a": [1.0, None],
        "t": [1, 2],
        "s": [1, 2],
    }
