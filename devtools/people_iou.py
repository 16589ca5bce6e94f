"""IoU of the people segmenter (``inference.people``) against the hand-drawn masks of the shipped
photos (``tests/data/people_masks``), on the whole photos and on jittered portrait crops of them
(the synthetic generator's kind: 60–100 % crops keeping the face in frame, mirrored half the
time, exposure U(−0.8, 0.5) EV, temperature U(−30, 30)), and on the photos resized. The figures
of docs/engines.md.

    .venv/bin/python -m devtools.people_iou [--crops 20] [--seed 0]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from inference.datasets import shipped_photos, window_start
from inference.people import detect_faces, person_mask
from inference.render import apply_adjustments
from inference.segmentation import resize_image

MASKS = Path(__file__).resolve().parents[1] / "tests" / "data" / "people_masks"
SIDES = (240, 300, 360, 400, 700, 1024)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def crops(rng: np.random.Generator, rgb: np.ndarray, gt: np.ndarray, n: int):
    """``n`` jittered portrait crops (image, ground truth) around the photo's first face."""
    H, W = gt.shape
    faces = detect_faces(rgb)
    x0, y0, x1, y1 = (faces[0].x0, faces[0].y0, faces[0].x1, faces[0].y1) if faces else (0, 0, W, H)
    for k in range(n):
        aspect = (4 / 3, 3 / 4, 1.0)[k % 3]
        h = int(min(H, W / aspect) * rng.uniform(0.6, 1.0))
        w = min(W, int(round(h * aspect)))
        top = window_start(rng, y0 - 0.3 * (y1 - y0), y1 + 0.5 * (y1 - y0), h, H)
        left = window_start(rng, x0 - 0.2 * (x1 - x0), x1 + 0.2 * (x1 - x0), w, W)
        img, g = rgb[top:top + h, left:left + w], gt[top:top + h, left:left + w]
        if rng.random() < 0.5:
            img, g = img[:, ::-1], g[:, ::-1]
        light = {"exposure": float(rng.uniform(-0.8, 0.5)), "temperature": float(rng.uniform(-30, 30))}
        yield apply_adjustments(np.ascontiguousarray(img), light), np.ascontiguousarray(g)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m devtools.people_iou", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--crops", type=int, default=20, help="jittered crops per photo")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    for name, _, rgb in shipped_photos():
        gt = cv2.imread(str(MASKS / f"{name}.png"), cv2.IMREAD_GRAYSCALE) > 0
        t0 = time.perf_counter()
        faces = detect_faces(rgb)
        whole = iou(person_mask(rgb, faces) > 0.5, gt)
        ms = (time.perf_counter() - t0) * 1000
        found = []
        for img, g in crops(rng, rgb, gt, args.crops):
            f = detect_faces(img)
            if f:
                found.append(iou(person_mask(img, f) > 0.5, g))
        mean = f"{np.mean(found):.3f}" if found else "—"
        print(f"{name:<10} photo IoU {whole:.3f} ({ms:.0f} ms)   crops: face found in {len(found)}/{args.crops}, "
              f"mean IoU {mean}")
        scaled = []
        for side in SIDES:  # the same photo resized: how much the result depends on the input size
            img, g = resize_image(rgb, side, side), resize_image(gt.astype(np.float32), side, side) > 0.5
            scaled.append(f"{side}: {iou(person_mask(img, detect_faces(img)) > 0.5, g):.2f}")
        print(f"{'':<10} photo resized to " + ", ".join(scaled))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
