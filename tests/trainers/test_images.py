import numpy as np
from PIL import Image

from recipelab.trainers import ImageBank
from recipelab.trainers.images import decode_image


def test_decode_resizes_and_crops(tmp_path):
    p = tmp_path / "wide.png"
    Image.new("RGB", (90, 30), (255, 0, 0)).save(p)
    arr = decode_image(str(p), 16)
    assert arr.shape == (3, 16, 16) and arr.dtype == np.uint8
    assert arr[0].min() == 255 and arr[1].max() == 0
    g = tmp_path / "grey.png"
    Image.new("L", (20, 20), 100).save(g)
    assert decode_image(str(g), 8).shape == (3, 8, 8)


def test_bank_skips_corrupt_and_caches(tmp_path, glyphs):
    _, train, _ = glyphs
    bad = tmp_path / "corrupt.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    missing = str(tmp_path / "missing.jpg")
    paths = [s.images[0] for s in train[:20]] + [str(bad), missing]
    bank = ImageBank(paths, 16, cache_dir=tmp_path / "cache", key="ds:abc/1", workers=2)
    assert not bank.from_cache
    assert bank.pixels.shape == (22, 3, 16, 16)
    assert bank.n_skipped == 2 and bank.ok[:20].all() and not bank.ok[20:].any()
    assert (bank.pixels[20:] == 0).all()

    again = ImageBank(paths, 16, cache_dir=tmp_path / "cache", key="ds:abc/1")
    assert again.from_cache and again.n_skipped == 2
    assert np.array_equal(np.asarray(again.pixels), bank.pixels)
    px, ok = again.gather([paths[3], str(bad)])
    assert np.array_equal(px[0], bank.pixels[3]) and ok.tolist() == [True, False]

    # same key, other paths: the stale cache is not reused
    other = ImageBank(paths[:5], 16, cache_dir=tmp_path / "cache", key="ds:abc/1")
    assert not other.from_cache and len(other) == 5
