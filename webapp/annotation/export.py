"""Write a frozen project as a PPR10K-layout dataset folder (``docs/annotation.md``, *Export*)::

    DIR/manifest.json            project, dataset version, renderer version, split, slot→expert,
                                 rounds, sha256 of every file, unsupported XMP keys
    DIR/groups.csv               group, idx, photo_id, original_name, width, height, split
    DIR/params_{s}/{g}_{i}.json  each slot's parameters      DIR/xmp_target_{s}/{g}_{i}.xmp
    DIR/masks_{full,360p}/{g}_{i}.png                        binary 0/255 human masks
    DIR/{full,360p}/{train,val}/{source,target_{s}…}/{g}_{i}.tif   (uncompressed, or deflate with
                                 the horizontal predictor: ``tiff_compression``)
    DIR/agreement/{icc,delta_e,glc,self_consistency}.csv
    DIR/harmonization/{composite,fg_mask,ref_mask,target_{s}…}/{g}_{i}.{tif,png}   (harmonization)

Targets are rendered from the full-resolution original with the project's renderer, then resized
like the sources (short side 360, area averaging); sources keep their bit depth (16-bit stays
16-bit), targets are 8-bit, as in PPR10K. The renderer works on the source's code values, exactly as
the source file holds them, and writes 8-bit codes (:func:`inference.render.render_codes`: the same
pixels as rendering the decoded floats and quantising), so a photo needs no float copy of its
target; every 360p file is the area average of its full-resolution codes. The split is by group (``inference.datasets.split_groups``,
the synthetic generator's rule), so no group is in both train and val.

Speed: photos are written by :data:`PHOTO_WORKERS` threads at once (every heavy step — decoding,
rendering, quantising, TIFF writing, hashing — runs in C with the GIL released), each photo's
original decoded once, each slot's target rendered once at full resolution and written at every
size from that one render (the 360p file is its area-averaged resize). The database is read on the
calling thread only (the worker threads get the rows and masks they need), and every file's sha256
is taken by the thread that wrote it, while the file is still in the page cache.

With ``tiff_compression="deflate"`` TIFFs are written in strips of :data:`ROWS_PER_STRIP` rows,
each quantised (the rounding of :func:`inference.imagefiles.quantise`), run through TIFF's
horizontal predictor and deflated by ISA-L (level 1; it releases the GIL) on the tile pool:
lossless, about half the bytes of an uncompressed file for a photograph for ~0.25 CPU-s per 24 MP
file, readable by libtiff (Pillow), tifffile and the platform's readers. The default, ``none``,
writes uncompressed TIFFs as before: on this project's two shared cores the CPU deflate costs
outweighs the disk time it saves.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import tifffile
from isal import isal_zlib

from inference import xmp
from inference.datasets import split_groups
from inference.imagefiles import as_codes, write_mask_png, write_tiff
from inference.imageio import make_proxy
from inference.render import apply_adjustments, render_codes, tile_pool
from webapp.annotation import rendering, reports, selectors
from webapp.annotation.models import AnnotationProject, Assignment
from webapp.photos.models import Mask
from webapp.photos.selectors import load_photo_codes
from webapp.refusal import Conflict

SHORT_SIDE = {"360p": 360, "full": None}
# Photos in flight (each also uses the tile pool): one more than the cores, so that while one waits on
# the disk (writeback at full size) the others keep both cores busy (2 cores, 20 full-size photos, one
# loaded run each: 35.6 s with 3 against 40.3 s with 2; each in flight holds ~150 MB at 24 MP).
PHOTO_WORKERS = max(1, min(4, (os.cpu_count() or 1) + 1))
TIFF_COMPRESSIONS = ("deflate", "none")
DEFAULT_TIFF_COMPRESSION = "none"  # faster end to end on 2 shared cores (docs/annotation.md, Figures)
ROWS_PER_STRIP = 64  # deflate: 1.1 MB of 8-bit RGB at 6000 px wide; enough strips for both cores
_DEFLATE_LEVEL = 1  # ISA-L's levels are 0-3; 1 gives ~1.9x on a 24 MP photograph at ~0.26 CPU-s


def _resized(image: np.ndarray, size: str) -> np.ndarray:
    short = SHORT_SIDE[size]
    return image if short is None else make_proxy(image, short)


def _write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, sort_keys=True, default=str) + "\n")


def _csv(path: Path, header: list[str], rows: list[list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)


def _strip(rows: np.ndarray, bits: int) -> bytes:
    """One deflated TIFF strip: floats quantised as ``floor(clip(x, 0, 1) · top + 0.5)`` (as
    :func:`inference.imagefiles.quantise`; code values as they are), the horizontal predictor (each
    sample minus the same channel of the pixel to its left, modulo 2^bits) and ISA-L deflate (a zlib
    stream, as TIFF's Adobe Deflate wants)."""
    dtype, top = {8: (np.uint8, 255.0), 16: (np.uint16, 65535.0)}[bits]
    if rows.dtype.kind == "u":
        q = as_codes(rows, bits).reshape(rows.shape[0], -1)
    else:
        t = np.clip(np.asarray(rows, np.float32), 0.0, 1.0)
        t *= np.float32(top)
        t += np.float32(0.5)
        q = t.astype(dtype).reshape(rows.shape[0], -1)  # the cast truncates, as quantise's does
    d = np.empty_like(q)
    d[:, :3] = q[:, :3]
    np.subtract(q[:, 3:], q[:, :-3], out=d[:, 3:])  # unsigned: wraps modulo 2^bits, as TIFF's predictor
    return isal_zlib.compress(d, _DEFLATE_LEVEL)


def _tiff(path: Path, image: np.ndarray, bits: int = 8, compression: str = DEFAULT_TIFF_COMPRESSION) -> None:
    """H×W×3 floats in [0, 1] or code values → 8/16-bit RGB TIFF, byte-identical for identical pixels
    (no date tag).
    ``none``: :func:`inference.imagefiles.write_tiff`, the same bytes as before compression was an
    option. ``deflate``: strips encoded on the tile pool (the caller must not be one of its threads)."""
    if compression not in TIFF_COMPRESSIONS:
        raise ValueError(f"tiff compression must be one of {', '.join(TIFF_COMPRESSIONS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if compression == "none":
        write_tiff(path, image, bits=bits)
        return
    image = np.asarray(image)
    starts = range(0, image.shape[0], ROWS_PER_STRIP)
    if len(starts) > 1:
        strips = tile_pool().map(lambda r: _strip(image[r:r + ROWS_PER_STRIP], bits), starts)
    else:
        strips = iter([_strip(image, bits)])
    tifffile.imwrite(path, data=strips, shape=image.shape, dtype=np.uint8 if bits == 8 else np.uint16,
                     photometric="rgb", rowsperstrip=ROWS_PER_STRIP, compression="adobe_deflate", predictor=2)


def _mask_png(path: Path, mask: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_mask_png(path, mask)


def _agreement_csvs(root: Path, project: AnnotationProject) -> None:
    report = reports.agreement(project)
    slots = report["slots"]
    _csv(root / "agreement" / "icc.csv", ["slider", "n", "icc_a1", "icc_c1", *[f"offset_{s}" for s in slots]],
         [[k, v["n"], v["icc_a1"], v["icc_c1"], *[(v["style_offsets"] or {}).get(s) for s in slots]]
          for k, v in report["icc"].items()])
    _csv(root / "agreement" / "delta_e.csv", ["slot_1", "slot_2", "photos", "delta_e76", "delta_e_hc"],
         [[*r["slots"], r["photos"], r["delta_e76"], r["delta_e_hc"]] for r in report["delta_e"]])
    _csv(root / "agreement" / "glc.csv", ["group", "name", *[f"glc_{s}" for s in slots]],
         [[r["group"], r["name"], *[r[s] for s in slots]] for r in report["glc"]["groups"]])
    _csv(root / "agreement" / "self_consistency.csv",
         ["expert", "slot", "photo", "delta_e76", "mean_abs_slider_difference"],
         [[r["expert"], r["slot"], r["photo"], r["delta_e76"], r["mean_abs_slider_difference"]]
          for r in report["self_consistency"]])


class _TargetBuffers:
    """One full-resolution 8-bit target array per writer thread, reused from photo to photo (a fresh
    72 MB array per target costs more in page faults than rendering into it; issue 15's lesson)."""

    def __init__(self) -> None:
        self._local = threading.local()

    def target(self, height: int, width: int) -> np.ndarray:
        buffer = getattr(self._local, "buffer", None)
        if buffer is None or buffer.shape != (height, width, 3):
            buffer = self._local.buffer = None  # drop the old one before allocating its successor
            buffer = self._local.buffer = np.empty((height, width, 3), np.uint8)
        return buffer


class _Writer:
    """Writes one photo's files (:meth:`photo`, safe to call from several threads at once) and
    remembers each file's sha256 (:attr:`checksums`, relative path → hex digest)."""

    def __init__(self, root: Path, project: AnnotationProject, sizes: list[str],
                 tiff_compression: str = DEFAULT_TIFF_COMPRESSION):
        self.root, self.project, self.sizes = root, project, sizes
        self.tiff_compression = tiff_compression
        self.harmonization = project.kind == AnnotationProject.Kind.HARMONIZATION
        self.harmonization_size = "full" if "full" in sizes else "360p"
        self.checksums: dict[str, str] = {}
        self._buffers = _TargetBuffers()

    def mask_kinds(self) -> tuple[str, ...]:
        kinds = (Mask.Kind.HUMAN,)
        return (*kinds, Mask.Kind.FOREGROUND, Mask.Kind.REFERENCE) if self.harmonization else kinds

    def _done(self, path: Path) -> None:
        self.checksums[path.relative_to(self.root).as_posix()] = _sha256(path)

    def _tiff(self, path: Path, image: np.ndarray, bits: int = 8) -> None:
        _tiff(path, image, bits, self.tiff_compression)
        self._done(path)

    def _mask_png(self, path: Path, mask: np.ndarray) -> None:
        _mask_png(path, mask)
        self._done(path)

    def photo(self, name: str, split: str, photo, slot_edits: dict, masks: dict) -> tuple[int, int]:
        """``masks``: the photo's latest mask row of each of :meth:`mask_kinds` (or None), read by
        the caller, so that this needs no database."""
        bits = 16 if photo.bit_depth == 16 else 8
        if self.harmonization:
            composite = rendering.source(photo, "original")
            h, w = composite.shape[:2]
            self._harmonization(name, composite, slot_edits, masks, bits)
        else:
            # The original's code values, as its source file will hold them (a float decode, where
            # a colour step needed one, is quantised once); targets are rendered from these.
            codes = as_codes(load_photo_codes(photo), bits)
            h, w = codes.shape[:2]
            for size in self.sizes:
                self._tiff(self.root / size / split / "source" / f"{name}.tif", _resized(codes, size), bits)
            target = self._buffers.target(h, w)  # reused: one target in memory at a time, no fresh pages
            for slot, edit in slot_edits.items():
                render_codes(codes, edit.params, bits=8, out=target)
                for size in self.sizes:
                    self._tiff(self.root / size / split / f"target_{slot}" / f"{name}.tif", _resized(target, size))
        human = rendering.mask_codes(masks.get(Mask.Kind.HUMAN), h, w)
        for size in self.sizes:
            if human is not None:
                self._mask_png(self.root / f"masks_{size}" / f"{name}.png", _resized(human, size))
        for slot, edit in slot_edits.items():
            _write_json(self.root / f"params_{slot}" / f"{name}.json",
                        {"params": edit.params, "renderer_version": edit.renderer_version, "edit_version": edit.version,
                         "round": edit.round, "saved_at": edit.saved_at.isoformat()})
            path = self.root / f"xmp_target_{slot}" / f"{name}.xmp"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(xmp.write_xmp(edit.params))
        return w, h

    def _harmonization(self, name, composite, slot_edits, masks, bits) -> None:
        size = self.harmonization_size
        base = self.root / "harmonization"
        h, w = composite.shape[:2]
        self._tiff(base / "composite" / f"{name}.tif", _resized(composite, size), bits)
        loaded = {kind: rendering.mask_array(masks.get(kind), h, w) for kind in (Mask.Kind.FOREGROUND, Mask.Kind.REFERENCE)}
        for kind, folder in ((Mask.Kind.FOREGROUND, "fg_mask"), (Mask.Kind.REFERENCE, "ref_mask")):
            if loaded[kind] is not None:
                self._mask_png(base / folder / f"{name}.png", _resized(loaded[kind], size))
        fg = loaded[Mask.Kind.FOREGROUND]
        for slot, edit in slot_edits.items():
            # rendering.render(..., harmonization=True) with the foreground mask read once per photo
            target = apply_adjustments(composite, edit.params)
            if fg is not None:
                target = composite + fg[..., None] * (target - composite)
            self._tiff(base / f"target_{slot}" / f"{name}.tif", _resized(target, size))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def export_dataset(project: AnnotationProject, out: str | Path, sizes: list[str],
                   progress: Callable[[float], None] | None = None, *,
                   tiff_compression: str = DEFAULT_TIFF_COMPRESSION) -> dict:
    """Write the project's frozen dataset version into ``out``; returns the manifest.
    ``tiff_compression``: ``deflate`` (lossless, horizontal predictor) or ``none``."""
    if tiff_compression not in TIFF_COMPRESSIONS:
        raise ValueError(f"tiff_compression must be one of {', '.join(TIFF_COMPRESSIONS)}")
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    assignments = list(project.assignments.select_related("project_group__group", "expert", "reviewer"))
    edits = selectors.current_edits(assignments)
    groups = list(project.project_groups.select_related("group").order_by("index"))
    splits = split_groups(len(groups), project.split_seed, project.val_fraction)
    by_group = {pg.pk: {a.slot: a for a in assignments if a.project_group_id == pg.pk} for pg in groups}
    writer = _Writer(root, project, sizes, tiff_compression)
    rows, unsupported = [], {}
    work = [(pg, i, photo) for pg in groups for i, photo in enumerate(selectors.group_photos(pg))]
    jobs = []
    for pg, i, photo in work:  # the database is read here, on the calling thread
        name = f"{pg.index}_{i}"
        slot_edits = {slot: edits[(a.pk, photo.pk)] for slot, a in by_group[pg.pk].items()
                      if (a.pk, photo.pk) in edits}
        masks = {kind: rendering.latest_mask(photo, kind) for kind in writer.mask_kinds()}
        jobs.append((name, splits[pg.index], photo, slot_edits, masks))
    with ThreadPoolExecutor(PHOTO_WORKERS, thread_name_prefix="export") as pool:
        futures = [pool.submit(writer.photo, *job) for job in jobs]
        try:
            for done, ((pg, i, photo), (name, _, _, slot_edits, _), future) in enumerate(
                    zip(work, jobs, futures, strict=True)):
                width, height = future.result()
                rows.append([pg.index, i, photo.pk, photo.original_name, width, height, splits[pg.index]])
                for slot, edit in slot_edits.items():
                    if edit.unsupported:
                        unsupported[f"{name}/{slot}"] = edit.unsupported
                if progress:
                    progress(0.9 * (done + 1) / max(1, len(work)))
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    _csv(root / "groups.csv", ["group", "idx", "photo_id", "original_name", "width", "height", "split"], rows)
    _agreement_csvs(root, project)
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.name != "manifest.json")
    manifest = {
        "project": {"id": project.pk, "title": project.title, "kind": project.kind},
        "dataset_version": project.dataset_version,
        "renderer_version": rendering.RENDERER_VERSION,
        "sizes": sizes,
        "tiff_compression": tiff_compression,
        "split": {"seed": project.split_seed, "val_fraction": project.val_fraction, "by": "group",
                  "val_groups": sorted(g for g, s in splits.items() if s == "val")},
        "slots": {slot: sorted({a.expert.username for a in assignments if a.slot == slot and a.expert})
                  for slot in project.slots},
        "assignments": [{"group": a.project_group.index, "slot": a.slot, "state": a.state,
                         "expert": a.expert.username if a.expert else None,
                         "reviewer": a.reviewer.username if a.reviewer else None, "rounds": a.round}
                        for a in assignments],
        "unsupported_xmp_keys": unsupported,
        "checksums": {rel: writer.checksums.get(rel) or _sha256(p)
                      for p in files for rel in [p.relative_to(root).as_posix()]},
    }
    _write_json(root / "manifest.json", manifest)
    if progress:
        progress(1.0)
    return manifest


def frozen_or_refuse(project: AnnotationProject) -> None:
    """The command and the job export only a frozen version (every assignment frozen)."""
    if project.dataset_version < 1 or project.assignments.exclude(state=Assignment.State.FROZEN).exists():
        raise Conflict("Freeze the project first: every assignment must be accepted and frozen.")


# Images go into the archive as they are: deflating 24 MP TIFFs again costs minutes of CPU for a
# few percent (PNG masks are deflated already); the small text files (json, csv, xmp) are deflated.
STORED_IN_ARCHIVE = (".tif", ".tiff", ".png")


def write_archive(folder: Path, destination, progress: Callable[[float], None] | None = None) -> int:
    """Zip ``folder`` (its name as the top directory) into the binary file object ``destination``;
    ``progress`` gets the fraction of bytes archived. Returns the number of files archived."""
    import zipfile

    files = sorted(p for p in folder.rglob("*") if p.is_file())
    total = sum(p.stat().st_size for p in files) or 1
    done = 0
    with zipfile.ZipFile(destination, "w", allowZip64=True) as archive:
        for path in files:
            stored = path.suffix.lower() in STORED_IN_ARCHIVE
            archive.write(path, (Path(folder.name) / path.relative_to(folder)).as_posix(),
                          compress_type=zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED)
            done += path.stat().st_size
            if progress:
                progress(done / total)
    return len(files)
