"""Image filters: Data-Juicer semantics (closed intervals, any/all, no image kept), unreadable images."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFilter

from recipelab.data.sample import Sample
from recipelab.operators.base import MAXSIZE, Stat
from recipelab.operators.image import (
    ImageAspectRatioFilter,
    ImageEntropyFilter,
    ImageShapeFilter,
    ImageSharpnessFilter,
    ImageSizeFilter,
    gray_entropy,
    laplacian_variance,
    size_to_bytes,
)


def _img(path, w, h, color=(120, 60, 30), noise=False, seed=0, fmt=None):
    if noise:
        rng = np.random.default_rng(seed)
        im = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    else:
        im = Image.new("RGB", (w, h), color)
    im.save(path, format=fmt)
    return str(path)


def _s(i, *images):
    return Sample(id=str(i), text=f"sample {i}", images=list(images))


def _keep(op, samples):
    return op.keep(op.compute_stats(samples)).tolist()


@pytest.fixture
def imgs(tmp_path):
    d = {
        "sq": _img(tmp_path / "sq.png", 40, 40),  # ratio 1
        "wide": _img(tmp_path / "wide.png", 90, 30),  # ratio 3
        "tall": _img(tmp_path / "tall.png", 30, 90),  # ratio 1/3
        "pano": _img(tmp_path / "pano.png", 100, 10),  # ratio 10
        "jpg": _img(tmp_path / "n.jpg", 64, 48, noise=True, fmt="JPEG"),
    }
    (tmp_path / "zero.png").write_bytes(b"")
    (tmp_path / "junk.png").write_bytes(b"this is not an image at all")
    d["zero"] = str(tmp_path / "zero.png")
    d["junk"] = str(tmp_path / "junk.png")
    d["missing"] = str(tmp_path / "missing.png")
    return d


def test_defaults_and_metadata():
    assert ImageAspectRatioFilter().params.model_dump() == {
        "min_ratio": 0.333,
        "max_ratio": 3.0,
        "any_or_all": "any",
        # Data-Juicer's Filter base params, same defaults
        "min_closed_interval": True,
        "max_closed_interval": True,
        "reversed_range": False,
    }
    p = ImageShapeFilter().params
    assert (p.min_width, p.max_width, p.min_height, p.max_height) == (1, MAXSIZE, 1, MAXSIZE)
    p = ImageSizeFilter().params
    assert (p.min_size, p.max_size, p.any_or_all) == ("0", "1TB", "any")
    assert ImageSharpnessFilter.new_op and ImageEntropyFilter.new_op
    assert not ImageAspectRatioFilter.new_op
    for cls in (ImageAspectRatioFilter, ImageShapeFilter, ImageSizeFilter, ImageSharpnessFilter, ImageEntropyFilter):
        assert cls.modality == "image"
        assert {t.stat_key for t in cls.thresholds} == set(cls.stats_keys)
    with pytest.raises(ValueError):
        ImageAspectRatioFilter({"any_or_all": "most"})


def test_aspect_ratio_values_and_closed_bounds(imgs):
    op = ImageAspectRatioFilter({"min_ratio": 1 / 3, "max_ratio": 3.0})
    samples = [_s(0, imgs["sq"]), _s(1, imgs["wide"]), _s(2, imgs["tall"]), _s(3, imgs["pano"]), _s(4)]
    st = op.compute_stats(samples)["aspect_ratios"]
    assert st.ragged and st.offsets.tolist() == [0, 1, 2, 3, 4, 4]
    np.testing.assert_allclose(st.values, [1.0, 3.0, 1 / 3, 10.0])
    assert op.keep({"aspect_ratios": st}).tolist() == [True, True, True, False, True]  # == min, == max kept
    assert _keep(ImageAspectRatioFilter({"min_ratio": 1.0, "max_ratio": 1.0}), samples[:2]) == [True, False]


def test_any_or_all(imgs):
    s = [_s(0, imgs["sq"], imgs["pano"]), _s(1, imgs["pano"], imgs["pano"]), _s(2, imgs["sq"], imgs["wide"])]
    assert _keep(ImageAspectRatioFilter({"any_or_all": "any"}), s) == [True, False, True]
    assert _keep(ImageAspectRatioFilter({"any_or_all": "all"}), s) == [False, False, True]


@pytest.mark.parametrize("bad", ["zero", "junk", "missing"])
def test_unreadable_images_are_nan_and_bad(imgs, bad):
    samples = [_s(0, imgs[bad]), _s(1, imgs["sq"], imgs[bad])]
    for cls in (ImageAspectRatioFilter, ImageShapeFilter, ImageSharpnessFilter, ImageEntropyFilter):
        op = cls()
        stats = op.compute_stats(samples)
        for k in cls.stats_keys:
            assert np.isnan(stats[k].values[[0, 2]]).all()
            assert np.isfinite(stats[k].values[1])
        assert op.keep(stats).tolist() == [False, True]
        assert ImageAspectRatioFilter({"any_or_all": "all"}).keep(
            ImageAspectRatioFilter().compute_stats(samples)
        ).tolist() == [False, False]


def test_shape_from_header(imgs):
    samples = [_s(0, imgs["wide"], imgs["jpg"]), _s(1)]
    st = ImageShapeFilter().compute_stats(samples)
    assert st["image_width"].values.tolist() == [90, 64]
    assert st["image_height"].values.tolist() == [30, 48]
    op = ImageShapeFilter({"min_width": 64, "max_width": 90, "min_height": 31, "max_height": 48})
    assert op.keep(st).tolist() == [True, True]  # jpg: 64 == min_width, 48 == max_height; no image kept
    op = ImageShapeFilter({"min_width": 64, "max_width": 90, "min_height": 31, "any_or_all": "all"})
    assert op.keep(st).tolist() == [False, True]  # wide fails on height 30 < 31


def test_shape_reads_header_of_truncated_file(tmp_path):
    p = _img(tmp_path / "t.png", 50, 20, noise=True)
    data = open(p, "rb").read()
    (tmp_path / "trunc.png").write_bytes(data[: len(data) // 2])
    st = ImageShapeFilter().compute_stats([_s(0, str(tmp_path / "trunc.png"))])
    assert st["image_width"].values.tolist() == [50]  # header only, no decode
    assert np.isnan(
        ImageSharpnessFilter().compute_stats([_s(0, str(tmp_path / "trunc.png"))])["image_sharpness"].values[0]
    )


def test_size_to_bytes_like_data_juicer():
    # Data-Juicer 1.6.1's parser: every unit a power of 1024, digits and letters read apart
    assert size_to_bytes("0") == 0
    assert size_to_bytes(1234) == 1234
    assert size_to_bytes(1234.5) == 1234.5  # numbers are bytes (recipelab extension)
    assert size_to_bytes("10KB") == 10_240
    assert size_to_bytes("10kb") == 10_240
    assert size_to_bytes("10KiB") == 10_240
    assert size_to_bytes("1.5KB") == 15 * 1024  # Data-Juicer drops the decimal point: matched on purpose
    assert size_to_bytes("1TB") == 2**40
    assert size_to_bytes("2 GB") == 2 * 2**30
    for bad in ("ten KB", "10K", "1B", "1e3", ""):
        with pytest.raises(ValueError):
            size_to_bytes(bad)
    with pytest.raises(ValueError):
        ImageSizeFilter({"max_size": "12 parsecs"})
    with pytest.raises(ValueError):
        ImageSizeFilter({"max_size": float("nan")})


def test_size_params_export_as_exact_strings():
    # Data-Juicer's preflight rejects numbers; whole bytes decide a fractional bound exactly
    out = ImageSizeFilter.dj_params({"min_size": 1234.5, "max_size": 2047.9, "any_or_all": "all"})
    assert out == {"min_size": "1235", "max_size": "2047", "any_or_all": "all"}
    assert ImageSizeFilter.dj_params({"min_size": "1KB"}) == {"min_size": "1KB"}


def test_size_filter(imgs, tmp_path):
    n = len(open(imgs["jpg"], "rb").read())
    samples = [_s(0, imgs["jpg"]), _s(1, imgs["zero"]), _s(2, imgs["missing"]), _s(3)]
    st = ImageSizeFilter().compute_stats(samples)
    v = st["image_sizes"].values
    assert v[0] == n and v[1] == 0 and np.isnan(v[2])
    assert ImageSizeFilter().keep(st).tolist() == [True, True, False, True]
    assert ImageSizeFilter({"min_size": n, "max_size": n}).keep(st).tolist() == [True, False, False, True]
    assert ImageSizeFilter({"min_size": "1", "max_size": str(n)}).keep(st).tolist() == [True, False, False, True]
    assert ImageSizeFilter({"max_size": str(n - 1)}).keep(st).tolist() == [False, True, False, True]
    kib = ImageSizeFilter({"max_size": "1KB"}).keep(st).tolist()
    assert kib == [n <= 1024, True, False, True]
    op = ImageSizeFilter()
    op.params.min_size = float(n) + 0.5  # what the threshold search writes
    assert op.keep(st).tolist() == [False, False, False, True]


def test_sharpness(tmp_path):
    rng = np.random.default_rng(0)
    base = Image.fromarray(rng.integers(0, 256, (96, 96), dtype=np.uint8)).convert("RGB")
    sharp = tmp_path / "sharp.png"
    base.save(sharp)
    base.filter(ImageFilter.GaussianBlur(2)).save(tmp_path / "blur.png")
    base.resize((24, 24)).resize((96, 96), Image.Resampling.BICUBIC).save(tmp_path / "up.png")
    _img(tmp_path / "flat.png", 30, 30)
    paths = [str(sharp), str(tmp_path / "blur.png"), str(tmp_path / "up.png"), str(tmp_path / "flat.png")]
    st = ImageSharpnessFilter().compute_stats([_s(0, *paths)])["image_sharpness"]
    s, b, u, f = st.values
    assert s > 10 * b and s > 5 * u and f == 0.0
    # value == bound is kept
    op = ImageSharpnessFilter({"min_sharpness": b, "max_sharpness": s})
    per_image = {"image_sharpness": Stat(st.values, np.array([0, 1, 2, 3, 4]))}
    assert op.keep(per_image).tolist() == [True, True, u >= b, False]
    # the vectorised Laplacian matches scipy's on the interior
    from scipy import ndimage

    g = rng.integers(0, 256, (20, 30)).astype(np.uint8)
    ref = ndimage.laplace(g.astype(np.float64))[1:-1, 1:-1].var()
    assert laplacian_variance(g) == pytest.approx(ref)
    assert laplacian_variance(np.zeros((2, 50), np.uint8)) == 0.0


def test_entropy(tmp_path):
    rng = np.random.default_rng(0)
    noise = _img(tmp_path / "noise.png", 128, 128, noise=True)
    blank = _img(tmp_path / "blank.png", 64, 64, color=(255, 255, 255))
    two = np.zeros((32, 32), np.uint8)
    two[:, 16:] = 200
    Image.fromarray(two).save(tmp_path / "two.png")
    st = ImageEntropyFilter().compute_stats([_s(0, noise, blank, str(tmp_path / "two.png")), _s(1)])
    e = st["image_entropy"].values
    assert e[1] == 0.0 and e[2] == pytest.approx(1.0) and 7.5 < e[0] <= 8.0
    assert ImageEntropyFilter({"min_entropy": 0.5, "any_or_all": "all"}).keep(st).tolist() == [False, True]
    assert ImageEntropyFilter({"min_entropy": 1.0, "max_entropy": 1.0}).keep(st).tolist() == [True, True]
    assert gray_entropy(rng.integers(0, 4, (10, 10)).astype(np.uint8)) <= 2.0


def test_large_jpeg_is_downscaled_for_sharpness(tmp_path):
    p = _img(tmp_path / "big.jpg", 1200, 300, noise=True, fmt="JPEG")
    v_full = ImageSharpnessFilter({"max_side": 0}).compute_stats([_s(0, p)])["image_sharpness"].values[0]
    v_small = ImageSharpnessFilter({"max_side": 300}).compute_stats([_s(0, p)])["image_sharpness"].values[0]
    assert np.isfinite(v_full) and np.isfinite(v_small) and v_full != v_small
    assert ImageSharpnessFilter().stat_config() == {"max_side": 1024}


def test_exif_rotation_swaps_width_and_height_as_data_juicer(tmp_path):
    # Data-Juicer loads images through datasets.Image, which applies the EXIF orientation
    exif = Image.Exif()
    exif[0x0112] = 6
    p = tmp_path / "rot.jpg"
    Image.new("RGB", (120, 60), (10, 200, 30)).save(p, exif=exif.tobytes())
    st = ImageShapeFilter().compute_stats([_s(0, str(p))])
    assert (st["image_width"].values.tolist(), st["image_height"].values.tolist()) == ([60.0], [120.0])
    ar = ImageAspectRatioFilter().compute_stats([_s(0, str(p))])["aspect_ratios"].values
    assert ar.tolist() == [0.5]
