from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from recipelab.data import DataError, read_dataset, write_jsonl
from tests.conftest import make_image, write_rows


def _bad_corpus(tmp: Path) -> Path:
    make_image(tmp / "ok.png")
    (tmp / "zero.png").write_bytes(b"")
    full = (tmp / "ok.png").read_bytes()
    (tmp / "trunc.png").write_bytes(full[: len(full) // 2])
    (tmp / "garbage.png").write_bytes(b"this is not an image at all" * 10)
    rows = [
        {"id": "good", "text": "a red circle", "images": ["ok.png"]},
        "{not json",
        json.dumps({"id": "notext", "images": ["ok.png"]}),
        json.dumps({"id": "inttext", "text": 5}),
        json.dumps({"id": "missing", "text": "x", "images": ["nope.png"]}),
        json.dumps({"id": "zero", "text": "x", "images": ["zero.png"]}),
        json.dumps({"id": "trunc", "text": "x", "images": ["trunc.png"]}),
        json.dumps({"id": "garbage", "text": "x", "images": ["garbage.png"]}),
        json.dumps({"id": "badimages", "text": "x", "images": "ok.png"}),  # a string, not a list: rejected
        json.dumps({"id": "badtype", "text": "x", "images": [1, 2]}),
        json.dumps([1, 2, 3]),
        json.dumps({"id": "good", "text": "duplicate id"}),
    ]
    p = write_rows(tmp / "bad.jsonl", rows)
    with open(p, "ab") as f:
        f.write(b'{"id": "latin", "text": "caf\xe9"}\n')
    return p


def test_bad_input_corpus_skip_lists_every_row(tmp_path: Path) -> None:
    p = _bad_corpus(tmp_path)
    rej = tmp_path / "rejects.jsonl"
    ds = read_dataset(p, rejects_path=rej, quiet=True)
    assert [s.id for s in ds.samples] == ["good"]
    msgs = {r.source.rsplit(":", 1)[1]: (r.field, r.message) for r in ds.rejects}
    assert msgs["2"][1].startswith("malformed JSON")
    assert msgs["3"] == ("text", "missing required field")
    assert msgs["4"] == ("text", "expected a string, got an integer")
    assert "not found" in msgs["5"][1]
    assert "zero-byte" in msgs["6"][1]
    assert "corrupt or truncated" in msgs["7"][1]
    assert "corrupt or truncated" in msgs["8"][1]
    assert msgs["9"] == ("images", "expected a list of paths, got a string")
    assert msgs["10"] == ("images", "expected a list of paths, got a list holding an integer")
    assert "JSON object" in msgs["11"][1]
    assert "duplicate id" in msgs["12"][1]
    assert "UTF-8" in msgs["13"][1]
    # nothing lost: every non-empty line is either a sample or a reject
    assert len(ds.samples) + len(ds.rejects) == 13
    line_nos = [int(r.source.rsplit(":", 1)[1]) for r in ds.rejects]
    assert line_nos == sorted(line_nos)  # listed in file order
    lines = rej.read_text().splitlines()
    assert len(lines) == len(ds.rejects)
    assert all(str(p) in json.loads(x)["source"] for x in lines)


def test_on_error_fail_stops_at_first_with_file_and_line(tmp_path: Path) -> None:
    p = _bad_corpus(tmp_path)
    with pytest.raises(DataError, match=r"bad\.jsonl:2: <line>: malformed JSON"):
        read_dataset(p, on_error="fail", quiet=True)


def test_decompression_bomb_is_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_image(tmp_path / "big.png", size=(200, 200))
    write_rows(tmp_path / "d.jsonl", [{"id": "a", "text": "t", "images": ["big.png"]}])
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    ds = read_dataset(tmp_path / "d.jsonl", quiet=True)
    assert not ds.samples and "decompression bomb" in ds.rejects[0].message


def test_paths_relative_to_jsonl_and_extra_fields_kept(tiny_dataset: Path, tmp_path: Path) -> None:
    ds = read_dataset(tiny_dataset, quiet=True)
    assert len(ds) == 8
    s = ds.samples[0]
    assert Path(s.images[0]).is_absolute() and Path(s.images[0]).exists()
    assert s.extra == {"meta": {"k": 0}}
    out = tmp_path / "sub" / "out.jsonl"
    write_jsonl(ds.samples, out)
    again = read_dataset(out, quiet=True)
    assert [x.images for x in again.samples] == [x.images for x in ds.samples]
    assert again.fingerprint == ds.fingerprint  # content hash, not path


def test_fingerprint_changes_with_image_bytes_and_is_cached(tiny_dataset: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    a = read_dataset(tiny_dataset, cache_dir=cache, quiet=True)
    b = read_dataset(tiny_dataset, cache_dir=cache, quiet=True)
    assert a.fingerprint == b.fingerprint
    assert list((cache / "datasets").glob("*.json"))
    make_image(tiny_dataset.parent / "img" / "3.png", seed=99)
    c = read_dataset(tiny_dataset, cache_dir=cache, quiet=True)
    assert c.fingerprint != a.fingerprint


def test_parquet_and_folder_inputs(tmp_path: Path) -> None:
    make_image(tmp_path / "p" / "a.png")
    pq.write_table(
        pa.Table.from_pylist([{"id": "a", "text": "hello there", "images": ["a.png"]}]), tmp_path / "p" / "d.parquet"
    )
    ds = read_dataset(tmp_path / "p" / "d.parquet", quiet=True)
    assert ds.samples[0].text == "hello there" and Path(ds.samples[0].images[0]).exists()

    folder = tmp_path / "f"
    make_image(folder / "x.png")
    (folder / "x.txt").write_text("a caption\n")
    make_image(folder / "y.jpg")  # no caption file
    ds2 = read_dataset(folder, quiet=True)
    assert [s.text for s in ds2.samples] == ["a caption"]
    assert ds2.rejects and "no caption file" in ds2.rejects[0].message


def test_chunks_follow_dj_tokens() -> None:
    from recipelab.data.sample import Sample

    s = Sample(
        id="a",
        text="<__dj__image> a cat <|__dj__eoc|> <__dj__image><__dj__image> two dogs <|__dj__eoc|>",
        images=["1", "2", "3"],
    )
    assert s.chunks() == [("a cat", ["1"]), ("two dogs", ["2", "3"])]
    plain = Sample(id="b", text="a caption", images=["1", "2"])
    assert plain.chunks() == [("a caption", ["1", "2"])]


def test_string_images_field_is_one_line_error(tmp_path: Path) -> None:
    """Data-Juicer expects a list; a bare string is an error, never silently wrapped into one."""
    make_image(tmp_path / "ok.png")
    p = write_rows(
        tmp_path / "d.jsonl",
        [{"id": "a", "text": "fine", "images": ["ok.png"]}, {"id": "b", "text": "x", "images": "ok.png"}],
    )
    ds = read_dataset(p, quiet=True)
    assert ds.ids == ["a"]
    assert [r.line() for r in ds.rejects] == [f"{p}:2: images: expected a list of paths, got a string"]
    with pytest.raises(DataError) as e:
        read_dataset(p, on_error="fail", quiet=True)
    assert str(e.value) == f"{p}:2: images: expected a list of paths, got a string"
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(
    ("image_line", "first"),
    [(2, r"d\.jsonl:2: images: .*corrupt or truncated"), (3, r"d\.jsonl:2: <line>: malformed JSON")],
)
def test_on_error_fail_names_first_bad_line_whatever_its_kind(tmp_path: Path, image_line: int, first: str) -> None:
    """Rows are parsed, then images decoded, but the error reported is the first bad line in file order."""
    make_image(tmp_path / "ok.png")
    (tmp_path / "bad.png").write_bytes(b"not a png" * 20)
    bad_image = json.dumps({"id": "img", "text": "x", "images": ["bad.png"]})
    rows: list = [{"id": "ok", "text": "fine", "images": ["ok.png"]}]
    rows += [bad_image, "{not json"] if image_line == 2 else ["{not json", bad_image]
    rows.append({"id": "tail", "text": "y", "images": "ok.png"})  # a third bad line, never the one named
    p = write_rows(tmp_path / "d.jsonl", rows)
    with pytest.raises(DataError, match=first):
        read_dataset(p, on_error="fail", quiet=True)
    ds = read_dataset(p, quiet=True)  # skip: all three listed, in file order
    assert [r.source.rsplit(":", 1)[1] for r in ds.rejects] == ["2", "3", "4"]
    assert ds.ids == ["ok"]


def test_on_error_fail_duplicate_id_before_corrupt_image(tmp_path: Path) -> None:
    make_image(tmp_path / "ok.png")
    (tmp_path / "bad.png").write_bytes(b"")
    p = write_rows(
        tmp_path / "d.jsonl",
        [
            {"id": "a", "text": "x", "images": ["ok.png"]},
            {"id": "a", "text": "again", "images": ["ok.png"]},
            {"id": "b", "text": "x", "images": ["bad.png"]},
        ],
    )
    with pytest.raises(DataError, match=r"d\.jsonl:2: id: duplicate id 'a'"):
        read_dataset(p, on_error="fail", quiet=True)


def test_on_error_fail_clean_file_is_cached_like_skip(tmp_path: Path) -> None:
    make_image(tmp_path / "ok.png")
    p = write_rows(tmp_path / "d.jsonl", [{"id": "a", "text": "x", "images": ["ok.png"]}])
    a = read_dataset(p, on_error="fail", cache_dir=tmp_path / "c", quiet=True)
    assert list((tmp_path / "c" / "datasets").glob("*.json"))
    assert read_dataset(p, cache_dir=tmp_path / "c", quiet=True).fingerprint == a.fingerprint


def test_reject_lines_never_wrap(tmp_path: Path) -> None:
    """Scripts grep `file:line: field: message`; a narrow, non-terminal stderr must not break the line."""
    import io as _io

    from rich.console import Console

    make_image(tmp_path / "ok.png")
    long_dir = tmp_path / ("x" * 90)
    long_dir.mkdir()
    p = write_rows(long_dir / "d.jsonl", [{"id": "a", "text": "x", "images": "ok.png"}, "[1, [2]]"])
    buf = _io.StringIO()
    read_dataset(p, console=Console(file=buf, width=40, force_terminal=False))
    lines = buf.getvalue().splitlines()
    assert f"  {p}:1: images: expected a list of paths, got a string" in lines
    assert f"  {p}:2: <line>: expected a JSON object, got a list" in lines
