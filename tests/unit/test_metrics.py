"""Metrics against hand-computed values."""

from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest

from inference.imagefiles import quantise, write_mask_png, write_tiff
from inference.metrics import (
    _finite,
    bootstrap_over_groups,
    delta_e,
    delta_e_hc,
    folder_metrics,
    glc_from_means,
    group_glc,
    hc_weights,
    image_metrics,
    psnr,
    psnr_hc,
    residual_map,
    split_name,
)
from inference.metrics import main as metrics_main


def test_psnr_hand_example():
    a = np.zeros((2, 2, 3), np.float32)
    b = np.full((2, 2, 3), 0.1, np.float32)
    assert psnr(a, b) == pytest.approx(20.0, abs=1e-4)  # MSE 0.01
    assert psnr(a, a) == math.inf
    assert psnr(a * 255, b * 255, peak=255) == pytest.approx(20.0, abs=1e-4)


def test_delta_e_black_white_and_grey():
    black = np.zeros((1, 2, 3), np.float32)
    white = np.ones((1, 2, 3), np.float32)
    assert delta_e(black, white) == pytest.approx(100.0, abs=0.01)
    assert delta_e(white, white) == 0.0


def test_hc_weights_follow_ppr10k():
    w = hc_weights(np.array([[1.0, 0.0, 0.5]]))
    np.testing.assert_allclose(w, [[1.0, 0.5, 0.75]])


def test_psnr_hc_hand_example():
    a = np.zeros((1, 2, 3), np.float32)
    b = np.full((1, 2, 3), 0.1, np.float32)
    mask = np.array([[1.0, 0.0]])
    # weighted squared errors: human (1·0.1)² = 0.01, background (0.5·0.1)² = 0.0025 → mean 0.00625
    assert psnr_hc(a, b, mask) == pytest.approx(10 * math.log10(1 / 0.00625), abs=1e-4)
    # all-human mask gives plain PSNR; background weight 1 does too
    assert psnr_hc(a, b, np.ones((1, 2))) == pytest.approx(psnr(a, b))
    assert psnr_hc(a, b, mask, background=1.0) == pytest.approx(psnr(a, b))


def test_delta_e_hc_hand_example():
    a = np.zeros((1, 2, 3), np.float32)
    b = np.ones((1, 2, 3), np.float32)
    mask = np.array([[1.0, 0.0]])
    assert delta_e_hc(a, b, mask) == pytest.approx((100 + 50) / 2, abs=0.01)


def test_residual_map():
    inp = np.zeros((2, 2, 3), np.float32)
    out = inp.copy()
    out[0, 0] = [0.3, 0.3, 0.0]  # L1 mean 0.2
    out[1, 1] = [0.1, 0.1, 0.1]  # 0.1
    r = residual_map(out, inp, gain=2.0)
    np.testing.assert_allclose(r, [[0.4, 0.0], [0.0, 0.2]], atol=1e-6)
    auto = residual_map(out, inp)
    assert auto.max() == pytest.approx(1.0) and auto.dtype == np.float32
    assert residual_map(inp, inp).max() == 0.0


def test_shape_mismatch_raises():
    with pytest.raises(ValueError):
        psnr(np.zeros((2, 2, 3)), np.zeros((2, 3, 3)))
    with pytest.raises(ValueError):
        psnr_hc(np.zeros((2, 2, 3)), np.zeros((2, 2, 3)), np.zeros((3, 3)))


# --- official PPR10K mode, M_GLC, folders, CLI, bootstrap --------------------------------------

BLACK, WHITE = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)
# CIELAB of sRGB primaries under D65 (published reference values, e.g. Lindbloom's calculator)
RED_AB = (80.09, 67.20)


def _row(*pixels) -> np.ndarray:
    return np.array([pixels], dtype=np.float64)


def test_official_equals_hand_computed_example():
    # three pixels: an error on the background (mask 0), on a soft mask pixel (0.25), none on a person
    pred = _row(WHITE, WHITE, BLACK)
    target = _row(BLACK, BLACK, BLACK)
    mask = np.array([[0.0, 0.25, 1.0]])
    m = image_metrics(pred, target, mask, official=True)
    # PSNR: 6 of 9 samples off by 1 → MSE 2/3 → 10·log10(1.5)
    assert m["psnr"] == pytest.approx(10 * math.log10(1.5), abs=1e-9)
    # ΔE: black↔white is 100 → (100 + 100 + 0) / 3
    assert m["delta_e"] == pytest.approx(200 / 3, abs=1e-3)
    # official weights 0.5, 1 (non-zero mask), 1: squared errors 3·0.25 + 3·1 over 9 → MSE 0.41667
    assert m["psnr_hc"] == pytest.approx(10 * math.log10(9 / 3.75), abs=1e-9)
    assert m["delta_e_hc"] == pytest.approx((0.5 * 100 + 1 * 100) / 3, abs=1e-3)
    # default mode: the soft pixel weighs 0.5 + 0.5·0.25 = 0.625
    lin = image_metrics(pred, target, mask)
    assert lin["psnr_hc"] == pytest.approx(10 * math.log10(9 / (0.75 + 3 * 0.625 ** 2)), abs=1e-9)
    assert lin["delta_e_hc"] == pytest.approx((50 + 62.5) / 3, abs=1e-3)
    assert math.isnan(m["ssim"])  # too small for the 11×11 window


def test_official_quantises_to_8_bits():
    pred = np.full((1, 1, 3), 0.1013)  # 25.83 → 26 in 8 bits
    target = np.zeros((1, 1, 3))
    assert image_metrics(pred, target, official=True)["psnr"] == pytest.approx(20 * math.log10(255 / 26), abs=1e-9)
    assert image_metrics(pred, target)["psnr"] == pytest.approx(20 * math.log10(1 / 0.1013), abs=1e-9)
    assert image_metrics(pred, target)["psnr_hc"] is None  # no mask, no human-centred metrics


def test_glc_hand_computed_group():
    red = np.zeros((2, 2, 3))
    red[..., 0] = 1.0
    white = np.ones((2, 2, 3))
    half = red.copy()
    half[:, 1] = 1.0  # half red, half white: mean a*, b* are half of red's
    a, b = RED_AB
    # group "1": a* = (a, a/2, 0) and b* = (b, b/2, 0): sample variances (a/2)² and (b/2)²
    g1 = ((a / 2) ** 2 + (b / 2) ** 2) / 2
    # group "2": one image → variance 0 (MATLAB's var of one sample); the mean counts it
    got = group_glc({"1": [red, half, white], "2": [red]})
    assert got == pytest.approx(g1 / 2, rel=2e-3)
    assert group_glc({"1": [white, white, white]}) == pytest.approx(0.0, abs=1e-6)
    # the paper's Eq. 2 sums the two variances: twice this value
    assert glc_from_means({"g": [(a, b), (0.0, 0.0)]}) == pytest.approx((a * a / 2 + b * b / 2) / 2)


def _write_folder(tmp_path, names, pred_value=0.5, target_value=0.5, sub=""):
    pred, target, masks = (tmp_path / sub / d for d in ("pred", "target", "masks"))
    for d in (pred, target, masks):
        d.mkdir(parents=True)
    for i, n in enumerate(names):
        img = np.full((16, 16, 3), pred_value + 0.01 * i, np.float32)
        cv2.imwrite(str(pred / f"{n}.png"), quantise(img)[..., ::-1])
        write_tiff(target / f"{n}.tif", np.full((16, 16, 3), target_value, np.float32), bits=16)
        mask = np.zeros((16, 16), np.float32)
        mask[4:12, 4:12] = 1
        write_mask_png(masks / f"{n}.png", mask)
    return pred, target, masks


def test_folder_matching_by_group_and_index(tmp_path):
    pred, target, masks = _write_folder(tmp_path, ["12_0", "1_1", "1_0", "1_10", "x_y_2"])
    r = folder_metrics(pred, target, masks, official=True)
    assert [row["name"] for row in r["per_image"]] == ["1_0", "1_1", "1_10", "12_0", "x_y_2"]
    assert [row["group"] for row in r["per_image"]] == ["1", "1", "1", "12", "x_y"]
    assert r["n_images"] == 5 and r["n_groups"] == 3
    assert set(r) == {"psnr", "delta_e", "psnr_hc", "delta_e_hc", "ssim", "glc", "n_images", "n_groups",
                      "per_image"}
    assert r["psnr"] == pytest.approx(np.mean([row["psnr"] for row in r["per_image"]]))
    (target / "1_10.tif").unlink()
    with pytest.raises(ValueError, match="1_10"):
        folder_metrics(pred, target, masks)
    with pytest.raises(ValueError, match="not of the form"):
        split_name("nounderscore")


def test_cli_json_official(tmp_path, capsys):
    pred, target, masks = _write_folder(tmp_path, ["0_0", "0_1", "1_0"], pred_value=0.6, target_value=0.5)
    assert metrics_main(["--pred", str(pred), "--target", str(target), "--masks", str(masks),
                         "--official", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == json.loads(json.dumps(_finite(folder_metrics(pred, target, masks, official=True))))
    assert out["n_groups"] == 2 and len(out["per_image"]) == 3
    assert metrics_main(["--pred", str(pred), "--target", str(target)]) == 0
    assert "M_GLC" in capsys.readouterr().out
    assert metrics_main(["--pred", str(tmp_path / "missing"), "--target", str(target)]) == 2


def test_bootstrap_over_groups():
    rows = [{"group": g, "psnr": v, "mean_a": 0.0, "mean_b": 0.0}
            for g, v in (("a", 20.0), ("a", 22.0), ("b", 30.0), ("c", 25.0))]
    low, high = bootstrap_over_groups(rows, "psnr", n=2000, seed=1)
    assert 20.0 <= low < 24.25 < high <= 30.0
    assert bootstrap_over_groups(rows, "psnr", n=2000, seed=1) == (low, high)
    assert bootstrap_over_groups(rows, "glc") == (0.0, 0.0)
    same = [{"group": str(i), "psnr": 5.0} for i in range(4)]
    assert bootstrap_over_groups(same, "psnr") == (5.0, 5.0)
