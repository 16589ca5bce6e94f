"""What the exported dataset's pixels are (docs/annotation.md, *Export*): every full-resolution
target is the renderer applied to the source file's own codes, every 360p file is the area average of
its full-resolution codes, and the masks are the stored masks made binary."""

from __future__ import annotations

import json

import numpy as np
import tifffile

from inference.imagefiles import read_mask
from inference.imageio import make_proxy
from inference.render import render_codes
from tests.unit.annotation_support import accept_all, make_project, make_workspace


def test_targets_are_the_renderer_on_the_source_codes_and_360p_is_their_area_average(make_user, tmp_path):
    from webapp.annotation import export, rendering, services
    from webapp.photos.models import Mask

    ws = make_workspace(make_user, groups=1, per_group=2, size=(600, 480))  # 360p is a real resize
    project = make_project(ws, split_seed=1)
    accept_all(ws, project)
    services.freeze(project=project, by=ws.researcher)
    manifest = export.export_dataset(project, tmp_path, ["360p", "full"])
    split = manifest["split"]
    photos = list(project.project_groups.get(index=0).group.photos.order_by("id"))
    checked = 0
    for i, photo in enumerate(photos):
        name = f"0_{i}"
        part = "val" if 0 in split["val_groups"] else "train"
        source = tifffile.imread(tmp_path / "full" / part / "source" / f"{name}.tif")
        assert source.shape == (photo.height, photo.width, 3) and source.dtype == np.uint8
        small_source = tifffile.imread(tmp_path / "360p" / part / "source" / f"{name}.tif")
        assert small_source.shape == (360, 450, 3) and np.array_equal(small_source, make_proxy(source, 360))
        for slot in project.slots:
            params = json.loads((tmp_path / f"params_{slot}" / f"{name}.json").read_text())["params"]
            assert any(v for k, v in params.items() if k != "tone_curve")  # a real edit, not the identity
            target = tifffile.imread(tmp_path / "full" / part / f"target_{slot}" / f"{name}.tif")
            assert np.array_equal(target, render_codes(source, params))
            small = tifffile.imread(tmp_path / "360p" / part / f"target_{slot}" / f"{name}.tif")
            assert np.array_equal(small, make_proxy(target, 360))
            checked += 1
        stored = rendering.mask_array(rendering.latest_mask(photo, Mask.Kind.HUMAN), photo.height, photo.width)
        assert stored is not None and 0 < stored.mean() < 1
        assert np.array_equal(read_mask(tmp_path / "masks_full" / f"{name}.png"), (stored > 0.5).astype(np.float32))
    assert checked == len(photos) * len(project.slots) > 0
