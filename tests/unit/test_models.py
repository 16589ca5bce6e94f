"""Learned models (inference.models): the torch renderer twin, LUT pieces, tiny trainings that must
learn, the model directory (safetensors + card, sha256, strict loading), the train / evaluate
commands and the learned engines on weights trained here."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

import inference.engines as engines
from devtools.processes import REPO
from inference import modelstore, render_torch
from inference.colour import delta_e76
from inference.datasets import PPR10KFolder, synth
from inference.lut import apply_lut
from inference.models import create, names
from inference.models.backbone import PartialConv2d
from inference.models.common import seeded, validation
from inference.models.lut import identity_lut, lut_regularisers, read_cube, trilinear, write_cube
from inference.render import FLOAT_PARAMS, LOCAL_PARAMS, apply_adjustments
from inference.train import train

TINY = {"retouch.params": {"size": 64}, "retouch.lut": {"size": 64, "dim": 9},
        "retouch.clicks": {"size": 64}, "harmonize.net": {"size": 64}}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models train faster on one thread, and far faster when the machine is shared."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """A tiny synthetic PPR10K-layout folder: 5 groups of 3 (4 train groups, 1 val group)."""
    root = tmp_path_factory.mktemp("synth")
    synth(root, groups=5, per_group=3, seed=3)
    return root


def _random_params(rng) -> dict[str, float]:
    p = {k: float(rng.uniform(-100, 100)) for k in FLOAT_PARAMS}
    p["exposure"] = float(rng.uniform(-3, 3))
    return p


def _twin(image: np.ndarray, params: dict[str, float]) -> np.ndarray:
    t = torch.from_numpy(image.astype(np.float64)).permute(2, 0, 1)[None]
    out = render_torch.render(t, {k: torch.tensor([v], dtype=torch.float64) for k, v in params.items()})
    return out[0].permute(1, 2, 0).numpy().astype(np.float32)


# ---------------------------------------------------------------- the renderer's twin

def test_torch_renderer_equals_apply_adjustments_within_delta_e_001():
    rng = np.random.default_rng(0)
    eight_bit = (rng.integers(0, 256, (40, 60, 3)) / 255.0).astype(np.float32)
    smooth = rng.random((40, 60, 3)).astype(np.float32)
    for i in range(12):
        p = _random_params(rng)
        if i % 2:  # every other case with the neighbourhood sliders too
            p.update({k: float(rng.uniform(-100, 100)) for k in LOCAL_PARAMS})
        # 8-bit values fall on the renderer's 16-bit table entries: the twin matches everywhere
        assert delta_e76(apply_adjustments(eight_bit, p), _twin(eight_bit, p)).max() < 0.01
        # other values are rounded to the table by the renderer: ΔE stays small on average
        assert delta_e76(apply_adjustments(smooth, p), _twin(smooth, p)).mean() < 0.01


@pytest.mark.parametrize("key", LOCAL_PARAMS)
def test_torch_renderer_matches_each_neighbourhood_slider_alone(key):
    """Texture, clarity and dehaze on a photo-like image (smooth gradients, fine noise, a haze) at an
    odd size, so the box radii and the reflected borders are exercised; each in both directions."""
    rng = np.random.default_rng(4)
    yy, xx = np.mgrid[0:97, 0:131] / 130.0
    base = np.stack([0.3 + 0.5 * xx, 0.2 + 0.6 * yy, 0.5 + 0.2 * np.sin(6 * xx)], axis=-1)
    image = np.clip(base + 0.05 * rng.standard_normal(base.shape), 0, 1)
    image = (np.round(image * 255) / 255).astype(np.float32)
    for value in (-80.0, 65.0):
        p = {key: value}
        theirs = apply_adjustments(image, p)
        assert np.abs(theirs - image).max() > 0.01  # the slider does something here
        assert delta_e76(theirs, _twin(image, p)).max() < 0.01


def test_torch_renderer_is_differentiable_in_every_slider_and_refuses_the_tone_curve():
    image = torch.rand(2, 3, 16, 16)
    sliders = {k: torch.full((2,), 0.3 if k == "exposure" else 10.0, requires_grad=True)
               for k in render_torch.SLIDERS}
    (render_torch.render(image, sliders) * torch.rand(2, 3, 16, 16)).sum().backward()
    for k, v in sliders.items():
        assert v.grad is not None and torch.isfinite(v.grad).all() and v.grad.abs().sum() > 0, k
    identity = render_torch.render(image, {})
    assert torch.allclose(identity, image, atol=1e-5)
    with pytest.raises(ValueError, match="tone curve"):
        render_torch.render(image, {"tone_curve": torch.zeros(2)})


# ---------------------------------------------------------------- LUT pieces

def test_trilinear_lookup_matches_the_numpy_lut_and_the_identity_is_exact():
    rng = np.random.default_rng(1)
    image = rng.random((20, 30, 3)).astype(np.float32)
    x = torch.from_numpy(image).permute(2, 0, 1)[None]
    ident = identity_lut(17)[None]
    assert torch.allclose(trilinear(ident, x), x, atol=1e-5)
    lut = identity_lut(9) ** 1.7 + 0.05 * torch.rand(3, 9, 9, 9)  # [c, b, g, r]
    ours = trilinear(lut[None], x)[0].permute(1, 2, 0).numpy()
    theirs = apply_lut(image, lut.permute(3, 2, 1, 0).numpy())  # [r, g, b, c]
    assert np.abs(ours - theirs).max() < 1e-4


def test_cube_file_round_trip_and_layout(tmp_path):
    lut = identity_lut(5).permute(3, 2, 1, 0).numpy()  # [r, g, b, c]
    write_cube(tmp_path / "x.cube", lut)
    text = (tmp_path / "x.cube").read_text().splitlines()
    assert "LUT_3D_SIZE 5" in text
    data = [line for line in text if line[0].isdigit()]
    assert data[1] == "0.250000 0.000000 0.000000"  # red changes fastest
    assert np.allclose(read_cube(tmp_path / "x.cube"), lut, atol=1e-6)


def test_lut_regularisers_penalise_rough_and_decreasing_luts():
    ident = identity_lut(9)[None]
    tv0, mono0 = lut_regularisers(ident)
    assert mono0 == 0
    tv1, mono1 = lut_regularisers(ident.flip(-1))  # red output decreases along red input
    assert mono1 > 0
    noisy = ident + 0.05 * torch.randn_like(ident)
    assert lut_regularisers(noisy)[0] > tv0


def test_partial_convolution_ignores_pixels_outside_the_mask():
    conv = PartialConv2d(3, 4, 3, 1, 1)
    x = torch.rand(1, 3, 12, 12)
    mask = torch.zeros(1, 1, 12, 12)
    mask[..., :6] = 1.0
    y = x.clone()
    y[..., 6:] = torch.rand(1, 3, 12, 6) * 10  # only outside the mask
    a, m = conv(x, mask)
    b, _ = conv(y, mask)
    assert torch.allclose(a, b) and m[..., :6].all() and not m[..., 8:].any()


# ---------------------------------------------------------------- every model learns

@pytest.mark.parametrize("name", names())
def test_tiny_training_lowers_the_loss_and_raises_val_psnr(name, dataset):
    torch.manual_seed(0)
    model = create(name, **TINY[name])
    train_set = model.train_data(PPR10KFolder(dataset, "train", "a"))
    val_set = model.train_data(PPR10KFolder(dataset, "val", "a"))
    held = model.sample_batch(train_set, seeded(99, 0), "cpu")  # one fixed batch, fixed draws

    def held_loss() -> float:
        with torch.no_grad():
            return model.training_loss(held, seeded(99, 1))[0].item()

    before, loss_before = validation(model, val_set, rounds=4), held_loss()
    optimiser = torch.optim.Adam(model.parameters(), lr=model.LEARNING_RATE)
    for step in range(60):
        rng = seeded(0, step)
        loss, parts = model.training_loss(model.sample_batch(train_set, rng, "cpu"), rng)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        assert all(np.isfinite(v) for v in parts.values())
    after, loss_after = validation(model, val_set, rounds=4), held_loss()
    assert loss_after < 0.95 * loss_before, (loss_before, loss_after)
    assert after["psnr"] > before["psnr"] + 0.05, (before, after)
    assert after["input_psnr"] == pytest.approx(before["input_psnr"])


# ---------------------------------------------------------------- model directory

def test_model_directory_layout_sha256_and_strict_loading(tmp_path):
    model = create("retouch.params", size=32, widths=[8, 8, 8])
    folder = modelstore.write_version(tmp_path, "retouch.params", "3", model, {"architecture": "retouch.params",
                                                                               "arguments": model.arguments})
    assert sorted(p.name for p in folder.iterdir()) == ["card.json", "weights.safetensors"]
    card = modelstore.read_card(folder)
    assert card["sha256"] == modelstore.sha256_file(folder / "weights.safetensors")
    loaded, _ = modelstore.load_module(folder)
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)
    # versions sort naturally; a folder without weights is not a version
    modelstore.write_version(tmp_path, "retouch.params", "10", model, card)
    (tmp_path / "retouch.params" / "11").mkdir()
    assert modelstore.versions(tmp_path, "retouch.params") == ["3", "10"]
    assert modelstore.resolve(tmp_path, "retouch.params") == "10"
    with pytest.raises(modelstore.ModelNotFound, match="no version '4'.*available: 3, 10"):
        modelstore.resolve(tmp_path, "retouch.params", "4")
    with pytest.raises(modelstore.ModelNotFound, match="no trained weights.*inference.train retouch.lut"):
        modelstore.resolve(tmp_path, "retouch.lut")
    # changed weights are refused before anything is read; so are weights of another architecture
    data = bytearray((folder / "weights.safetensors").read_bytes())
    data[-1] ^= 1
    (folder / "weights.safetensors").write_bytes(bytes(data))
    with pytest.raises(ValueError, match="SHA-256"):
        modelstore.load_module(folder)
    other = folder.parent / "10"
    card10 = modelstore.read_card(other)
    card10["arguments"] = {**card10["arguments"], "widths": [8, 8, 16]}
    (other / "card.json").write_text(json.dumps(card10))
    with pytest.raises(RuntimeError, match="size mismatch"):
        modelstore.load_module(other)


# ---------------------------------------------------------------- commands and engines

@pytest.fixture(scope="module")
def trained(dataset, tmp_path_factory):
    """A model directory with tiny trained versions of every model (a few steps each)."""
    out = tmp_path_factory.mktemp("models")
    for name in names():
        train(name, dataset, "a", out, steps=4, seed=0, arguments=TINY[name], quiet=True)
    return out


def test_train_writes_the_layout_and_card(trained, dataset):
    card = modelstore.read_card(trained / "retouch.lut" / "1")
    assert card["architecture"] == "retouch.lut" and card["arguments"]["dim"] == 9
    assert card["data"]["expert"] == "a" and card["data"]["split"] == "train"
    assert card["data"]["manifest_sha256"] and card["losses"]["monotonicity"] == 10.0
    assert card["metrics"]["split"] == "val" and card["metrics"]["psnr"] > 0
    assert card["training"]["steps"] == 4 and card["sha256"]
    assert not list((trained / "retouch.lut").glob(".*"))  # the checkpoint folder is gone


def test_training_resumes_from_its_checkpoint_deterministically(dataset, tmp_path):
    args = {"size": 48, "dim": 5}
    whole = train("retouch.lut", dataset, "a", tmp_path / "a", steps=6, seed=5, arguments=args, quiet=True)
    assert train("retouch.lut", dataset, "a", tmp_path / "b", steps=6, seed=5, arguments=args, quiet=True,
                 stop_after=3) is None
    assert (tmp_path / "b" / "retouch.lut" / ".1.training" / "checkpoint.safetensors").is_file()
    resumed = train("retouch.lut", dataset, "a", tmp_path / "b", steps=6, seed=5, arguments=args, quiet=True)
    assert resumed.name == "1"
    a = modelstore.load_tensors(whole / "weights.safetensors")
    b = modelstore.load_tensors(resumed / "weights.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_evaluate_reports_model_input_and_auto_with_group_intervals(trained, dataset):
    from inference.evaluate import evaluate, format_table

    result = evaluate(trained / "retouch.params", dataset, "a", boot=50)
    assert {"model", "input", "retouch.auto", "meta"} <= set(result)
    for method in ("model", "input", "retouch.auto"):
        r = result[method]
        assert r["n_images"] == 3 and r["n_groups"] == 1
        lo, hi = r["ci95"]["psnr"]
        assert lo <= r["psnr"] <= hi
    assert result["meta"]["model"] == "retouch.params v1" and result["meta"]["target_glc"] >= 0
    assert "retouch.auto" in format_table(result)


def test_cube_export_of_a_trained_lut_is_what_the_engine_applies(trained, dataset, tmp_path):
    from inference.cube import main as cube_main

    image_path = sorted((dataset / "360p" / "val" / "source").iterdir())[0]
    assert cube_main([str(trained / "retouch.lut"), str(image_path), "--out", str(tmp_path / "x.cube")]) == 0
    lut = read_cube(tmp_path / "x.cube")
    assert lut.shape == (9, 9, 9, 3)
    from inference.imagefiles import read_rgb

    image = read_rgb(image_path)
    engine_out = engines.create("retouch.lut", model_dir=str(trained)).run({"image": image}, {})["image"]
    assert np.abs(apply_lut(image, lut) - engine_out).max() < 1e-5  # .cube keeps 6 decimals
    assert cube_main([str(trained / "retouch.params"), str(image_path), "--out", str(tmp_path / "y.cube")]) == 2


@pytest.mark.parametrize("module", ["inference.train", "inference.evaluate", "inference.cube"])
def test_commands_document_their_options(module):
    out = subprocess.run([sys.executable, "-m", module, "--help"], cwd=REPO, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0 and out.stdout.startswith(f"usage: python -m {module}")
    assert "(default: " in out.stdout


def _photo(h=90, w=120) -> np.ndarray:
    rng = np.random.default_rng(2)
    yy, xx = np.mgrid[0:h, 0:w] / w
    return np.clip(np.stack([0.3 + 0.4 * xx, 0.5 * yy + 0.2, 0.4 - 0.2 * xx], -1)
                   + rng.normal(0, 0.02, (h, w, 3)), 0, 1).astype(np.float32)


def test_learned_engines_run_on_trained_weights(trained):
    image = _photo()
    mask = np.zeros(image.shape[:2], np.float32)
    mask[20:70, 40:80] = 1.0
    for name in ("retouch.params", "retouch.lut"):
        engine = engines.create(name, model_dir=str(trained))
        out = engine.run({"image": image, "mask": mask}, {"strength": 1.0})
        assert out["image"].shape == image.shape and out["image"].dtype == np.float32
        assert out["info"]["version"] == "1" and out["info"]["device"] == "cpu"
        same = engine.run({"image": image, "mask": mask}, {"strength": 0.0})["image"]
        assert np.allclose(same, image, atol=1e-6)
    clicks = engines.create("retouch.clicks", model_dir=str(trained))
    state = clicks.prepare(image, mask)
    result = clicks.run_clicks(state, [{"x": 60, "y": 45, "positive": True}], {})
    assert result["image"].shape == image.shape and result["mask"].shape == image.shape[:2]
    assert set(result["info"]["params"]) == set(FLOAT_PARAMS)
    full = clicks.run({"image": image, "mask": mask, "clicks": [{"x": 60, "y": 45, "positive": True}]}, {})
    assert full["image"].shape == image.shape
    harmonize = engines.create("harmonize.net", model_dir=str(trained))
    out = harmonize.run({"image": image, "mask": mask, "reference": {"box": [0, 0, 30, 30]}}, {})
    assert out["image"].shape == image.shape
    assert np.allclose(out["image"][:, :30], image[:, :30], atol=1e-6)  # only the foreground changes


def test_learned_engine_versions_and_clear_refusals(trained, tmp_path):
    assert engines.is_learned("retouch.lut") and not engines.is_learned("adjust")
    assert engines.versions("retouch.lut", str(trained)) == ["1"]
    assert engines.resolve_version("retouch.lut", None, str(trained)) == "1"
    assert engines.resolve_version("adjust", None, str(trained)) == engines.spec("adjust").version
    with pytest.raises(engines.EngineInputError, match="no version '9'"):
        engines.resolve_version("retouch.lut", "9", str(trained))
    with pytest.raises(engines.EngineInputError, match="no trained weights"):
        engines.create("retouch.lut", model_dir=str(tmp_path)).run({"image": _photo()}, {})
