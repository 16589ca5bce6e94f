"""Finding people without trained weights of our own: Haar-cascade faces + template-seeded GrabCut.

Portrait retouching gives human regions priority (PPR10K's "human-region priority", paper 002;
the region-aware retouching paper 000 builds its automatic branch on it). Here the human region is
found classically:

1. faces with OpenCV's Viola–Jones Haar cascades, run on a reduced-resolution grey image (long side
   ``DETECT_LONG``) and mapped back to original pixels: frontal faces, and when there are none,
   profile faces (the cascade knows one direction; it is also run on the mirrored image). Hits must
   have a skin-like chroma unless the whole photo is achromatic (a black-and-white photo);
2. a body template per face (:func:`body_region`): from just above the head to 7.5 face heights
   below the chin, ``BODY_HALF_WIDTH`` face widths either side of the face centre, widening by
   ``BODY_SPREAD`` face widths per face height below the chin (shoulders, arms and coats flare
   out), inside a wider fringe (``FRINGE_*``);
3. GrabCut (Rother et al. 2004) at short side 240 px: the template is probable foreground, the
   fringe probable background (so the colours right beside a person enter the background model even
   when a tight crop leaves little else), the rest background, face centres and a strip below the
   chin (:func:`torso_core`) foreground. Its colour models start from a deterministic k-means
   (OpenCV's own start is random and its result swung between IoU 0.15 and 0.82 on the astronaut
   with the seed), so a mask depends on the image alone.

Measured against hand-drawn masks of the shipped photos (``tests/data/people_masks``, numbers in
docs/engines.md): IoU 0.71 on the astronaut and 0.90 on the camera man, 0.85 / 0.67 on average
over jittered portrait crops of them (before: 0.67 / 0 on the photos — the camera man's profile
face was not found — and 0.65 / 0 on the crops). MediaPipe's selfie segmenter scores 0.74 / 0.91
on the photos but cannot be installed beside our pinned dependencies.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from inference.colour import srgb_to_lab
from inference.segmentation import resize_image

DETECT_LONG = 800
FRONTAL_CASCADE = "haarcascade_frontalface_default.xml"
PROFILE_CASCADE = "haarcascade_profileface.xml"
BODY_HALF_WIDTH = 1.0  # body template: face widths either side of the face centre, down to the chin,
BODY_SPREAD = 0.2  # ... plus this many face widths per face height below the chin
FRINGE_HALF_WIDTH = 2.2  # the fringe around it (probable background), likewise
FRINGE_SPREAD = 0.8
BODY_BELOW = 7.5  # face heights below the chin
GRABCUT_SHORT = 240
GRABCUT_ITERATIONS = 5
ACHROMATIC_CHROMA = 4.0  # a photo whose 99th-percentile Lab chroma is below this is black-and-white
_CASCADES: dict[str, cv2.CascadeClassifier] = {}


def _cascade(name: str = FRONTAL_CASCADE) -> cv2.CascadeClassifier:
    if name not in _CASCADES:
        path = cv2.data.haarcascades + name
        cascade = cv2.CascadeClassifier(path)
        if cascade.empty():
            raise RuntimeError(f"could not load the Haar face cascade from {path}")
        _CASCADES[name] = cascade
    return _CASCADES[name]


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


def _hits(name: str, grey: np.ndarray, min_side: int, mirrored: bool = False) -> list[Face]:
    src = np.ascontiguousarray(grey[:, ::-1]) if mirrored else grey
    hits = _cascade(name).detectMultiScale(src, scaleFactor=1.1, minNeighbors=5,
                                           minSize=(min_side, min_side))
    w = grey.shape[1]
    return [Face(float(w - x - fw), float(y), float(w - x), float(y + fh)) if mirrored
            else Face(float(x), float(y), float(x + fw), float(y + fh))
            for x, y, fw, fh in (hits if len(hits) else [])]


def detect_faces(image: np.ndarray, detect_long: int = DETECT_LONG, min_frac: float = 0.04) -> list[Face]:
    """Faces in ``image`` (H×W×3 sRGB float), boxes in the image's own pixels.

    Detection runs at long side ``detect_long``; faces smaller than ``min_frac`` of the short side
    (at least 20 px at detection scale) are ignored; overlapping hits are merged (largest kept).
    Frontal faces first; only when there is none, profile faces facing either way.
    """
    h, w = image.shape[:2]
    s = min(1.0, detect_long / float(max(h, w)))
    small = resize_image(image, max(1, round(h * s)), max(1, round(w * s))) if s < 1 else image
    grey = cv2.equalizeHist(_to_grey_u8(small))
    min_side = max(20, int(min(grey.shape) * min_frac))
    faces = _hits(FRONTAL_CASCADE, grey, min_side)
    if not faces:
        faces = _hits(PROFILE_CASCADE, grey, min_side) + _hits(PROFILE_CASCADE, grey, min_side, True)
    faces.sort(key=lambda f: -f.w * f.h)
    kept: list[Face] = []
    for f in faces:
        if all(_iou(f, k) < 0.3 and not _contains(k, f) for k in kept):
            kept.append(f)
    achromatic = _achromatic(small)
    kept = [f for f in kept if _skin_like(small, f, achromatic)]
    return [f.scaled(1.0 / s) for f in kept]


def _achromatic(image: np.ndarray) -> bool:
    """A black-and-white photo (its colours all within ``ACHROMATIC_CHROMA`` of grey)."""
    step = max(1, min(image.shape[:2]) // 128)
    lab = srgb_to_lab(np.ascontiguousarray(image[::step, ::step]))
    return float(np.percentile(np.hypot(lab[..., 1], lab[..., 2]), 99)) < ACHROMATIC_CHROMA


def _skin_like(image: np.ndarray, face: Face, achromatic: bool = False) -> bool:
    """Reject cascade hits on textures: a face core has a warm (a* > 0, b* > 0) chroma.

    Skin of every complexion sits in the red-yellow quadrant of CIE Lab unless the white balance
    is far off; the thresholds are loose so casts of a few ΔE still pass. A black-and-white photo
    has no chroma to test: only the lightness range is checked there.
    """
    x0, y0, x1, y1 = face_core(face)
    patch = image[max(y0, 0):max(y1, y0 + 1), max(x0, 0):max(x1, x0 + 1)]
    if patch.size == 0:
        return False
    lab = srgb_to_lab(patch).reshape(-1, 3)
    a, b = float(np.median(lab[:, 1])), float(np.median(lab[:, 2]))
    return (achromatic or (a > 2.5 and b > 2.5)) and 10.0 < float(np.median(lab[:, 0])) < 97.0


def _iou(a: Face, b: Face) -> float:
    ix = max(0.0, min(a.x1, b.x1) - max(a.x0, b.x0))
    iy = max(0.0, min(a.y1, b.y1) - max(a.y0, b.y0))
    inter = ix * iy
    return inter / (a.w * a.h + b.w * b.h - inter + 1e-9)


def _contains(outer: Face, inner: Face) -> bool:
    cx, cy = (inner.x0 + inner.x1) / 2, (inner.y0 + inner.y1) / 2
    return outer.x0 <= cx <= outer.x1 and outer.y0 <= cy <= outer.y1


def body_region(face: Face, height: int, width: int, half_width: float = BODY_HALF_WIDTH,
                spread: float = BODY_SPREAD) -> np.ndarray:
    """Boolean H×W body template of a face: a band from just above the head to ``BODY_BELOW``
    face heights below the chin, ``half_width`` face widths either side of the face centre,
    widening by ``spread`` face widths per face height below the chin."""
    ys = np.arange(height, dtype=np.float64)
    xs = np.arange(width, dtype=np.float64)
    cx = (face.x0 + face.x1) / 2
    rows = (ys >= face.y0 - 0.45 * face.h) & (ys <= face.y1 + BODY_BELOW * face.h)
    half = face.w * (half_width + spread * np.maximum(0.0, (ys - face.y1) / face.h))
    return rows[:, None] & (np.abs(xs[None, :] - cx) <= half[:, None])


def body_box(face: Face, height: int, width: int) -> tuple[int, int, int, int]:
    """Bounding box (x0, y0, x1, y1) of :func:`body_region`, clipped to the image."""
    cx = (face.x0 + face.x1) / 2
    half = face.w * (BODY_HALF_WIDTH + BODY_SPREAD * BODY_BELOW)
    return (int(max(0, cx - half)), int(max(0, face.y0 - 0.45 * face.h)), int(min(width, cx + half)),
            int(min(height, face.y1 + BODY_BELOW * face.h)))


def face_core(face: Face) -> tuple[int, int, int, int]:
    """Central part of a face box that is certainly skin / person."""
    return (int(face.x0 + 0.25 * face.w), int(face.y0 + 0.2 * face.h),
            int(np.ceil(face.x1 - 0.25 * face.w)), int(np.ceil(face.y1 - 0.1 * face.h)))


def torso_core(face: Face) -> tuple[int, int, int, int]:
    """A strip just below the chin that is certainly the person (neck, collar, chest): it puts the
    clothes' colours into GrabCut's person model, so a suit or coat is not traded for background."""
    cx = (face.x0 + face.x1) / 2
    return (int(cx - 0.4 * face.w), int(face.y1 + 0.3 * face.h), int(np.ceil(cx + 0.4 * face.w)),
            int(np.ceil(face.y1 + 1.2 * face.h)))


def face_weight_map(faces: list[Face], height: int, width: int) -> np.ndarray:
    """H×W map that is 1 inside the central part of each face box (skin statistics region)."""
    out = np.zeros((height, width), dtype=np.float32)
    for f in faces:
        x0, y0, x1, y1 = face_core(f)
        out[max(y0, 0):min(y1, height), max(x0, 0):min(x1, width)] = 1.0
    return out


def _gmm_model(pixels: np.ndarray, k: int = 5, rounds: int = 8, max_samples: int = 20000) -> np.ndarray:
    """A GrabCut colour model (OpenCV's 1×65 layout: k weights, k means, k 3×3 covariances) from
    a deterministic k-means: centres start at brightness quantiles, then Lloyd rounds."""
    x = pixels[:: max(1, len(pixels) // max_samples)].astype(np.float64)
    x = x[np.argsort(x.sum(axis=1), kind="stable")]
    centres = x[((np.arange(k) + 0.5) * len(x) / k).astype(int)].copy()
    for _ in range(rounds):
        labels = ((x[:, None, :] - centres[None]) ** 2).sum(axis=2).argmin(axis=1)
        for j in range(k):
            if (labels == j).any():
                centres[j] = x[labels == j].mean(axis=0)
    weights, means, covs = np.zeros(k), np.zeros((k, 3)), np.zeros((k, 3, 3))
    for j in range(k):
        xs = x[labels == j] if (labels == j).sum() > 1 else x
        weights[j] = max((labels == j).mean(), 1e-6)
        means[j] = xs.mean(axis=0)
        covs[j] = np.cov(xs.T) + 0.01 * np.eye(3)  # OpenCV adds the same to singular ones
    weights /= weights.sum()
    return np.concatenate([weights, means.ravel(), covs.ravel()])[None]


def grabcut(image: np.ndarray, labels: np.ndarray, iterations: int = GRABCUT_ITERATIONS) -> np.ndarray:
    """Binary mask from GrabCut on an sRGB float image and a map of OpenCV GC_* labels, with
    colour models started deterministically (:func:`_gmm_model`) instead of OpenCV's random k-means."""
    gc = labels.astype(np.uint8).copy()
    fg = (gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)
    if fg.all() or not fg.any():
        return fg.astype(np.float32)
    bgr = cv2.cvtColor((np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8), cv2.COLOR_RGB2BGR)
    px = bgr.reshape(-1, 3)
    fg_model, bg_model = _gmm_model(px[fg.ravel()]), _gmm_model(px[~fg.ravel()])
    cv2.grabCut(bgr, gc, None, bg_model, fg_model, iterations, cv2.GC_EVAL)
    return ((gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)).astype(np.float32)


def person_mask(image: np.ndarray, faces: list[Face], iterations: int = GRABCUT_ITERATIONS,
                max_short: int = GRABCUT_SHORT) -> np.ndarray:
    """Binary people mask (H×W float32, same size as ``image``) from template-seeded GrabCut.

    ``faces`` are in ``image`` pixels. GrabCut runs at short side ``max_short`` for speed and the
    result is upsampled. No faces → all zeros. Deterministic.
    """
    h, w = image.shape[:2]
    if not faces:
        return np.zeros((h, w), dtype=np.float32)
    s = min(1.0, max_short / float(min(h, w)))
    sh, sw = max(1, round(h * s)), max(1, round(w * s))
    small = resize_image(image, sh, sw)
    sfaces = [f.scaled(s) for f in faces]
    labels = np.full((sh, sw), cv2.GC_BGD, dtype=np.uint8)
    for f in sfaces:
        labels[body_region(f, sh, sw, FRINGE_HALF_WIDTH, FRINGE_SPREAD)] = cv2.GC_PR_BGD
    for f in sfaces:
        labels[body_region(f, sh, sw)] = cv2.GC_PR_FGD
    for f in sfaces:
        for x0, y0, x1, y1 in (face_core(f), torso_core(f)):
            labels[max(y0, 0):max(min(y1, sh), 0), max(x0, 0):max(min(x1, sw), 0)] = cv2.GC_FGD
    mask = grabcut(small, labels, iterations)
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
