"""The synthetic PPR10K-layout generator and the folder reader."""

from __future__ import annotations

import csv
import hashlib
import json

import numpy as np
import pytest

from inference.datasets import EXPERTS, PPR10KFolder, main, synth, synth_group
from inference.imagefiles import read_rgb
from inference.render import apply_adjustments


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    manifest = synth(root, groups=5, per_group=3, seed=7)
    return root, manifest


def test_layout_groups_and_split(dataset):
    root, manifest = dataset
    with open(root / "groups.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["group", "idx", "photo_id", "original_name", "width", "height", "split"]
    assert len(rows) == 15
    splits_of: dict[str, set[str]] = {}
    for r in rows:
        splits_of.setdefault(r["group"], set()).add(r["split"])
        name = f"{r['group']}_{r['idx']}"
        for sub in ("source", *(f"target_{e}" for e in EXPERTS)):
            assert (root / "360p" / r["split"] / sub / f"{name}.tif").is_file()
        assert (root / "masks_360p" / f"{name}.png").is_file()
        assert min(int(r["width"]), int(r["height"])) == 360
        assert r["original_name"] in ("astronaut.png", "camera.png")
    assert all(len(s) == 1 for s in splits_of.values())  # a group never straddles the split
    val = {g for g, s in splits_of.items() if s == {"val"}}
    assert val == {str(g) for g in manifest["split"]["val_groups"]} and 0 < len(val) < 5
    for rel, digest in manifest["checksums"].items():
        assert hashlib.sha256((root / rel).read_bytes()).hexdigest() == digest
    assert json.loads((root / "manifest.json").read_text())["seed"] == 7


def test_same_seed_same_files(dataset, tmp_path):
    root, manifest = dataset
    again = synth(tmp_path / "again", groups=5, per_group=3, seed=7)
    assert again["checksums"] == manifest["checksums"]
    other = synth(tmp_path / "other", groups=2, per_group=3, seed=8)
    shared = set(other["checksums"]) & set(manifest["checksums"])
    assert any(other["checksums"][k] != manifest["checksums"][k] for k in shared)


def test_reader_samples_and_16_bit_sources(dataset):
    root, _ = dataset
    ds = PPR10KFolder(root, split="train", expert="a")
    assert len(ds) == 3 * len(ds.groups) and 0 < len(ds.groups) < 5
    s = ds[0]
    assert set(s) == {"name", "group", "source", "target", "mask"}
    assert s["source"].dtype == np.float32 and s["source"].shape[2] == 3
    assert s["target"].shape == s["source"].shape and s["mask"].shape == s["source"].shape[:2]
    # 16-bit source: values between 8-bit steps survive
    assert np.any(np.abs(s["source"] * 255 - np.round(s["source"] * 255)) > 0.05)
    assert set(np.unique(s["mask"])) <= {0.0, 1.0}
    assert [x["name"] for x in ds] == ds.names
    with pytest.raises(FileNotFoundError):
        PPR10KFolder(root, split="test")


def test_targets_are_one_renderer_call_from_the_source(dataset):
    """Each target is the stored source through apply_adjustments (8-bit rounding aside), with the
    same style within a group: the styles lie within the learned models' reach."""
    root, _ = dataset
    photos = _photos_used()
    for img in synth_group(7, 0, 3, photos):
        split = "val" if (root / "360p" / "val" / "source" / f"{img.name}.tif").exists() else "train"
        src = read_rgb(root / "360p" / split / "source" / f"{img.name}.tif")
        for e in EXPERTS:
            want = apply_adjustments(src, img.target_params(e))
            got = read_rgb(root / "360p" / split / f"target_{e}" / f"{img.name}.tif")
            assert np.abs(got - want).max() <= 0.6 / 255
    a, b = synth_group(7, 0, 2, photos)
    assert a.styles == b.styles
    warm = [synth_group(7, g, 1, photos)[0] for g in range(3)]
    assert all(w.styles["a"]["temperature"] > w.styles["b"]["temperature"] for w in warm)


def _photos_used():
    from inference.datasets import load_sources

    return load_sources()


def test_cli(tmp_path, capsys):
    assert main(["synth", "--out", str(tmp_path / "d"), "--groups", "2", "--per-group", "1",
                 "--seed", "3"]) == 0
    assert "wrote 2 images in 2 groups (1 train, 1 val)" in capsys.readouterr().out
    assert main(["synth", "--out", str(tmp_path / "e"), "--groups", "0"]) == 2
