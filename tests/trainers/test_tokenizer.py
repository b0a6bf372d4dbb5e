import numpy as np

from recipelab.trainers import ProbeTokenizer
from recipelab.trainers.tokenizer import BOS, EOS, PAD


def test_build_encode_and_round_trip(tmp_path):
    tok = ProbeTokenizer.build(["A red Square", "a blue circle.", "two green triangles"], max_len=6)
    assert tok.eos_id != 2  # CLIP's legacy argmax pooling must not kick in
    ids, lengths = tok.encode(["a red square", "A RED SQUARE", "a purple hexagon"])
    assert ids.shape == (3, 6) and ids.dtype == np.int64
    assert (ids[0] == ids[1]).all()  # lowercased
    assert ids[0, 0] == tok.bos_id and ids[0, lengths[0] - 1] == tok.eos_id
    assert (ids[0, lengths[0] :] == tok.pad_id).all()
    assert tok.unk_id in ids[2]  # unseen words
    assert tok.decode(ids[0]) == "a red square"

    path = tok.save(tmp_path / "tok" / "tokenizer.json")
    again = ProbeTokenizer.load(path, max_len=6)
    ids2, lengths2 = again.encode(["a red square", "a purple hexagon"])
    assert (ids2 == ids[[0, 2]]).all() and (lengths2 == lengths[[0, 2]]).all()
    assert again.vocab_size == tok.vocab_size


def test_truncation_keeps_eos():
    tok = ProbeTokenizer.build(["one two three four five six seven eight nine"], max_len=5)
    ids, lengths = tok.encode(["one two three four five six seven eight nine"])
    assert lengths[0] == 5 and ids[0, -1] == tok.eos_id and ids[0, 0] == tok.bos_id


def test_build_or_load_reuses_file(tmp_path):
    path = tmp_path / "tokenizer.json"
    a = ProbeTokenizer.build_or_load(path, ["a red square"])
    b = ProbeTokenizer.build_or_load(path, ["totally different words here"])
    assert a.vocab_size == b.vocab_size and b.encode(["red"])[0][0, 1] != b.unk_id


def test_hf_wrapper_round_trip(tmp_path):
    tok = ProbeTokenizer.build(["a red square", "a blue circle"], max_len=8)
    tok.to_hf().save_pretrained(tmp_path)
    hf = ProbeTokenizer.from_pretrained(tmp_path, max_len=8)
    assert (hf.encode(["a red circle"])[0] == tok.encode(["a red circle"])[0]).all()
    assert {PAD, BOS, EOS} <= set(hf.hf_tokenizer.get_vocab())
