"""The export's TIFFs (docs/annotation.md, *Export*): deflate with the horizontal predictor is
lossless (the pixels are exactly what the uncompressed file holds), 16-bit sources stay 16-bit, the
manifest's checksums are the files', and libtiff (Pillow) reads them."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import tifffile
from PIL import Image

from tests.unit.annotation_support import accept_all, make_project, make_workspace


def _image(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Smooth gradient plus noise, a few values outside [0, 1] (clipped on writing)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / np.array([h, w], np.float32)[:, None, None]
    rgb = np.stack([xx, yy, 1 - xx], axis=-1) + rng.normal(0, 0.02, (h, w, 3))
    rgb[0, 0] = [-0.2, 1.3, 0.5]
    return rgb.astype(np.float32)


@pytest.mark.parametrize("bits", [8, 16])
@pytest.mark.parametrize("compression", ["deflate", "none"])
def test_tiff_strips_hold_the_quantised_pixels_exactly(tmp_path, bits, compression):
    from inference.imagefiles import quantise
    from webapp.annotation import export

    image = _image(export.ROWS_PER_STRIP * 2 + 7, 53)  # several strips, the last one short; odd width
    path = tmp_path / "x.tif"
    export._tiff(path, image, bits, compression)
    back = tifffile.imread(path)
    assert back.dtype == (np.uint8 if bits == 8 else np.uint16)
    assert np.array_equal(back, quantise(image, bits))
    with tifffile.TiffFile(path) as tif:
        tags = tif.pages[0].tags
        assert tags["Compression"].value == (8 if compression == "deflate" else 1)  # 8: Adobe Deflate
        assert tags.get("Predictor") is None or tags["Predictor"].value == (2 if compression == "deflate" else 1)
        if compression == "deflate":
            assert len(tif.pages[0].dataoffsets) == 3
    if compression == "none":  # the bytes written before compression was an option
        from inference.imagefiles import write_tiff

        write_tiff(tmp_path / "before.tif", image, bits)
        assert path.read_bytes() == (tmp_path / "before.tif").read_bytes()
    export._tiff(tmp_path / "codes.tif", quantise(image, bits), bits, compression)  # code values: the same file
    assert (tmp_path / "codes.tif").read_bytes() == path.read_bytes()
    with pytest.raises(ValueError, match=f"{bits}-bit codes must be"):
        export._tiff(tmp_path / "wrong.tif", quantise(image, 24 - bits), bits, compression)
    with Image.open(path) as im:  # libtiff decodes the predictor and deflate
        im.load()
        assert im.size == (53, image.shape[0])
        if bits == 8:
            assert np.array_equal(np.asarray(im), back)


def test_deflate_is_smaller_and_the_same_pixels_as_uncompressed(tmp_path):
    from webapp.annotation import export

    image = _image(300, 400, seed=1)
    export._tiff(tmp_path / "d.tif", image, 8, "deflate")
    export._tiff(tmp_path / "n.tif", image, 8, "none")
    assert np.array_equal(tifffile.imread(tmp_path / "d.tif"), tifffile.imread(tmp_path / "n.tif"))
    assert (tmp_path / "d.tif").stat().st_size < 0.8 * (tmp_path / "n.tif").stat().st_size
    with pytest.raises(ValueError, match="compression"):
        export._tiff(tmp_path / "z.tif", image, 8, "zstd")


def _frozen_with_a_16bit_photo(make_user):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from webapp.annotation import services
    from webapp.photos.services import ingest_photo

    ws = make_workspace(make_user, groups=2, per_group=2)
    rng = np.random.default_rng(5)
    deep = (rng.integers(0, 65536, (30, 40, 3)) // 7 * 7 + 3).astype(np.uint16)  # not 8-bit values
    import cv2

    ingest_photo(upload=SimpleUploadedFile("deep.png", cv2.imencode(".png", deep[..., ::-1].copy())[1].tobytes()),
                 owner=ws.researcher, group=ws.groups[1])
    project = make_project(ws, split_seed=1)
    accept_all(ws, project)
    services.freeze(project=project, by=ws.researcher)
    return project, deep


def test_export_deflate_and_none_hold_the_same_pixels_16bit_stays_16bit(make_user, tmp_path):
    from django.core.management import call_command

    project, deep = _frozen_with_a_16bit_photo(make_user)
    manifests = {}
    for compression in ("deflate", "none"):
        out = tmp_path / compression
        call_command("export_dataset", str(project.pk), "--out", str(out), "--sizes", "360p,full",
                     "--tiff-compression", compression)
        manifest = manifests[compression] = json.loads((out / "manifest.json").read_text())
        assert manifest["tiff_compression"] == compression
        for rel, digest in manifest["checksums"].items():  # each checksum is the file's
            assert hashlib.sha256((out / rel).read_bytes()).hexdigest() == digest, rel
    tifs = sorted(rel for rel in manifests["none"]["checksums"] if rel.endswith(".tif"))
    assert tifs == sorted(rel for rel in manifests["deflate"]["checksums"] if rel.endswith(".tif"))
    assert len(tifs) == 5 * 4 * 2  # photos × (source + 3 targets) × sizes
    for rel in tifs:
        packed, plain = tifffile.imread(tmp_path / "deflate" / rel), tifffile.imread(tmp_path / "none" / rel)
        assert packed.dtype == plain.dtype and np.array_equal(packed, plain), rel
        assert manifests["deflate"]["checksums"][rel] != manifests["none"]["checksums"][rel]
        with Image.open(tmp_path / "deflate" / rel) as im:
            im.load()
            assert im.size == (plain.shape[1], plain.shape[0])
    # The 16-bit photo (group 1's last, index 2): its full-size source keeps every 16-bit value,
    # its targets are 8-bit.
    split = next(s for s in ("train", "val") if (tmp_path / "deflate" / "full" / s / "source" / "1_2.tif").exists())
    source = tifffile.imread(tmp_path / "deflate" / "full" / split / "source" / "1_2.tif")
    assert source.dtype == np.uint16 and np.array_equal(source, deep)
    assert tifffile.imread(tmp_path / "deflate" / "full" / split / "target_a" / "1_2.tif").dtype == np.uint8
    assert tifffile.imread(tmp_path / "deflate" / "360p" / split / "source" / "1_2.tif").dtype == np.uint16


def test_export_command_refuses_an_unknown_compression(make_user, tmp_path):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="tiff_compression|tiff-compression|invalid choice"):
        call_command("export_dataset", "1", "--out", str(tmp_path), "--tiff-compression", "lzw")
    from webapp.annotation import export

    with pytest.raises(ValueError, match="tiff_compression"):
        export.export_dataset(None, tmp_path / "x", ["360p"], tiff_compression="lzw")
    assert not (tmp_path / "x").exists()


def test_a_mask_written_from_codes_is_the_same_file_as_from_floats(tmp_path):
    from inference.imagefiles import write_mask_png

    codes = np.arange(256, dtype=np.uint8).reshape(16, 16)  # every code, 127 and 128 included
    write_mask_png(tmp_path / "codes.png", codes)
    write_mask_png(tmp_path / "floats.png", np.multiply(codes, np.float32(1 / 255), dtype=np.float32))
    assert (tmp_path / "codes.png").read_bytes() == (tmp_path / "floats.png").read_bytes()
    written = np.asarray(Image.open(tmp_path / "codes.png"))
    assert set(np.unique(written)) == {0, 255} and (written == 255).sum() == 128
