"""Finding people without trained weights of our own: Haar-cascade faces + box-seeded GrabCut.

Portrait retouching gives human regions priority (PPR10K's "human-region priority", paper 002;
the region-aware retouching paper 000 builds its automatic branch on it). Here the human region is
found classically:

1. frontal faces with OpenCV's Viola–Jones Haar cascade, run on a reduced-resolution grey image
   (long side ``DETECT_LONG``) and mapped back to original pixels;
2. a body box extrapolated from each face (≈3.2 face widths wide, from just above the head to
   ~8 face heights below it) seeds GrabCut at working resolution: outside the boxes is background,
   inside is probable foreground, the face centre is definite foreground.

A learned person segmenter can replace :func:`person_mask` later without changing the callers.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from inference.colour import srgb_to_lab
from inference.segmentation import grabcut_people, resize_image

DETECT_LONG = 800
_CASCADE: cv2.CascadeClassifier | None = None


def _cascade() -> cv2.CascadeClassifier:
    global _CASCADE
    if _CASCADE is None:
        path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
        _CASCADE = cv2.CascadeClassifier(path)
        if _CASCADE.empty():
            raise RuntimeError(f"could not load the Haar face cascade from {path}")
    return _CASCADE


@dataclass(frozen=True)
class Face:
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def w(self) -> float:
        return self.x1 - self.x0

    @property
    def h(self) -> float:
        return self.y1 - self.y0

    def scaled(self, s: float) -> Face:
        return Face(self.x0 * s, self.y0 * s, self.x1 * s, self.y1 * s)

    def as_list(self) -> list[float]:
        return [round(self.x0, 1), round(self.y0, 1), round(self.x1, 1), round(self.y1, 1)]


def _to_grey_u8(image: np.ndarray) -> np.ndarray:
    grey = image[..., 0] * 0.299 + image[..., 1] * 0.587 + image[..., 2] * 0.114
    return (np.clip(grey, 0, 1) * 255 + 0.5).astype(np.uint8)


def detect_faces(image: np.ndarray, detect_long: int = DETECT_LONG, min_frac: float = 0.04) -> list[Face]:
    """Frontal faces in ``image`` (H×W×3 sRGB float), boxes in the image's own pixels.

    Detection runs at long side ``detect_long``; faces smaller than ``min_frac`` of the short side
    (at least 20 px at detection scale) are ignored; overlapping hits are merged (largest kept).
    """
    h, w = image.shape[:2]
    s = min(1.0, detect_long / float(max(h, w)))
    small = resize_image(image, max(1, round(h * s)), max(1, round(w * s))) if s < 1 else image
    grey = cv2.equalizeHist(_to_grey_u8(small))
    min_side = max(20, int(min(grey.shape) * min_frac))
    hits = _cascade().detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5,
                                       minSize=(min_side, min_side))
    faces = [Face(float(x), float(y), float(x + fw), float(y + fh)) for x, y, fw, fh in
             (hits if len(hits) else [])]
    faces.sort(key=lambda f: -f.w * f.h)
    kept: list[Face] = []
    for f in faces:
        if all(_iou(f, k) < 0.3 and not _contains(k, f) for k in kept):
            kept.append(f)
    kept = [f for f in kept if _skin_like(small, f)]
    return [f.scaled(1.0 / s) for f in kept]


def _skin_like(image: np.ndarray, face: Face) -> bool:
    """Reject cascade hits on textures: a face core has a warm (a* > 0, b* > 0) chroma.

    Skin of every complexion sits in the red-yellow quadrant of CIE Lab unless the white balance
    is far off; the thresholds are loose so casts of a few ΔE still pass.
    """
    x0, y0, x1, y1 = face_core(face)
    patch = image[max(y0, 0):max(y1, y0 + 1), max(x0, 0):max(x1, x0 + 1)]
    if patch.size == 0:
        return False
    lab = srgb_to_lab(patch).reshape(-1, 3)
    a, b = float(np.median(lab[:, 1])), float(np.median(lab[:, 2]))
    return a > 2.5 and b > 2.5 and 10.0 < float(np.median(lab[:, 0])) < 97.0


def _iou(a: Face, b: Face) -> float:
    ix = max(0.0, min(a.x1, b.x1) - max(a.x0, b.x0))
    iy = max(0.0, min(a.y1, b.y1) - max(a.y0, b.y0))
    inter = ix * iy
    return inter / (a.w * a.h + b.w * b.h - inter + 1e-9)


def _contains(outer: Face, inner: Face) -> bool:
    cx, cy = (inner.x0 + inner.x1) / 2, (inner.y0 + inner.y1) / 2
    return outer.x0 <= cx <= outer.x1 and outer.y0 <= cy <= outer.y1


def body_box(face: Face, height: int, width: int) -> tuple[int, int, int, int]:
    """Body box extrapolated from a face box (x0, y0, x1, y1), clipped to the image."""
    cx = (face.x0 + face.x1) / 2
    x0 = int(max(0, cx - 1.6 * face.w))
    x1 = int(min(width, cx + 1.6 * face.w))
    y0 = int(max(0, face.y0 - 0.45 * face.h))
    y1 = int(min(height, face.y1 + 7.5 * face.h))
    return x0, y0, x1, y1


def face_core(face: Face) -> tuple[int, int, int, int]:
    """Central part of a face box that is certainly skin / person."""
    return (int(face.x0 + 0.25 * face.w), int(face.y0 + 0.2 * face.h),
            int(np.ceil(face.x1 - 0.25 * face.w)), int(np.ceil(face.y1 - 0.1 * face.h)))


def face_weight_map(faces: list[Face], height: int, width: int) -> np.ndarray:
    """H×W map that is 1 inside the central part of each face box (skin statistics region)."""
    out = np.zeros((height, width), dtype=np.float32)
    for f in faces:
        x0, y0, x1, y1 = face_core(f)
        out[max(y0, 0):min(y1, height), max(x0, 0):min(x1, width)] = 1.0
    return out


def person_mask(image: np.ndarray, faces: list[Face], iterations: int = 3,
                max_short: int = 240) -> np.ndarray:
    """Binary people mask (H×W float32, same size as ``image``) from face-seeded GrabCut.

    ``faces`` are in ``image`` pixels. GrabCut runs at short side ``max_short`` for speed and the
    result is upsampled. No faces → all zeros.
    """
    h, w = image.shape[:2]
    if not faces:
        return np.zeros((h, w), dtype=np.float32)
    s = min(1.0, max_short / float(min(h, w)))
    sh, sw = max(1, round(h * s)), max(1, round(w * s))
    small = resize_image(image, sh, sw)
    sfaces = [f.scaled(s) for f in faces]
    mask = grabcut_people(small, [body_box(f, sh, sw) for f in sfaces],
                          [face_core(f) for f in sfaces], iterations=iterations)
    # keep only the connected parts that touch a face core (GrabCut can grab look-alike clutter)
    n, comp = cv2.connectedComponents((mask > 0.5).astype(np.uint8))
    if n > 1:
        keep = np.zeros(n, dtype=bool)
        for f in sfaces:
            x0, y0, x1, y1 = face_core(f)
            ids = np.unique(comp[max(y0, 0):min(y1, sh), max(x0, 0):min(x1, sw)])
            keep[ids] = True
        keep[0] = False
        mask = keep[comp].astype(np.float32)
    if s < 1:
        mask = resize_image(mask, h, w)
    return mask


def people_mask(image: np.ndarray) -> np.ndarray:
    """Binary people mask of ``image`` (H×W×3 sRGB float): faces found, then segmented."""
    image = np.asarray(image, dtype=np.float32)
    return person_mask(image, detect_faces(image))
