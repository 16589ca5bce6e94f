"""A tiny PPR10K-layout zip for the registry's upload tests (unit and browser)."""

from __future__ import annotations

import io
import zipfile

import numpy as np

SPLITS = {"train": [(0, 0), (0, 1), (1, 0)], "val": [(2, 0), (2, 1)]}  # (group, index); groups never straddle


def _tiff(image: np.ndarray) -> bytes:
    import tifffile

    out = io.BytesIO()
    tifffile.imwrite(out, (np.clip(image, 0, 1) * 255).astype(np.uint8), photometric="rgb")
    return out.getvalue()


def _png(mask: np.ndarray) -> bytes:
    import cv2

    ok, encoded = cv2.imencode(".png", (mask > 0.5).astype(np.uint8) * 255)
    assert ok
    return encoded.tobytes()


def ppr10k_files(prefix: str = "", experts=("a",), skip: set[str] = frozenset()) -> dict[str, bytes]:
    """A tiny PPR10K-layout dataset as {zip name: bytes}: 40×30 sources, targets a brighter, warmer
    copy (learnable by a LUT), full people masks; names in ``skip`` left out."""
    rng = np.random.default_rng(0)
    files = {}
    for split, names in SPLITS.items():
        for g, i in names:
            source = rng.uniform(0.1, 0.7, (30, 40, 3)).astype(np.float32)
            stem = f"{g}_{i}"
            files[f"{prefix}360p/{split}/source/{stem}.tif"] = _tiff(source)
            for e in experts:
                files[f"{prefix}360p/{split}/target_{e}/{stem}.tif"] = _tiff(source * np.array([1.25, 1.15, 1.0]))
            files[f"{prefix}masks_360p/{stem}.png"] = _png(np.ones((30, 40), np.float32))
    return {k: v for k, v in files.items() if not any(k.startswith(prefix + s) for s in skip)}


def as_zip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()
