"""PPR10K-layout datasets: a synthetic generator for tests and demos, and a reader.

Layout (the annotation export writes the same)::

    DIR/360p/{train,val}/{source,target_a,target_b,target_c}/{g}_{i}.tif
    DIR/masks_360p/{g}_{i}.png        people masks, 8-bit grey, 0 / 255
    DIR/groups.csv                    group, idx, photo_id, original_name, width, height, split
    DIR/manifest.json                 generator, seed, styles, split seed, sha256 of every file
    DIR/full/… and DIR/masks_full/…   the same at the crops' own resolution (``--full``)

Sources are 16-bit TIFF and targets 8-bit TIFF, as in PPR10K. A group is one split: no group has
images in both ``train`` and ``val``.

The synthetic generator (``python -m inference.datasets synth --out DIR --groups G --per-group N
--seed S``) imitates shoots: each group takes one photo (those the platform ships — scikit-image's
astronaut and camera — plus any ``--images DIR``), gives the group a lighting (exposure, white
balance) and every image its own crop, flip and a small lighting jitter. Each expert's target is the
source rendered by :func:`inference.render.apply_adjustments` with the parameters that undo that
image's lighting plus the expert's style (a: strong, warm, high contrast; b, c: mild), with a small
per-group offset of the style — consistent within a group. Every target is thus one renderer call
away from its source: the styles lie within the reach of the learned models. Masks come from the
people detector (:func:`inference.people.people_mask`), run once per photo and cropped like the
image. Same seed, same files, byte for byte.
"""

from __future__ import annotations

import argparse
import csv
import functools
import hashlib
import json
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inference.imagefiles import list_images, read_mask, read_rgb, write_mask_png, write_tiff
from inference.metrics import name_order, split_name
from inference.render import PARAMS, apply_adjustments
from inference.segmentation import resize_image

EXPERTS = ("a", "b", "c")
SIZES = {"360p": 360, "full": None}
GENERATOR = "inference.datasets synth v1"

# The experts' styles on top of the lighting correction (renderer sliders, docs/adjustments.md).
STYLES: dict[str, dict[str, float]] = {
    "a": {"exposure": 0.2, "contrast": 35.0, "highlights": -25.0, "shadows": 20.0, "whites": 10.0,
          "blacks": -10.0, "temperature": 22.0, "tint": 4.0, "vibrance": 25.0, "saturation": 8.0},
    "b": {"exposure": 0.1, "contrast": 10.0, "highlights": -10.0, "shadows": 10.0, "temperature": 6.0,
          "vibrance": 8.0},
    "c": {"exposure": 0.05, "contrast": 6.0, "shadows": 5.0, "temperature": -4.0, "tint": -3.0,
          "saturation": 6.0},
}
# A shoot's lighting (uniform ranges), the per-image jitter around it (normal sd) and the per-group
# offset of each expert's style (normal sd).
SHOOT_RANGE = {"exposure": (-1.0, 0.6), "temperature": (-40.0, 40.0), "tint": (-15.0, 15.0)}
IMAGE_JITTER = {"exposure": 0.2, "temperature": 8.0, "tint": 3.0}
STYLE_JITTER = {"exposure": 0.05, "temperature": 3.0, "contrast": 3.0}
CROP_SCALE = (0.6, 1.0)  # crop short side as a fraction of the largest that fits
ASPECTS = (4 / 3, 3 / 4, 1.0)  # width / height, one per group
VAL_FRACTION = 0.2


@dataclass(frozen=True)
class SourcePhoto:
    photo_id: str
    original_name: str
    rgb: np.ndarray  # float32 H×W×3
    mask: np.ndarray  # float32 H×W, the people detector's
    face: tuple[float, float, float, float] | None  # the largest face found (x0, y0, x1, y1)


def shipped_photos() -> list[tuple[str, str, np.ndarray]]:
    """The sample photos the platform ships (webapp/pages/first_run.py): (id, name, rgb)."""
    # Deferred: scikit-image takes ~0.2 s to import; only the generator needs its sample data.
    from skimage import data

    out = []
    for name in ("astronaut", "camera"):
        arr = np.asarray(getattr(data, name)(), dtype=np.float32) / 255.0
        if arr.ndim == 2:
            arr = np.repeat(arr[..., None], 3, axis=2)
        out.append((name, f"{name}.png", np.ascontiguousarray(arr[..., :3])))
    return out


def folder_photos(folder: str | Path) -> list[tuple[str, str, np.ndarray]]:
    """Photos of a folder, decoded like uploads (EXIF orientation, ICC → sRGB)."""
    from inference.imageio import load_path  # deferred: Pillow's CMS set-up is only needed here

    return [(p.stem, p.name, load_path(p).rgb) for p in list_images(folder).values()]


def _with_people(pid: str, name: str, rgb: np.ndarray) -> SourcePhoto:
    from inference.people import detect_faces, person_mask  # deferred: loads OpenCV's cascades

    faces = detect_faces(rgb)
    face = (faces[0].x0, faces[0].y0, faces[0].x1, faces[0].y1) if faces else None
    return SourcePhoto(pid, name, rgb, person_mask(rgb, faces), face)


@functools.cache
def _shipped_sources() -> tuple[SourcePhoto, ...]:
    return tuple(_with_people(*p) for p in shipped_photos())


def load_sources(images: str | Path | None = None) -> list[SourcePhoto]:
    """The photos with their people masks and largest face (people detector, once per photo;
    the shipped photos' results are kept for the process)."""
    extra = [_with_people(*p) for p in folder_photos(images)] if images else []
    return [*_shipped_sources(), *extra]


def _clamp(params: dict[str, float]) -> dict[str, float]:
    return {k: float(np.clip(v, PARAMS[k]["min"], PARAMS[k]["max"])) for k, v in params.items()}


def window_start(rng: np.random.Generator, keep0: float, keep1: float, size: int, total: int) -> int:
    """Start of a window of ``size`` in ``[0, total)`` that contains ``[keep0, keep1]`` (random
    among those that do; centred on it when none does)."""
    lo, hi = max(0, int(np.ceil(keep1 - size))), min(total - size, int(keep0))
    if hi >= lo:
        return int(rng.integers(lo, hi + 1))
    return int(np.clip(round((keep0 + keep1 - size) / 2), 0, total - size))


def _crop_box(rng: np.random.Generator, photo: SourcePhoto, aspect: float) -> tuple[int, int, int, int]:
    """(y0, x0, h, w): a random crop of ``aspect`` that keeps the largest face (with room above the
    head and below the chin) in frame — a portrait crop; without a face, any crop."""
    H, W = photo.mask.shape
    h = max(8, int(min(H, W / aspect) * rng.uniform(*CROP_SCALE)))
    w = max(8, min(W, int(round(h * aspect))))
    if photo.face is None:
        return int(rng.integers(0, H - h + 1)), int(rng.integers(0, W - w + 1)), h, w
    x0, y0, x1, y1 = photo.face
    fw, fh = x1 - x0, y1 - y0
    top = window_start(rng, y0 - 0.3 * fh, y1 + 0.5 * fh, h, H)
    return top, window_start(rng, x0 - 0.2 * fw, x1 + 0.2 * fw, w, W), h, w


def _resize_short(image: np.ndarray, short: int | None) -> np.ndarray:
    if short is None:
        return np.ascontiguousarray(image, dtype=np.float32)
    h, w = image.shape[:2]
    s = short / float(min(h, w))
    return resize_image(image, max(1, round(h * s)), max(1, round(w * s)))


@dataclass
class SynthImage:
    name: str
    group: int
    idx: int
    photo: SourcePhoto
    clean: np.ndarray  # crop at the photo's resolution
    mask: np.ndarray
    lighting: dict[str, float]
    styles: dict[str, dict[str, float]]  # expert → style of this group

    def source(self, short: int | None) -> np.ndarray:
        return apply_adjustments(_resize_short(self.clean, short), self.lighting)

    def target_params(self, expert: str) -> dict[str, float]:
        undo = {k: -v for k, v in self.lighting.items()}
        style = self.styles[expert]
        return _clamp({k: undo.get(k, 0.0) + style.get(k, 0.0) for k in {*undo, *style}})


def synth_group(seed: int, group: int, per_group: int, photos: Sequence[SourcePhoto]) -> list[SynthImage]:
    """The images of one group; depends only on (seed, group), not on how many groups there are."""
    rng = np.random.default_rng([seed, group])
    photo = photos[int(rng.integers(len(photos)))]
    aspect = ASPECTS[int(rng.integers(len(ASPECTS)))]
    shoot = {k: float(rng.uniform(lo, hi)) for k, (lo, hi) in SHOOT_RANGE.items()}
    styles = {e: {k: v + (float(rng.normal(0, STYLE_JITTER[k])) if k in STYLE_JITTER else 0.0)
                  for k, v in STYLES[e].items()} for e in EXPERTS}
    out = []
    for i in range(per_group):
        y0, x0, h, w = _crop_box(rng, photo, aspect)
        clean, mask = photo.rgb[y0:y0 + h, x0:x0 + w], photo.mask[y0:y0 + h, x0:x0 + w]
        if rng.random() < 0.5:
            clean, mask = clean[:, ::-1], mask[:, ::-1]
        lighting = _clamp({k: v + float(rng.normal(0, IMAGE_JITTER[k])) for k, v in shoot.items()})
        out.append(SynthImage(f"{group}_{i}", group, i, photo, np.ascontiguousarray(clean),
                              np.ascontiguousarray(mask), lighting, styles))
    return out


def split_groups(n_groups: int, seed: int, val_fraction: float = VAL_FRACTION) -> dict[int, str]:
    """Group → "train" / "val"; at least one group each side when there are two or more."""
    order = np.random.default_rng([seed, 0x5EED]).permutation(n_groups)
    n_val = min(n_groups - 1, max(1, round(n_groups * val_fraction))) if n_groups > 1 else 0
    val = set(order[:n_val].tolist())
    return {g: ("val" if g in val else "train") for g in range(n_groups)}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_image_set(root: Path, size: str, split: str, img: SynthImage) -> tuple[int, int]:
    """Writes source, targets and mask of one image at ``size``; returns (width, height)."""
    short = SIZES[size]
    base = root / size / split
    src = img.source(short)
    write_tiff(base / "source" / f"{img.name}.tif", src, bits=16)
    for e in EXPERTS:
        write_tiff(base / f"target_{e}" / f"{img.name}.tif", apply_adjustments(src, img.target_params(e)))
    mask = _resize_short(img.mask, short) if short else img.mask
    write_mask_png(root / f"masks_{size}" / f"{img.name}.png", mask)
    return src.shape[1], src.shape[0]


def synth(out: str | Path, groups: int, per_group: int, seed: int = 0, images: str | Path | None = None,
          full: bool = False, val_fraction: float = VAL_FRACTION) -> dict:
    """Generate a synthetic PPR10K-layout dataset in ``out``; returns the manifest."""
    if groups < 1 or per_group < 1:
        raise ValueError("--groups and --per-group must be at least 1")
    root = Path(out)
    sizes = ["360p", "full"] if full else ["360p"]
    for size in sizes:
        (root / f"masks_{size}").mkdir(parents=True, exist_ok=True)
        for split in ("train", "val"):
            for sub in ("source", *(f"target_{e}" for e in EXPERTS)):
                (root / size / split / sub).mkdir(parents=True, exist_ok=True)
    photos = load_sources(images)
    splits = split_groups(groups, seed, val_fraction)
    rows = []
    for g in range(groups):
        for img in synth_group(seed, g, per_group, photos):
            dims = [write_image_set(root, size, splits[g], img) for size in sizes]
            rows.append([g, img.idx, img.photo.photo_id, img.photo.original_name, *dims[0], splits[g]])
    with open(root / "groups.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["group", "idx", "photo_id", "original_name", "width", "height", "split"])
        writer.writerows(rows)
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.name != "manifest.json")
    manifest = {
        "generator": GENERATOR, "seed": seed, "groups": groups, "per_group": per_group,
        "sizes": sizes, "photos": [p.original_name for p in photos],
        "styles": STYLES, "style_jitter_sd": STYLE_JITTER, "shoot_range": SHOOT_RANGE,
        "image_jitter_sd": IMAGE_JITTER, "crop_scale": CROP_SCALE,
        "split": {"seed": seed, "val_fraction": val_fraction,
                  "val_groups": sorted(g for g, s in splits.items() if s == "val")},
        "checksums": {p.relative_to(root).as_posix(): _sha256(p) for p in files},
    }
    (root / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest


# --- reader -----------------------------------------------------------------------------------
class PPR10KFolder(Sequence):
    """Samples of a PPR10K-layout folder: ``{"name", "group", "source", "target", "mask"}`` with
    float32 H×W×3 images in [0, 1] (8- or 16-bit files) and a float32 H×W mask in [0, 1].

    ``split`` is ``train`` or ``val``, ``expert`` one of ``a``/``b``/``c``, ``size`` ``360p`` or
    ``full``. Samples are in (group, index) order, numerically.
    """

    def __init__(self, root: str | Path, split: str = "train", expert: str = "a", size: str = "360p"):
        self.root = Path(root)
        base = self.root / size / split
        self.source_dir, self.target_dir = base / "source", base / f"target_{expert}"
        self.mask_dir = self.root / f"masks_{size}"
        for d in (self.source_dir, self.target_dir):
            if not d.is_dir():
                raise FileNotFoundError(f"{d} does not exist (not a PPR10K-layout folder?)")
        self._sources = list_images(self.source_dir)
        self._targets = list_images(self.target_dir)
        self._masks = list_images(self.mask_dir) if self.mask_dir.is_dir() else {}
        self.names = sorted(self._sources, key=name_order)
        missing = [n for n in self.names if n not in self._targets or n not in self._masks]
        if missing:
            raise FileNotFoundError(f"{len(missing)} source(s) lack a target_{expert} file or a mask: "
                                    f"{', '.join(missing[:5])}")

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, i: int) -> dict:  # type: ignore[override]
        name = self.names[i]
        return {"name": name, "group": split_name(name)[0], "source": read_rgb(self._sources[name]),
                "target": read_rgb(self._targets[name]), "mask": read_mask(self._masks[name])}

    def __iter__(self) -> Iterator[dict]:
        return (self[i] for i in range(len(self)))

    @property
    def groups(self) -> dict[str, list[int]]:
        """Group → indices of its samples."""
        out: dict[str, list[int]] = {}
        for i, n in enumerate(self.names):
            out.setdefault(split_name(n)[0], []).append(i)
        return out


# --- CLI --------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m inference.datasets",
                                description="PPR10K-layout datasets (docs/metrics.md).")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("synth", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                       help="write a synthetic dataset",
                       description="Synthetic PPR10K-layout dataset: shoots made of the shipped "
                                   "photos (and --images), three expert styles through the renderer.")
    s.add_argument("--out", required=True, type=Path, help="output folder")
    s.add_argument("--groups", type=int, default=20, help="number of groups (shoots)")
    s.add_argument("--per-group", type=int, default=10, help="images per group")
    s.add_argument("--seed", type=int, default=0, help="random seed (same seed, same files)")
    s.add_argument("--images", type=Path, default=None, help="folder of extra photos to use")
    s.add_argument("--full", action="store_true", help="also write the crops at full resolution")
    s.add_argument("--val-fraction", type=float, default=VAL_FRACTION, help="share of groups in val")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    t0 = time.perf_counter()
    try:
        m = synth(args.out, args.groups, args.per_group, args.seed, args.images, args.full, args.val_fraction)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    n_val = len(m["split"]["val_groups"])
    print(f"wrote {args.groups * args.per_group} images in {args.groups} groups ({args.groups - n_val} "
          f"train, {n_val} val) to {args.out} in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
