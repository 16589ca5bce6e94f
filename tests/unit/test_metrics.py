"""Metrics against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from inference.metrics import delta_e, delta_e_hc, hc_weights, psnr, psnr_hc, residual_map


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
