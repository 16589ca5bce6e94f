"""Where to put a person on a new background: explicit scoring terms and a search over position
and scale.

Auto-Retoucher (ART, paper 003 in ``shared/papers``) trains a verifier network to score how
plausible a foreground's position and scale are on a background, then moves the foreground
along that score surface by numerical gradient ascent from several starting points and keeps the
best. Here the verifier is replaced by the terms it has to learn, each an explicit function of
the placement, so every candidate comes with the reasons for its score:

``scale``    person size against the background's depth cue. On a ground plane seen from eye
             height, a standing person whose feet are at image row ``y_f`` is about
             ``K_CAMERA · (y_f − y_h)`` pixels tall, ``y_h`` being the horizon (Hoiem, Efros &
             Hebert 2006, "Putting objects in perspective"). A person cut off at the bottom of the
             portrait gets virtual feet one standing height below the top of the head.
``people``   the same relation measured on the faces of people already in the background (Haar
             faces): their face height per pixel below the horizon sets the expected face size.
``support``  the feet on something that can hold them: below the horizon and not on sky; a
             person cut off by the portrait's bottom (or side) edge must reach that frame edge —
             a torso may not float in the picture.
``overlap``  not covering what the background is about: the saliency under the person (spectral
             residual and global colour contrast) and the share of any background face the person
             would hide.
``framing``  the person inside the frame (only the bottom may crop), of portrait size (visible
             height around 60 % of the frame) and not enlarged past ``MAX_UPSCALE`` times the
             portrait's own pixels (it would look soft).
``lighting`` brightness and warmth (L*, b*) of the person against the background around them, and
             agreement of the left–right light direction of person and background.

The score is the weighted geometric mean of the terms (``WEIGHTS``): one bad term sinks a
placement, as in the verifier's product form. :func:`search` scores a grid of placements (box
height × bottom row × centre column), keeps distinct local winners and refines each by
numerical-gradient steps (a pattern search in x, y, log scale — the paper's adjustment), and
returns them ranked with every term.

Everything is computed on the background at working resolution (short side ``WORK_SHORT``) with
integral images, so thousands of placements score in milliseconds; positions are given back in
the background's full-resolution pixels.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from inference.colour import srgb_to_lab
from inference.people import Face, detect_faces
from inference.segmentation import resize_image, working_size

WORK_SHORT = 360
K_CAMERA = 1.1  # standing height / camera height for an eye-level shot
SIGMA_SCALE = 0.3  # log-ratio tolerance of the depth terms
BODY_PER_FACE = 9.5  # standing height in Haar face-box heights
HEAD_ABOVE_FACE = 0.45  # head top above the Haar box top, in box heights
WEIGHTS = {"scale": 2.0, "support": 2.0, "overlap": 1.5, "people": 1.5, "framing": 1.0, "lighting": 0.5}
TERMS = tuple(WEIGHTS)
MAX_UPSCALE = 1.25  # enlarging the person past this (on the portrait's pixels) costs framing
CELLS = (16, 8)  # the person's occupancy grid (rows, columns) used to integrate maps under them


@dataclass
class Person:
    """The cut-out person, measured once in portrait pixels."""

    box: tuple[int, int, int, int]  # x0, y0, x1, y1 of the mask (> 0.5)
    cells: np.ndarray  # CELLS occupancy of the box, in [0, 1]
    foot_x: float  # centre of the lowest rows, fraction of the box width
    foot_w: float  # their width, fraction of the box width
    cropped: dict[str, bool]  # which portrait edges cut the person
    face_h: float | None  # Haar face-box height, px
    standing: float  # full standing height, px (the box height when the feet show)
    lab: tuple[float, float, float]  # median L*, mean a*, mean b* of the person
    light: float  # left-right light direction in [-1, 1] (+: lit from the right)

    @property
    def width(self) -> int:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> int:
        return self.box[3] - self.box[1]

    def describe(self) -> dict[str, Any]:
        return {"box": list(self.box), "cropped": self.cropped, "face_height": _r(self.face_h),
                "standing_height": _r(self.standing), "light": _r(self.light)}


@dataclass
class Scene:
    """The background analysed at working resolution (``scale`` working px per full px)."""

    shape: tuple[int, int]
    scale: float
    horizon: float
    horizon_confidence: float
    horizon_source: str
    faces: list[Face]
    face_ratio: float | None  # background face height per px below the horizon
    light: float
    saliency_ii: np.ndarray = field(repr=False)
    face_ii: np.ndarray = field(repr=False)
    support_rows: np.ndarray = field(repr=False)  # per-row prefix sums of the support map
    lum_ii: np.ndarray = field(repr=False)
    warm_ii: np.ndarray = field(repr=False)

    def describe(self) -> dict[str, Any]:
        s = self.scale
        return {"horizon": {"y": _r(self.horizon / s), "confidence": _r(self.horizon_confidence),
                            "source": self.horizon_source},
                "faces": [f.scaled(1 / s).as_list() for f in self.faces],
                "light": _r(self.light)}


def _r(v: float | None, nd: int = 3) -> float | None:
    return None if v is None else round(float(v), nd)


# ---------------------------------------------------------------- the person

def measure_person(image: np.ndarray, mask: np.ndarray, faces: list[Face]) -> Person:
    """Box, occupancy, feet, crops, face size, standing height, colour and light of the person."""
    h, w = mask.shape
    on = mask > 0.5
    ys, xs = np.flatnonzero(on.any(axis=1)), np.flatnonzero(on.any(axis=0))  # the bounding box
    x0, y0, x1, y1 = int(xs[0]), int(ys[0]), int(xs[-1]) + 1, int(ys[-1]) + 1
    crop = mask[y0:y1, x0:x1]  # a view: OpenCV reads it in place
    cells = cv2.resize(crop, (CELLS[1], CELLS[0]), interpolation=cv2.INTER_AREA)
    bottom = on[max(y0, y1 - max(2, (y1 - y0) // 20)):y1, x0:x1]
    cols = np.nonzero(bottom.any(axis=0))[0]
    foot_x = float(cols.mean() + 0.5) / (x1 - x0) if len(cols) else 0.5
    foot_w = float(cols.max() - cols.min() + 1) / (x1 - x0) if len(cols) else 0.3
    margin = 2
    cropped = {"bottom": bool(y1 >= h - margin and bottom[-1].mean() > 0.1),
               "top": y0 <= margin, "left": x0 <= margin, "right": x1 >= w - margin}
    inside = [f for f in faces if on[min(h - 1, int((f.y0 + f.y1) / 2)), min(w - 1, int((f.x0 + f.x1) / 2))]]
    face_h = float(max(f.h for f in inside)) if inside else None
    box_h = float(y1 - y0)
    if not cropped["bottom"]:
        standing = box_h
    elif face_h:
        standing = max(box_h, BODY_PER_FACE * face_h)
    else:
        standing = box_h / 0.45  # a half-length shot without a visible face
    step = max(1, min(y1 - y0, x1 - x0) // 320)  # colour statistics need no more than ~320 px a side
    small = resize_image(image[y0:y1:step, x0:x1:step], *working_size(y1 - y0, x1 - x0, 160))
    small_mask = cv2.resize(crop, small.shape[1::-1], interpolation=cv2.INTER_AREA) > 0.5
    lab = srgb_to_lab(small)
    pix = lab[small_mask] if small_mask.any() else lab.reshape(-1, 3)
    if inside:  # light direction from the face if there is one, else from the whole person
        f = max(inside, key=lambda f: f.h)
        face = image[int(f.y0):int(f.y1), int(f.x0):int(f.x1)]
        region = srgb_to_lab(resize_image(face, *working_size(*face.shape[:2], 64)))[..., 0]
        half = region.shape[1] // 2
        left, right = float(region[:, :half].mean()), float(region[:, half:].mean())
    else:
        half = small.shape[1] // 2
        lum = lab[..., 0]
        left = float(lum[:, :half][small_mask[:, :half]].mean()) if small_mask[:, :half].any() else 50.0
        right = float(lum[:, half:][small_mask[:, half:]].mean()) if small_mask[:, half:].any() else 50.0
    return Person((x0, y0, x1, y1), cells, foot_x, foot_w, cropped, face_h, standing,
                  (float(np.median(pix[:, 0])), float(pix[:, 1].mean()), float(pix[:, 2].mean())),
                  _direction(left, right))


def _direction(left: float, right: float) -> float:
    return float(np.clip(4.0 * (right - left) / max(right + left, 1.0), -1.0, 1.0))


# ---------------------------------------------------------------- the background

def analyse_background(background: np.ndarray) -> Scene:
    """Horizon, sky, support, saliency, faces and light of the background at working resolution."""
    h, w = background.shape[:2]
    wh, ww = working_size(h, w, WORK_SHORT)
    s = ww / w
    work = resize_image(background, wh, ww)
    lab = srgb_to_lab(work)
    lum = np.ascontiguousarray(lab[..., 0])
    faces = detect_faces(work, detect_long=max(wh, ww), min_frac=0.06) if _may_show_faces(lab) else []
    horizon, confidence, source = estimate_horizon(lab)
    if confidence < 0.3 and faces:  # eye-level rule: the horizon runs through standing people's eyes
        horizon = float(np.median([f.y0 + 0.4 * f.h for f in faces]))
        confidence, source = 0.5, "faces"
    ratios = [f.h / (v - horizon) for f in faces
              if (v := f.y0 - HEAD_ABOVE_FACE * f.h + BODY_PER_FACE * f.h) > horizon + 1]
    sky = sky_map(lum, horizon)
    rows = np.arange(wh, dtype=np.float32)[:, None]
    ground = 1.0 / (1.0 + np.exp(-(rows - horizon) / max(1.0, 0.015 * wh)))
    support = (ground * (1.0 - sky)).astype(np.float64)
    face_map = np.zeros((wh, ww), np.float64)
    for f in faces:
        fx0, fy0, fx1, fy1 = (int(max(0, f.x0)), int(max(0, f.y0)), int(min(ww, f.x1)), int(min(wh, f.y1)))
        if fx1 > fx0 and fy1 > fy0:
            face_map[fy0:fy1, fx0:fx1] += 1.0 / ((fx1 - fx0) * (fy1 - fy0))
    lower = sky < 0.5
    third = ww // 3
    left = float(lum[:, :third][lower[:, :third]].mean()) if lower[:, :third].any() else 50.0
    right = float(lum[:, -third:][lower[:, -third:]].mean()) if lower[:, -third:].any() else 50.0
    return Scene((wh, ww), s, horizon, confidence, source, faces,
                 float(np.median(ratios)) if ratios else None, _direction(left, right),
                 cv2.integral(saliency_map(lab)), cv2.integral(face_map),
                 np.concatenate([np.zeros((wh, 1)), np.cumsum(support, axis=1)], axis=1),
                 cv2.integral(lum.astype(np.float64)), cv2.integral(lab[..., 2].astype(np.float64)))


def _may_show_faces(lab: np.ndarray) -> bool:
    """Whether the face detector can find anything: it keeps only faces whose core has a warm
    (skin) chroma, or any face in a black-and-white photo — a colour scene with almost no warm
    pixels (a meadow, a seascape) is skipped. Faces under 6 % of the short side are not looked for."""
    chroma = np.hypot(lab[..., 1], lab[..., 2])
    if float(np.percentile(chroma[::4, ::4], 99)) < 6.0:  # black and white
        return True
    warm = (lab[..., 1] > 2.5) & (lab[..., 2] > 2.5) & (lab[..., 0] > 10) & (lab[..., 0] < 97)
    core = (0.06 * min(lab.shape[:2])) ** 2 * 0.3  # a face core at the smallest face size
    return int(warm.sum()) >= core


def estimate_horizon(lab: np.ndarray) -> tuple[float, float, str]:
    """(row, confidence 0..1, source) of the horizon in a working-resolution Lab image.

    Two cues: the longest horizontal boundary (rows where most columns have a vertical colour
    gradient — over L*, a*, b* — much stronger than the horizontal one: a sea, a skyline, a floor
    line) and the height of the vanishing point of converging straight lines (Hough segments).
    Without either, an eye-level prior at 42 % of the height.
    """
    h, w = lab.shape[:2]
    smooth = cv2.GaussianBlur(lab, (0, 0), 1.5)
    gy = np.sqrt((cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3) ** 2).sum(axis=2))
    gx = np.sqrt((cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3) ** 2).sum(axis=2))
    strong = (gy > 8.0) & (gy > 2.0 * gx)
    cover = strong.mean(axis=1)
    cover = np.maximum(cover, np.convolve(cover, np.ones(3) / 3, mode="same"))  # a boundary may wobble
    lo, hi = int(0.1 * h), int(0.9 * h)
    peak = lo + int(np.argmax(cover[lo:hi]))
    edge_conf = float(np.clip((cover[peak] - 0.25) / 0.35, 0.0, 1.0))
    near = np.arange(max(0, peak - 4), min(h, peak + 5))
    row = float(np.average(near, weights=cover[near] ** 4 + 1e-12))  # the centre of a blurred boundary
    vp_row, vp_conf = _vanishing_row(np.ascontiguousarray(smooth[..., 0]))
    if vp_conf > edge_conf and vp_row is not None:
        return vp_row, vp_conf, "vanishing point"
    if edge_conf > 0.0:
        return row + 0.5, edge_conf, "horizontal boundary"
    return 0.42 * h, 0.2, "prior"


def _vanishing_row(smooth: np.ndarray) -> tuple[float | None, float]:
    h, w = smooth.shape
    edges = cv2.Canny(np.clip(smooth * 2.55, 0, 255).astype(np.uint8), 40, 120)
    lines = cv2.HoughLinesP(edges, 1, np.pi / 180, threshold=40, minLineLength=0.12 * min(h, w),
                            maxLineGap=4)
    if lines is None:
        return None, 0.0
    seg = lines[:, 0, :].astype(np.float64)
    dx, dy = seg[:, 2] - seg[:, 0], seg[:, 3] - seg[:, 1]
    angle = np.degrees(np.abs(np.arctan2(dy, dx))) % 180
    angle = np.minimum(angle, 180 - angle)
    keep = (angle > 10) & (angle < 75)
    seg, length = seg[keep][:60], np.hypot(dx, dy)[keep][:60]
    if len(seg) < 4:
        return None, 0.0
    # pairwise intersections (homogeneous coordinates), weighted by both lengths
    p1 = np.stack([seg[:, 0], seg[:, 1], np.ones(len(seg))], 1)
    p2 = np.stack([seg[:, 2], seg[:, 3], np.ones(len(seg))], 1)
    line = np.cross(p1, p2)
    i, j = np.triu_indices(len(seg), 1)
    pts = np.cross(line[i], line[j])
    ok = np.abs(pts[:, 2]) > 1e-9
    ys = pts[ok, 1] / pts[ok, 2]
    xs = pts[ok, 0] / pts[ok, 2]
    wts = (length[i] * length[j])[ok]
    inside = (ys > -0.2 * h) & (ys < 1.2 * h) & (xs > -w) & (xs < 2 * w)
    if inside.sum() < 3:
        return None, 0.0
    hist, edges_y = np.histogram(ys[inside], bins=40, range=(-0.2 * h, 1.2 * h), weights=wts[inside])
    k = int(np.argmax(hist))
    share = float(hist[max(0, k - 1):k + 2].sum() / max(hist.sum(), 1e-9))
    row = float(np.average(ys[inside][(ys[inside] >= edges_y[max(0, k - 1)]) & (ys[inside] <= edges_y[min(40, k + 2)])]))
    if not 0.05 * h <= row <= 0.95 * h:
        return None, 0.0
    return row, float(np.clip((share - 0.25) / 0.4, 0.0, 1.0))


def sky_map(lum: np.ndarray, horizon: float) -> np.ndarray:
    """1 where the background is sky: smooth, bright-ish, connected to the top edge, above the
    horizon (plus a little slack)."""
    h, w = lum.shape
    smooth = cv2.GaussianBlur(lum, (0, 0), 1.0)
    grad = np.hypot(cv2.Sobel(smooth, cv2.CV_32F, 1, 0), cv2.Sobel(smooth, cv2.CV_32F, 0, 1))
    flat = (cv2.GaussianBlur(grad, (0, 0), 2.0) < 6.0) & (lum > 35.0)
    flat[int(min(h, horizon + 0.03 * h)):] = False
    n, labels = cv2.connectedComponents(flat.astype(np.uint8), connectivity=4)
    top = np.unique(labels[0][flat[0]])
    return np.isin(labels, top[top > 0]).astype(np.float32)


def saliency_map(lab: np.ndarray) -> np.ndarray:
    """What the background is about, in [0, 1]: the larger of two classic saliency maps, each set to
    0 at its median (an evenly textured scene is salient nowhere) and 1 at its 99th percentile.

    * spectral residual (Hou & Zhang 2007) of L* at 64 px: small things that stand out;
    * global colour contrast (histogram contrast, Cheng et al. 2011): each quantised Lab colour
      scores its distance to all the image's colours weighted by their share — a large object of a
      rare colour is salient all over, not only at its outline.
    """
    h, w = lab.shape[:2]
    lum = np.ascontiguousarray(lab[..., 0])
    sh, sw = (64, max(8, round(64 * w / h))) if h <= w else (max(8, round(64 * h / w)), 64)
    small = cv2.resize(lum, (sw, sh), interpolation=cv2.INTER_AREA).astype(np.float64)
    spectrum = np.fft.fft2(small)
    log_amp = np.log(np.abs(spectrum) + 1e-9)
    residual = log_amp - cv2.blur(log_amp, (3, 3))
    spectral = np.abs(np.fft.ifft2(np.exp(residual + 1j * np.angle(spectrum)))) ** 2
    spectral = cv2.resize(cv2.GaussianBlur(spectral, (0, 0), 2.5).astype(np.float32), (w, h),
                          interpolation=cv2.INTER_LINEAR)
    bins = (np.clip(lab[..., 0] / 12.5, 0, 7).astype(np.int32) * 144
            + np.clip((lab[..., 1] + 60) / 10, 0, 11).astype(np.int32) * 12
            + np.clip((lab[..., 2] + 60) / 10, 0, 11).astype(np.int32)).ravel()
    counts = np.bincount(bins, minlength=1152).astype(np.float64)
    used = np.nonzero(counts)[0]
    means = np.stack([np.bincount(bins, lab[..., c].ravel(), minlength=1152)[used] / counts[used] for c in range(3)], 1)
    share = counts[used] / counts.sum()
    per_bin = np.zeros(1152)
    per_bin[used] = (np.linalg.norm(means[:, None] - means[None], axis=2) * share[None]).sum(axis=1)
    contrast = cv2.GaussianBlur(per_bin[bins].reshape(h, w).astype(np.float32), (0, 0), 2.0)

    def normalise(m):
        low, top = float(np.median(m)), float(np.percentile(m, 99))
        return np.clip((m - low) / max(top - low, 1e-12), 0.0, 1.0)

    return np.maximum(normalise(spectral), normalise(contrast)).astype(np.float64)


# ---------------------------------------------------------------- scoring

def _rect_sums(ii: np.ndarray, x0, y0, x1, y1):
    """Sums of the map behind integral image ``ii`` over rectangles (arrays), clipped to it."""
    hh, ww = ii.shape[0] - 1, ii.shape[1] - 1
    x0 = np.clip(np.floor(x0).astype(np.int64), 0, ww)
    x1 = np.clip(np.ceil(x1).astype(np.int64), 0, ww)
    y0 = np.clip(np.floor(y0).astype(np.int64), 0, hh)
    y1 = np.clip(np.ceil(y1).astype(np.int64), 0, hh)
    x1, y1 = np.maximum(x1, x0), np.maximum(y1, y0)
    return ii[y1, x1] - ii[y0, x1] - ii[y1, x0] + ii[y0, x0], (x1 - x0) * (y1 - y0)


def score(scene: Scene, person: Person, x, y, h) -> dict[str, np.ndarray]:
    """The terms and the ``total`` for boxes with top-left (x, y) and height h (working px, arrays)."""
    x, y, h = (np.atleast_1d(np.asarray(v, np.float64)) for v in (x, y, h))
    H, W = scene.shape
    w = h * person.width / person.height
    k = h / person.height  # working px per portrait px
    standing = person.standing * k
    feet = y + (h if not person.cropped["bottom"] else standing)
    depth = feet - scene.horizon
    terms: dict[str, np.ndarray] = {}

    expected = K_CAMERA * np.maximum(depth, 1e-3)
    fit = np.exp(-0.5 * (np.log(standing / expected) / SIGMA_SCALE) ** 2) * (depth > 0)
    terms["scale"] = np.maximum(fit, 1e-3) ** scene.horizon_confidence

    if scene.face_ratio is not None:
        face = (person.face_h if person.face_h else person.standing / BODY_PER_FACE) * k
        expected_face = scene.face_ratio * np.maximum(depth, 1e-3)
        terms["people"] = np.exp(-0.5 * (np.log(face / expected_face) / SIGMA_SCALE) ** 2) * (depth > 0)

    terms["support"] = _support(scene, person, x, y, w, h)

    rows, cols = CELLS
    occ = person.cells[None]
    cx0 = x[:, None, None] + w[:, None, None] * np.arange(cols)[None, None, :] / cols
    cy0 = y[:, None, None] + h[:, None, None] * np.arange(rows)[None, :, None] / rows
    cx1, cy1 = cx0 + (w / cols)[:, None, None], cy0 + (h / rows)[:, None, None]
    sal, area = _rect_sums(scene.saliency_ii, cx0, cy0, cx1, cy1)
    cover, _ = _rect_sums(scene.face_ii, cx0, cy0, cx1, cy1)
    cell_area = (w * h / (rows * cols))[:, None, None]
    weight = (occ * cell_area).sum(axis=(1, 2))
    sal_mean = (occ * sal).sum(axis=(1, 2)) / np.maximum(weight, 1e-9)
    face_cover = np.minimum(1.0, (occ * cover).sum(axis=(1, 2)))
    terms["overlap"] = (1.0 - face_cover) * (1.0 - 0.9 * sal_mean)

    # inside the frame: only the bottom may crop (a side the portrait cut is asked, by the support
    # term, to touch the frame's edge — not to run past it)
    kept = np.maximum(np.minimum(cx1, W) - np.maximum(cx0, 0), 0) * np.maximum(cy1 - np.maximum(cy0, 0), 0)
    inside = (occ * kept).sum(axis=(1, 2)) / np.maximum(weight, 1e-9)
    visible = np.minimum(y + h, H) - np.maximum(y, 0)
    size = np.exp(-0.5 * (np.log(np.maximum(visible, 1.0) / (0.6 * H)) / 0.5) ** 2)
    blown_up = np.maximum(np.log(k / scene.scale / MAX_UPSCALE), 0.0)  # past the portrait's own pixels
    terms["framing"] = np.clip(inside, 0, 1) ** 2 * size * np.exp(-0.5 * (blown_up / 0.4) ** 2)

    L, _, b = person.lab
    wx0, wx1 = x - 0.5 * w, x + 1.5 * w
    wy0, wy1 = y - 0.15 * h, y + 1.15 * h
    lum, n = _rect_sums(scene.lum_ii, wx0, wy0, wx1, wy1)
    warm, _ = _rect_sums(scene.warm_ii, wx0, wy0, wx1, wy1)
    n = np.maximum(n, 1)
    d_l, d_b = lum / n - L, warm / n - b
    direction = 1.0 - 0.25 * abs(person.light - scene.light)
    terms["lighting"] = np.exp(-0.5 * (d_l / 25.0) ** 2) * np.exp(-0.5 * (d_b / 20.0) ** 2) * direction

    total = np.zeros_like(x)
    weights = 0.0
    for name, value in terms.items():
        total += WEIGHTS[name] * np.log(np.maximum(value, 1e-4))
        weights += WEIGHTS[name]
    terms["total"] = np.exp(total / weights)
    return terms


def _support(scene: Scene, person: Person, x, y, w, h) -> np.ndarray:
    H, W = scene.shape
    bottom = y + h
    if person.cropped["bottom"]:  # a cut-off person must reach the bottom edge of the frame
        out = np.exp(-np.maximum(H - bottom, 0.0) / (0.03 * H))
    else:
        row = np.clip(np.floor(bottom - 1), 0, H - 1).astype(np.int64)
        fx0 = np.clip(x + (person.foot_x - 0.5 * person.foot_w) * w, 0, W)
        fx1 = np.clip(x + (person.foot_x + 0.5 * person.foot_w) * w, 0, W)
        i0, i1 = np.floor(fx0).astype(np.int64), np.maximum(np.ceil(fx1).astype(np.int64), np.floor(fx0).astype(np.int64) + 1)
        i1 = np.minimum(i1, W)
        i0 = np.minimum(i0, i1 - 1)
        mean = (scene.support_rows[row, i1] - scene.support_rows[row, i0]) / np.maximum(i1 - i0, 1)
        out = np.where(bottom > H, 0.85, mean)  # feet below the frame edge: cut by the frame
    for side, gap in (("left", np.maximum(x, 0.0)), ("right", np.maximum(W - (x + w), 0.0))):
        if person.cropped[side]:
            out = out * np.exp(-gap / (0.03 * W))
    return out


# ---------------------------------------------------------------- search

@dataclass
class Candidate:
    x: float  # box top-left, working px
    y: float
    h: float
    terms: dict[str, float]

    @property
    def total(self) -> float:
        return self.terms["total"]


def _evaluate(scene, person, xs, ys, hs) -> list[dict[str, float]]:
    t = score(scene, person, xs, ys, hs)
    return [{k: float(v[i]) for k, v in t.items()} for i in range(len(xs))]


def grid(scene: Scene, person: Person, n_h: int = 9, n_y: int = 18, n_x: int = 24):
    """The coarse search grid: box heights, box bottoms and box centres (working px)."""
    H, W = scene.shape
    lo, hi = (0.3, 1.2) if person.cropped["bottom"] else (0.12, 1.05)
    heights = H * np.exp(np.linspace(math.log(lo), math.log(hi), n_h))
    bottoms = np.linspace(0.25 * H, 1.15 * H, n_y)
    centres = np.linspace(0.04 * W, 0.96 * W, n_x)
    return heights, bottoms, centres


def search(scene: Scene, person: Person, n: int = 5, refine_steps: int = 12):
    """Ranked candidates (best first) and the grid surface ``(heights, bottoms, centres, terms)``."""
    heights, bottoms, centres = grid(scene, person)
    hh, bb, cc = np.meshgrid(heights, bottoms, centres, indexing="ij")
    ww = hh * person.width / person.height
    xs, ys = cc - ww / 2, bb - hh
    terms = score(scene, person, xs.ravel(), ys.ravel(), hh.ravel())
    total = terms["total"]
    H, W = scene.shape
    picked: list[Candidate] = []
    for i in np.argsort(-total):
        c = (cc.ravel()[i], bb.ravel()[i], hh.ravel()[i])
        if any(abs(c[0] - (p.x + p.h * person.width / person.height / 2)) < 0.12 * W
               and abs(c[1] - (p.y + p.h)) < 0.1 * H and abs(math.log(c[2] / p.h)) < 0.3 for p in picked):
            continue  # near one already picked: the same local winner
        picked.append(Candidate(float(xs.ravel()[i]), float(ys.ravel()[i]), float(c[2]),
                                {k: float(v[i]) for k, v in terms.items()}))
        if len(picked) >= n:
            break
    refined = [refine(scene, person, c, refine_steps) for c in picked]
    refined.sort(key=lambda c: -c.total)
    surface = {k: v.reshape(hh.shape) for k, v in terms.items()}
    return refined, (heights, bottoms, centres, surface)


def refine(scene: Scene, person: Person, c: Candidate, steps: int = 12) -> Candidate:
    """Numerical-gradient ascent in (x, y, log h), as the paper moves the foreground along its
    verifier's score: try ± a step on each axis, move to the best, halve the steps when stuck."""
    H, W = scene.shape
    sx, sy, sl = 0.04 * W, 0.04 * H, 0.1
    x, y, lh = c.x, c.y, math.log(c.h)
    best = c
    for _ in range(steps):
        moves = [(sx, 0, 0), (-sx, 0, 0), (0, sy, 0), (0, -sy, 0), (0, 0, sl), (0, 0, -sl)]
        nh = np.exp([lh + m[2] for m in moves])
        # a scale step keeps the feet where they are
        nx = np.array([x + m[0] - (math.exp(lh + m[2]) - math.exp(lh)) * person.width / person.height / 2 for m in moves])
        ny = np.array([y + m[1] - (math.exp(lh + m[2]) - math.exp(lh)) for m in moves])
        results = _evaluate(scene, person, nx, ny, nh)
        k = int(np.argmax([r["total"] for r in results]))
        if results[k]["total"] > best.total + 1e-6:
            x, y, lh = float(nx[k]), float(ny[k]), math.log(float(nh[k]))
            best = Candidate(x, y, float(nh[k]), results[k])
        else:
            sx, sy, sl = sx / 2, sy / 2, sl / 2
    return best


def describe(scene: Scene, person: Person, c: Candidate, rank: int | None = None) -> dict[str, Any]:
    """A candidate in the background's full-resolution pixels: the placement a job can force
    (``x``, ``y``, ``scale``), its box, the total and each term."""
    s = scene.scale
    scale = c.h / s / person.height
    w = person.width * scale
    out = {"x": round(c.x / s, 1), "y": round(c.y / s, 1), "scale": round(scale, 5),
           "box": [round(c.x / s, 1), round(c.y / s, 1), round(c.x / s + w, 1), round(c.y / s + c.h / s, 1)],
           "score": round(c.total, 4),
           "terms": {k: (round(c.terms[k], 4) if k in c.terms else None) for k in TERMS}}
    if rank is not None:
        out["rank"] = rank
    return out


def forced(scene: Scene, person: Person, x: float, y: float, scale: float) -> Candidate:
    """The candidate for a placement given in full-resolution pixels and portrait scale."""
    s = scene.scale
    h = scale * person.height * s
    return Candidate(x * s, y * s, h, _evaluate(scene, person, np.array([x * s]), np.array([y * s]),
                                                np.array([h]))[0])


def encode_surface(scene: Scene, person: Person, surface) -> dict[str, Any]:
    """The grid's scores for the page (a drag re-scores by interpolating them): axes in full-res
    pixels (box height, box bottom, box centre) and, per term, the values as bytes 0–255
    (index [height][bottom][centre]) in base64."""
    heights, bottoms, centres, terms = surface
    s = scene.scale
    names = ["total", *[t for t in TERMS if t in terms]]
    data = np.stack([np.clip(np.round(terms[t] * 255), 0, 255).astype(np.uint8) for t in names])
    return {"heights": [round(v / s, 1) for v in heights], "bottoms": [round(v / s, 1) for v in bottoms],
            "centres": [round(v / s, 1) for v in centres], "terms": names,
            "shape": list(data.shape), "data": base64.b64encode(data.tobytes()).decode("ascii"),
            "person_aspect": round(person.width / person.height, 5)}
