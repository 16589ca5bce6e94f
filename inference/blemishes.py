"""Blemish detection and removal on facial skin, without trained weights.

Blemish-aware face retouching (BPFRe, paper 004 in ``shared/papers``) works in two stages: it
first finds *where* the blemishes are (its blemish-aware attention maps are trained to match the
difference between raw and retouched faces) and then removes them progressively — a coarse stage
that fills the blemish, a fine stage that restores realistic skin detail so the face does not turn
plastic. This module keeps that structure with explicit steps.

**Stage 1 — find blemishes** (:func:`detect`), per face at a working resolution where the face box
is at most ``UNIT_WORK`` px tall; every size below is a fraction of the face height ("unit"), so the
detector does not depend on the photo's resolution.

1. *Skin*: the Haar face box (:mod:`inference.people`) defines an ellipse from forehead to chin.
   Inside it, skin is what is close to the cheeks' colour after a blur of 0.04 unit (a*, b* within
   3 robust spreads, L* within 4) and smooth at that scale (hair and lashes are textured); holes
   smaller than the largest blemish are filled (a blemish is a deviation *on* skin). Eyes with
   brows, the nose tip and nostrils, and the mouth are cut out with an upright face template
   (``FEATURES``, fractions of the face box). A given ``mask`` replaces the colour test.
2. *Band-pass detector*: outside the skin, L* and a* are replaced by the local skin average
   (normalised convolution), so hair, eyes and background edges produce no response. Dark spots
   are bumps of −L*, red spots bumps of a*: the scale-normalised Laplacian of Gaussian
   −σ²∇²(G_σ ∗ X) — a difference of Gaussians across scales — is computed for radii from ``R_MIN``
   to ``R_MAX`` unit (σ = r/√2, where a disk of radius r responds most) and its local maxima in
   space and scale are the candidates, each with its radius.
3. *Size, shape and contrast*: a candidate is a blemish when its contrast — the skin ring around it
   (1.5–2.1 r, median per sector) minus its centre, in ΔL* (dark) or Δa* (red) — reaches ``T_DARK`` /
   ``T_RED`` (raised to 4 robust standard deviations of the skin's pore-scale texture on rough or
   noisy skin), its Hessian is blob-like, not a ridge (trace²/det < 6.25, i.e. principal curvatures
   within 4:1 — wrinkles and shading edges fail), and its disk keeps clear of the features. The
   pixels around it that deviate by at least 30 % of its contrast form its part of the mask.

**Stage 2 — remove them** (:func:`remove`): frequency separation at the working scale. The
low-frequency layer (the image blurred by about one working pixel) is inpainted inside the mask by
multi-scale normalised convolution from the surrounding skin (the coarse fill); the high-frequency
layer (image − low) inside each spot is replaced by the high-frequency layer of a clean patch of
skin next to it (the fine stage: texture from the surroundings, scaled by ``detail``), and the
result is blended in with the feathered mask times ``strength``. Nothing outside the feathered
mask changes.

User spots: ``{"x", "y"}`` adds a blemish the detector missed (the strongest deviation under the
click, with thresholds lowered to 40 %, else a disk of radius ``r`` or ``ADD_RADIUS`` unit);
``{"x", "y", "remove": true}`` protects a detected spot there (a mole to keep).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from scipy.ndimage import maximum_filter

from inference.colour import srgb_to_lab
from inference.interface import EngineInputError
from inference.people import Face, detect_faces
from inference.segmentation import resize_image

UNIT_WORK = 200.0  # face height in working pixels (never upscaled)
R_MIN, R_MAX = 0.015, 0.11  # blemish radius range, fractions of the face height
ADD_RADIUS = 0.035  # radius of a user-added spot with no visible deviation, fraction of the face height
T_DARK, T_RED = 7.0, 6.0  # minimum contrast: L* below / a* above the surrounding skin
EDGE_RATIO = 4.0  # largest ratio of principal curvatures of a blob (larger: a ridge or an edge)
MAX_SPOTS = 200  # user spots per request

# Upright face template, in fractions of the Haar face box (x of its width from the left,
# y of its height from the top): the skin ellipse and the features never touched.
FACE_ELLIPSE = (0.5, 0.52, 0.66, 0.80)  # centre x, centre y, semi-axis x, semi-axis y
FEATURES = (
    ("left eye and brow", 0.30, 0.35, 0.18, 0.13),
    ("right eye and brow", 0.70, 0.35, 0.18, 0.13),
    ("nose tip and nostrils", 0.50, 0.63, 0.14, 0.09),
    ("mouth", 0.50, 0.83, 0.27, 0.11),
)
SKIN_PATCHES = ((0.18, 0.55, 0.38, 0.70), (0.62, 0.55, 0.82, 0.70))  # the cheeks


@dataclass
class Spot:
    """One blemish in original pixels (``r`` ≈ the radius its band-pass response peaks at)."""

    x: float
    y: float
    r: float
    kind: str  # "dark" | "red" | "added"
    contrast: float  # ΔL* (dark) or Δa* (red) against the surrounding skin, Lab units
    source: str = "detected"  # "detected" | "added"
    protected: bool = False
    patch: tuple[int, int, np.ndarray] | None = field(default=None, repr=False)  # y0, x0, bool (working px)

    def as_dict(self) -> dict[str, Any]:
        return {"x": round(self.x, 1), "y": round(self.y, 1), "r": round(self.r, 1), "kind": self.kind,
                "contrast": round(self.contrast, 1), "source": self.source, "protected": self.protected}


@dataclass
class Region:
    """A face (or a user spot away from any face) analysed at working resolution."""

    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in original pixels
    scale: float  # working px per original px
    unit: float  # face height in working px
    work: np.ndarray  # working-resolution RGB crop
    skin: np.ndarray  # bool
    features: np.ndarray  # bool: never touched by detection
    smooth: np.ndarray = field(init=False, repr=False)  # L*, a* lightly smoothed
    filled: np.ndarray = field(init=False, repr=False)  # the same, non-skin replaced by nearby skin
    t_dark: float = T_DARK
    t_red: float = T_RED
    spots: list[Spot] = field(default_factory=list)

    def __post_init__(self):
        lab = srgb_to_lab(self.work)
        la = np.ascontiguousarray(lab[..., :2])
        self.smooth = _blur(la, max(0.6, 0.008 * self.unit))
        keep = self.skin if self.skin.any() else np.ones_like(self.skin)
        self.filled = np.where(keep[..., None], self.smooth, local_average(self.smooth, keep, self.scales()))
        # thresholds rise on rough or noisy skin: 4 robust standard deviations of the pore-scale texture
        inner = cv2.erode(keep.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
        fine = self.smooth - _blur(self.smooth, max(1.8, 0.024 * self.unit))
        self.t_dark = max(T_DARK, 3.0 * _robust_sigma(fine[..., 0][inner]))
        self.t_red = max(T_RED, 3.0 * _robust_sigma(fine[..., 1][inner]))

    def scales(self) -> list[float]:
        return [v * max(self.unit, 20.0) for v in (0.02, 0.04, 0.08, 0.16)]

    def to_work(self, x: float, y: float) -> tuple[float, float]:
        """Original pixel coordinates (pixel centres at +0.5) → working pixel coordinates."""
        return (x + 0.5 - self.box[0]) * self.scale - 0.5, (y + 0.5 - self.box[1]) * self.scale - 0.5

    def to_full(self, x: float, y: float) -> tuple[float, float]:
        return (x + 0.5) / self.scale + self.box[0] - 0.5, (y + 0.5) / self.scale + self.box[1] - 0.5

    def removed(self) -> np.ndarray:
        """The working-resolution pixels to remove: every spot that is not protected."""
        out = np.zeros(self.skin.shape, bool)
        for spot in self.spots:
            if spot.patch is not None and not spot.protected:
                y0, x0, m = spot.patch
                out[y0:y0 + m.shape[0], x0:x0 + m.shape[1]] |= m
        return out


# ---------------------------------------------------------------- helpers

def _ellipse(shape: tuple[int, int], cx: float, cy: float, ax: float, ay: float) -> np.ndarray:
    yy, xx = np.ogrid[:shape[0], :shape[1]]
    return ((xx - cx) / max(ax, 1e-6)) ** 2 + ((yy - cy) / max(ay, 1e-6)) ** 2 <= 1.0


def _blur(x: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(x, (0, 0), sigmaX=max(sigma, 0.3), borderType=cv2.BORDER_REFLECT)


def normalized_blur(x: np.ndarray, weight: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian average of ``x`` over the pixels where ``weight`` > 0 (normalised convolution):
    (average, support) — support is the blurred weight, near 0 far from any weighted pixel."""
    w = weight.astype(np.float32)
    support = _blur(w, sigma)
    num = _blur(x * (w[..., None] if x.ndim == 3 else w), sigma)
    denom = np.maximum(support, 1e-6)
    return num / (denom[..., None] if x.ndim == 3 else denom), support


def local_average(image: np.ndarray, keep: np.ndarray, sigmas) -> np.ndarray:
    """Per pixel, the Gaussian average of the ``keep`` pixels (normalised convolution) at the
    smallest of ``sigmas`` whose support is at least 0.25: as local as the kept pixels allow."""
    out = np.zeros_like(image)
    todo = np.ones(keep.shape, bool)
    for i, sigma in enumerate(sigmas):
        avg, support = normalized_blur(image, keep, sigma)
        take = todo & ((support >= 0.25) | (i == len(sigmas) - 1))
        out[take] = avg[take]
        todo &= ~take
        if not todo.any():
            break
    return out


def membrane_fill(image: np.ndarray, hole: np.ndarray, keep: np.ndarray, window=None,
                  iterations: int = 150) -> np.ndarray:
    """``image`` with ``hole`` replaced by the smoothest surface meeting its surroundings: Laplace's
    equation solved by Jacobi iterations from a normalised-convolution start, inside ``window``
    (y0, y1, x0, x1). Pixels neither kept nor in the hole (hair, eyes) act through their local
    skin average, so they do not bleed in."""
    y0, y1, x0, x1 = window or (0, hole.shape[0], 0, hole.shape[1])
    sub = np.ascontiguousarray(image[y0:y1, x0:x1])
    h_sub, k_sub = hole[y0:y1, x0:x1], keep[y0:y1, x0:x1]
    base = sub.copy()
    average = local_average(sub, k_sub, (1.5, 3.0, 6.0, 12.0, 24.0))
    base[~k_sub] = average[~k_sub]
    kernel = np.float32([[0, 0.25, 0], [0.25, 0, 0.25], [0, 0.25, 0]])
    inside = h_sub[..., None] if sub.ndim == 3 else h_sub
    for _ in range(iterations):
        base = np.where(inside, cv2.filter2D(base, -1, kernel, borderType=cv2.BORDER_REPLICATE), base)
    out = image.copy()
    out[y0:y1, x0:x1][h_sub] = base[h_sub]
    return out


def _robust_sigma(values: np.ndarray) -> float:
    if values.size < 10:
        return 0.0
    med = np.median(values)
    return float(1.4826 * np.median(np.abs(values - med)))


def _fill_small_holes(mask: np.ndarray, max_area: float, within: np.ndarray) -> np.ndarray:
    """``mask`` with the holes (non-mask components inside ``within``) smaller than ``max_area`` filled."""
    n, lab, stats, _ = cv2.connectedComponentsWithStats((~mask & within).astype(np.uint8), connectivity=4)
    small = np.zeros(n, bool)
    small[1:] = stats[1:, cv2.CC_STAT_AREA] <= max_area
    return mask | small[lab]


def _crop(image: np.ndarray, box: tuple[int, int, int, int], unit_full: float):
    """(working crop, scale) of ``box`` with the unit brought to at most ``UNIT_WORK`` px."""
    x0, y0, x1, y1 = box
    s = min(1.0, UNIT_WORK / max(unit_full, 1.0))
    wh, ww = max(8, round((y1 - y0) * s)), max(8, round((x1 - x0) * s))
    return resize_image(image[y0:y1, x0:x1], wh, ww), ww / (x1 - x0)


# ---------------------------------------------------------------- stage 1: find

def _face_region(image: np.ndarray, face: Face, skin_mask: np.ndarray | None) -> Region:
    h, w = image.shape[:2]
    cx, cy, ax, ay = FACE_ELLIPSE
    box = (int(max(0, math.floor(face.x0 + (cx - ax) * face.w))),
           int(max(0, math.floor(face.y0 + (cy - ay) * face.h))),
           int(min(w, math.ceil(face.x0 + (cx + ax) * face.w))),
           int(min(h, math.ceil(face.y0 + (cy + ay) * face.h))))
    work, s = _crop(image, box, face.h)
    shape = work.shape[:2]
    fbox = ((face.x0 - box[0]) * s, (face.y0 - box[1]) * s, face.w * s, face.h * s)  # working px
    fx0, fy0, fw, fh = fbox
    ellipse = _ellipse(shape, fx0 + cx * fw, fy0 + cy * fh, ax * fw, ay * fh)
    features = np.zeros(shape, bool)
    for _, px, py, sx, sy in FEATURES:
        features |= _ellipse(shape, fx0 + px * fw, fy0 + py * fh, sx * fw, sy * fh)
    if skin_mask is not None:
        x0, y0, x1, y1 = box
        skin = (resize_image(skin_mask[y0:y1, x0:x1], *shape) > 0.5) & ellipse
    else:
        skin = _skin_by_colour(srgb_to_lab(work), ellipse, fbox)
    return Region(box, s, fh, work, skin & ~features, features)


def _skin_by_colour(lab: np.ndarray, ellipse: np.ndarray, fbox) -> np.ndarray:
    """Skin inside the face ellipse: colour near the cheeks' after a median filter that erases
    anything blemish-sized, chroma not far below the cheeks' after a light blur (keeps the outline
    sharp), and smooth at pore scale (hair and lashes are finely textured)."""
    fx0, fy0, fw, fh = fbox
    cheeks = np.zeros(ellipse.shape, bool)
    for px0, py0, px1, py1 in SKIN_PATCHES:
        cheeks[max(0, int(fy0 + py0 * fh)):max(0, int(fy0 + py1 * fh)),
               max(0, int(fx0 + px0 * fw)):max(0, int(fx0 + px1 * fw))] = True
    if cheeks.sum() < 10:
        cheeks = ellipse
    k = 2 * int(math.ceil(1.3 * R_MAX * fh)) + 1
    coded = np.clip(lab * (2.55, 2.0, 2.0) + (0.0, 128.0, 128.0), 0, 255).astype(np.uint8)
    med = cv2.medianBlur(coded, k).astype(np.float32) / (2.55, 2.0, 2.0) - (0.0, 64.0, 64.0)
    hue = np.degrees(np.arctan2(med[..., 2], med[..., 1]))
    ref, ref_hue = med[cheeks], hue[cheeks]
    centre, centre_hue = np.median(ref, axis=0), float(np.median(ref_hue))
    spread = np.maximum(1.4826 * np.median(np.abs(ref - centre), axis=0), (6.0, 2.5, 2.5))
    hue_spread = max(4.0, 1.4826 * float(np.median(np.abs(ref_hue - centre_hue))))
    dev = np.abs(med - centre) / spread
    lum = np.ascontiguousarray(lab[..., 0])
    texture = np.sqrt(_blur((lum - _blur(lum, 1.0)) ** 2, 0.05 * fh))
    ref_texture = float(np.median(texture[cheeks]))
    # the median rounds the skin's outline: a light blur keeps it where the chroma drops
    light = _blur(np.ascontiguousarray(lab[..., 1:]), 0.02 * fh)
    below = (centre[1:] - light) / spread[1:]
    skin = ellipse & (dev[..., 0] < 4.0) & (dev[..., 1] < 3.0) & (dev[..., 2] < 3.0) & \
        (below[..., 0] < 3.0) & (below[..., 1] < 3.0) & \
        (np.abs(hue - centre_hue) < 3.0 * hue_spread) & (texture < max(1.5, 2.5 * ref_texture))
    skin = cv2.morphologyEx(skin.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)) > 0
    return _fill_small_holes(skin, math.pi * (1.6 * R_MAX * fh) ** 2, ellipse)


def _mask_region(image: np.ndarray, skin_mask: np.ndarray) -> Region:
    """The given skin mask's bounding box as one region; its size stands in for the face height."""
    ys, xs = np.nonzero(skin_mask > 0.5)
    box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
    unit_full = max(8.0, math.sqrt(len(ys)) / 1.3)
    work, s = _crop(image, box, unit_full)
    x0, y0, x1, y1 = box
    skin = resize_image(skin_mask[y0:y1, x0:x1], *work.shape[:2]) > 0.5
    return Region(box, s, unit_full * s, work, skin, np.zeros(skin.shape, bool))


def _blob_responses(region: Region) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(radii, dark responses, red responses): −σ²∇²(G_σ ∗ X) for X = −L*, a* at each radius."""
    r_lo, r_hi = max(2.0, R_MIN * region.unit), max(2.5, R_MAX * region.unit)
    radii = np.exp(np.arange(math.log(r_lo), math.log(r_hi) + 1e-6, math.log(1.22)))
    dark, red = [], []
    for r in radii:
        sigma = r / math.sqrt(2.0)
        g = _blur(region.filled, sigma)
        lap = np.stack([cv2.Laplacian(np.ascontiguousarray(g[..., c]), cv2.CV_32F) for c in range(2)], -1)
        dark.append(sigma * sigma * lap[..., 0])
        red.append(-sigma * sigma * lap[..., 1])
    return radii, np.stack(dark), np.stack(red)


def _window(shape: tuple[int, int], cx: float, cy: float, reach: float):
    """The pixels within ``reach`` of (cx, cy), clipped to ``shape``: ((y0, y1, x0, x1), distance to
    the centre, sector 0–7 of the direction from it)."""
    big = int(math.ceil(reach))
    y0, y1 = max(0, int(cy) - big), min(shape[0], int(cy) + big + 1)
    x0, x1 = max(0, int(cx) - big), min(shape[1], int(cx) + big + 1)
    yy, xx = np.mgrid[y0:y1, x0:x1]
    sector = ((np.arctan2(yy - cy, xx - cx) + math.pi) / (2 * math.pi) * 8).astype(int) % 8
    return (y0, y1, x0, x1), np.hypot(xx - cx, yy - cy), sector


def _ring_contrast(region: Region, cx: float, cy: float, r: float,
                   taken: np.ndarray | None = None) -> tuple[float, float] | None:
    """(ΔL* dark, Δa* red) of the spot at (cx, cy) against the skin ring 1.5–2.1 r around it.

    A blemish is enclosed by skin: the ring is split into 8 sectors; at most 2 may be mostly
    something other than skin (hair, background — the facial features of the template do not
    count against it) and at least 4 must be mostly skin. The contrast is the median over the skin
    sectors, and 0 unless the third weakest of them shows at least a third of it (a spot on a
    shading edge stands out on one side only). ``taken`` pixels (blemishes already found) are
    left out. None when the surroundings are not skin.
    """
    (y0, y1, x0, x1), d, sector = _window(region.skin.shape, cx, cy, 2.1 * r + 1)
    core = d <= max(0.5 * r, 0.75)
    if not core.any():
        return None
    sm = region.smooth[y0:y1, x0:x1]
    skin = region.skin[y0:y1, x0:x1]
    foreign = ~skin & ~region.features[y0:y1, x0:x1]
    if taken is not None:
        skin = skin & ~taken[y0:y1, x0:x1]
    centre = sm[core].mean(axis=0)
    annulus = (d >= 1.5 * r) & (d <= 2.1 * r)
    # pixels beyond the image edge are foreign too: count each sector's expected size
    expected = max(1.0, math.pi * (2.1 ** 2 - 1.5 ** 2) * r * r / 8)
    sides, n_foreign = [], 0
    for k in range(8):
        part = annulus & (sector == k)
        outside = expected - part.sum()
        if (foreign[part].sum() + max(outside, 0)) > 0.5 * expected:
            n_foreign += 1
            continue
        on_skin = part & skin
        if on_skin.sum() >= max(2, 0.5 * part.sum()):
            bg = np.median(sm[on_skin], axis=0)
            sides.append((float(bg[0] - centre[0]), float(centre[1] - bg[1])))
    if n_foreign > 2 or len(sides) < 4:
        return None
    dark, red = sorted(v[0] for v in sides), sorted(v[1] for v in sides)
    # enclosed: the third weakest side still shows a third of the median contrast
    dark_c = float(np.median(dark)) if dark[2] >= 0.33 * np.median(dark) else min(dark[2], 0.0)
    red_c = float(np.median(red)) if red[2] >= 0.33 * np.median(red) else min(red[2], 0.0)
    return dark_c, red_c


def _blob_like(region: Region, cx: int, cy: int, r: float, channel: int) -> bool:
    """Hessian test at the blob's scale: both principal curvatures agree within ``EDGE_RATIO``."""
    g = _blur(np.ascontiguousarray(region.filled[..., channel]), r / math.sqrt(2.0))
    h, w = g.shape
    if not (1 <= cx < w - 1 and 1 <= cy < h - 1):
        return False
    dxx = g[cy, cx + 1] - 2 * g[cy, cx] + g[cy, cx - 1]
    dyy = g[cy + 1, cx] - 2 * g[cy, cx] + g[cy - 1, cx]
    dxy = 0.25 * (g[cy + 1, cx + 1] - g[cy + 1, cx - 1] - g[cy - 1, cx + 1] + g[cy - 1, cx - 1])
    det = dxx * dyy - dxy * dxy
    return det > 0 and (dxx + dyy) ** 2 / det < (EDGE_RATIO + 1) ** 2 / EDGE_RATIO


def _spot_patch(region: Region, cx: float, cy: float, r: float, dark: bool, contrast: float,
                taken: np.ndarray):
    """(patch, crease) of a spot. The patch — working-res pixels within 1.6 r deviating by ≥ 30 %
    of its contrast from the surrounding skin and connected to its centre, plus its core, dilated
    by one pixel — is what gets removed. ``crease`` is true when the deviation runs on through the
    band 1.25–1.6 r in two separate directions (runs of the 8 sectors): a fold or a wrinkle passing
    through, not a blemish (a blemish next to a shadow deviates on one side only)."""
    (y0, y1, x0, x1), d, sector = _window(region.skin.shape, cx, cy, 2.1 * r + 2)
    ring = (d >= 1.5 * r) & region.skin[y0:y1, x0:x1] & ~taken[y0:y1, x0:x1]
    sm = region.smooth[y0:y1, x0:x1]
    channel = 0 if dark else 1
    bg = float(np.median(sm[ring][:, channel])) if ring.any() else float(np.median(sm[..., channel]))
    dev = (bg - sm[..., channel]) if dark else (sm[..., channel] - bg)
    band = (d >= 1.25 * r) & (d <= 1.6 * r)
    deviating = [bool(np.percentile(dev[band & (sector == k)], 75) >= 0.3 * contrast) if (band & (sector == k)).any()
                 else False for k in range(8)]
    runs = sum(deviating[k] and not deviating[k - 1] for k in range(8))  # circular runs of sectors
    crease = runs >= 2
    m = ((d <= 1.6 * r) & (dev >= 0.3 * contrast)) | (d <= 0.8 * r)
    _, labels = cv2.connectedComponents(m.astype(np.uint8), connectivity=8)
    centre = labels[min(max(int(round(cy)) - y0, 0), m.shape[0] - 1), min(max(int(round(cx)) - x0, 0), m.shape[1] - 1)]
    if centre > 0:
        m = labels == centre
    m = cv2.dilate(m.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    return (y0, x0, m & ~region.features[y0:y1, x0:x1]), crease


def find_spots(region: Region, factor: float = 1.0, near: tuple[float, float, float] | None = None,
               on_skin: bool = True) -> list[Spot]:
    """Blemishes of ``region`` (working-res analysis, original-pixel spots with their patches).

    Candidates are taken strongest response first, each measured against skin that excludes the
    spots already accepted (so a cluster of blemishes does not hide its weaker members) and kept
    one per blob. ``factor`` scales the contrast thresholds; ``near`` = (x, y, reach) in working px
    keeps only candidates within reach of a point; ``on_skin`` False drops the skin and feature
    conditions (a spot the user pointed at).
    """
    radii, dark, red = _blob_responses(region)
    feat_dist = cv2.distanceTransform((~region.features).astype(np.uint8), cv2.DIST_L2, 3)
    candidates = []
    for resp, t, is_dark in ((dark, region.t_dark, True), (red, region.t_red, False)):
        # a disk of contrast C gives a response of about 0.37 C at its best scale
        peaks = (resp == maximum_filter(resp, size=3, mode="nearest")) & (resp > 0.25 * factor * t * 0.37)
        for k, cy, cx in zip(*np.nonzero(peaks), strict=True):
            r = float(radii[k])
            if near is not None and math.hypot(cx - near[0], cy - near[1]) > near[2] + r:
                continue
            if on_skin and (not region.skin[cy, cx] or feat_dist[cy, cx] < 0.5 * r):
                continue
            candidates.append((float(resp[k, cy, cx]) / t, int(cx), int(cy), r, is_dark))
    candidates.sort(key=lambda c: -c[0])
    taken = np.zeros(region.skin.shape, bool)
    kept: list[Spot] = []
    for _, cx, cy, r, is_dark in candidates:
        fx, fy = region.to_full(float(cx), float(cy))
        if any(math.hypot(fx - k.x, fy - k.y) <= max(r / region.scale, k.r) for k in kept):
            continue  # one spot per blob
        ring = _ring_contrast(region, float(cx), float(cy), r, taken)
        if ring is None:
            continue
        c_dark, c_red = ring
        if (c_dark if is_dark else c_red) < factor * (region.t_dark if is_dark else region.t_red):
            continue
        if not _blob_like(region, cx, cy, r, 0 if is_dark else 1):
            continue
        kind_dark = c_dark / region.t_dark >= c_red / region.t_red
        spot = Spot(fx, fy, r / region.scale, "dark" if kind_dark else "red", c_dark if kind_dark else c_red)
        spot.patch, crease = _spot_patch(region, float(cx), float(cy), r, kind_dark, spot.contrast, taken)
        if crease:
            continue
        y0, x0, m = spot.patch
        taken[y0:y0 + m.shape[0], x0:x0 + m.shape[1]] |= m
        kept.append(spot)
    return kept


def detect(image: np.ndarray, skin_mask: np.ndarray | None = None,
           faces: list[Face] | None = None) -> tuple[list[Region], list[Face]]:
    """Stage 1 on every face: the analysed regions (with their spots) and the faces."""
    if faces is None:
        faces = detect_faces(image)
    regions = [_face_region(image, face, skin_mask) for face in faces]
    if skin_mask is not None and not faces:  # a skin mask without a face: the mask is the region
        regions = [_mask_region(image, skin_mask)]
    for region in regions:
        region.spots = find_spots(region)
    return regions, faces


# ---------------------------------------------------------------- user spots

def parse_spots(spots: Any) -> list[dict[str, Any]]:
    """Validate the structure of the ``spots`` param: ``[{"x", "y", "remove"?: bool, "r"?: px}]``."""
    if spots is None:
        return []
    if not isinstance(spots, list):
        raise EngineInputError('spots must be a list of {"x", "y"} points (add "remove": true to keep a spot)')
    if len(spots) > MAX_SPOTS:
        raise EngineInputError(f"too many spots ({len(spots)}); at most {MAX_SPOTS}")
    out = []
    for i, s in enumerate(spots):
        if not isinstance(s, dict) or "x" not in s or "y" not in s:
            raise EngineInputError(f"spot {i} must be an object with numeric 'x' and 'y'")
        unknown = set(s) - {"x", "y", "remove", "r"}
        if unknown:
            raise EngineInputError(f"spot {i}: unknown key(s) {', '.join(sorted(unknown))}")
        for key in ("x", "y", "r"):
            v = s.get(key, 1.0)
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise EngineInputError(f"spot {i}: {key!r} must be a finite number")
        if "r" in s and not 0 < s["r"] <= 500:
            raise EngineInputError(f"spot {i}: 'r' must lie in (0, 500] pixels")
        remove = s.get("remove", False)
        if not isinstance(remove, bool):
            raise EngineInputError(f"spot {i}: 'remove' must be true or false")
        out.append({"x": float(s["x"]), "y": float(s["y"]), "remove": remove,
                    **({"r": float(s["r"])} if "r" in s else {})})
    return out


def apply_user_spots(image: np.ndarray, regions: list[Region], spots: list[dict[str, Any]],
                     default_unit: float) -> list[Region]:
    """Protect detected spots under ``remove`` points; add the other points as blemishes. Returns the
    regions, with a small region made around an added spot that lies on no analysed face."""
    h, w = image.shape[:2]
    for i, s in enumerate(spots):
        if not (0 <= s["x"] < w and 0 <= s["y"] < h):
            raise EngineInputError(f"spot {i} at ({s['x']:g}, {s['y']:g}) lies outside the {w}×{h} image")
    for s in spots:
        if s["remove"]:
            for region in regions:
                tolerance = 0.03 * region.unit / region.scale + 2
                for spot in region.spots:
                    if math.hypot(spot.x - s["x"], spot.y - s["y"]) <= spot.r + tolerance:
                        spot.protected = True
            continue
        region = next((r for r in regions if r.box[0] <= s["x"] < r.box[2] and r.box[1] <= s["y"] < r.box[3]),
                      None)
        if region is None:
            region = _spot_region(image, s, default_unit)
            regions.append(region)
        region.spots.append(_user_spot(region, s))
    return regions


def _spot_region(image: np.ndarray, s: dict[str, Any], unit_full: float) -> Region:
    """A square region around a user spot that lies on no detected face."""
    h, w = image.shape[:2]
    half = max(8.0, 4.0 * s.get("r", ADD_RADIUS * unit_full))
    box = (int(max(0, s["x"] - half)), int(max(0, s["y"] - half)),
           int(min(w, s["x"] + half + 1)), int(min(h, s["y"] + half + 1)))
    work, scale = _crop(image, box, unit_full)
    skin = np.ones(work.shape[:2], bool)
    return Region(box, scale, unit_full * scale, work, skin, np.zeros(skin.shape, bool))


def _user_spot(region: Region, s: dict[str, Any]) -> Spot:
    """The blemish under a click: the strongest deviation near it, else a disk."""
    cx, cy = region.to_work(s["x"], s["y"])
    if "r" not in s:
        near = find_spots(region, factor=0.4, near=(cx, cy, max(2.0, 0.04 * region.unit)), on_skin=False)
        if near:
            spot = min(near, key=lambda k: math.hypot(k.x - s["x"], k.y - s["y"]))
            spot.kind, spot.source = "added", "added"
            return spot
    r = max(0.8, s.get("r", ADD_RADIUS * region.unit / region.scale) * region.scale)
    (y0, _, x0, _), d, _ = _window(region.skin.shape, cx, cy, r + 2)
    spot = Spot(s["x"], s["y"], r / region.scale, "added", 0.0, "added")
    spot.patch = (y0, x0, d <= r)
    return spot


# ---------------------------------------------------------------- stage 2: remove

_DIRECTIONS = [(math.cos(a), math.sin(a)) for a in np.linspace(0, 2 * math.pi, 8, endpoint=False)]


def _texture_offset(region: Region, removed: np.ndarray, box, radius: float) -> tuple[int, int]:
    """Working-pixel offset of the cleanest nearby skin patch (no blemish, most skin) of the spot's size."""
    x0, y0, x1, y1 = box
    h, w = removed.shape
    best, best_cost = (0, 0), math.inf
    for dist in (2.2, 3.2):
        for dx, dy in _DIRECTIONS:
            ox, oy = round(dx * dist * radius), round(dy * dist * radius)
            if x0 + ox < 0 or y0 + oy < 0 or x1 + ox > w or y1 + oy > h or (ox, oy) == (0, 0):
                continue
            src = (slice(y0 + oy, y1 + oy), slice(x0 + ox, x1 + ox))
            skin = region.skin[src].mean()
            cost = 4.0 * removed[src].mean() + (1.0 - skin) + 0.05 * dist
            if skin >= 0.9 and cost < best_cost:
                best, best_cost = (ox, oy), cost
    return best


def remove(image: np.ndarray, regions: list[Region], strength: float, detail: float,
           out: np.ndarray, mask_out: np.ndarray) -> None:
    """Stage 2: remove every region's unprotected spots, writing into ``out`` and ``mask_out``."""
    if strength <= 0:
        return
    for region in regions:
        removed = region.removed()
        if removed.any():
            _remove_region(image, region, removed, strength, detail, out, mask_out)


def _remove_region(image, region: Region, removed: np.ndarray, strength: float, detail: float,
                   out, mask_out) -> None:
    x0, y0, x1, y1 = region.box
    s = region.scale
    hole = cv2.dilate(removed.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    # each blemish (a component of the hole) and the offset of its texture source, in working px
    n, _, stats, _ = cv2.connectedComponentsWithStats(hole.astype(np.uint8), connectivity=8)
    boxes = []
    for i in range(1, n):
        x, y, bw, bh, _area = stats[i]
        box = (max(0, x - 1), max(0, y - 1), min(hole.shape[1], x + bw + 1), min(hole.shape[0], y + bh + 1))
        boxes.append((box, _texture_offset(region, hole, box, max(1.0, 0.5 * max(bw, bh)))))
    # only the window around the spots and their sources is processed at full resolution
    wx0 = max(0, min(min(b[0], b[0] + o[0]) for b, o in boxes) - 3)
    wy0 = max(0, min(min(b[1], b[1] + o[1]) for b, o in boxes) - 3)
    wx1 = min(hole.shape[1], max(max(b[2], b[2] + o[0]) for b, o in boxes) + 3)
    wy1 = min(hole.shape[0], max(max(b[3], b[3] + o[1]) for b, o in boxes) + 3)
    fx0, fy0 = x0 + int(math.floor(wx0 / s)), y0 + int(math.floor(wy0 / s))
    fx1, fy1 = min(x1, x0 + int(math.ceil(wx1 / s))), min(y1, y0 + int(math.ceil(wy1 / s)))
    full = image[fy0:fy1, fx0:fx1]
    fh, fw = full.shape[:2]
    # full-res window pixel (u, v) sits at working coordinate s·(u + offset + ½) − ½
    to_work = np.float32([[s, 0, (fx0 - x0 + 0.5) * s - 0.5], [0, s, (fy0 - y0 + 0.5) * s - 0.5]])

    def up(a: np.ndarray) -> np.ndarray:  # working-res region array → this full-res window, bilinear
        return cv2.warpAffine(a, to_work, (fw, fh), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_REFLECT)

    filled = membrane_fill(region.work, hole, region.skin & ~hole, (wy0, wy1, wx0, wx1))
    soft = np.maximum(_blur(hole.astype(np.float32), 0.7), removed.astype(np.float32))
    if s < 1.0:  # frequency split at one working pixel: low = the working image brought back up
        low, new_low = up(_blur(region.work, 0.5)), up(_blur(filled, 0.5))
    else:
        low, new_low = _blur(full, 1.0), _blur(up(filled), 1.0)
    high = full - low
    texture = np.zeros_like(full)
    for (bx0, by0, bx1, by1), (ox, oy) in boxes:
        # the component's box at full resolution (window coordinates) and its shifted source
        u0, v0 = max(0, x0 + int(bx0 / s) - fx0), max(0, y0 + int(by0 / s) - fy0)
        u1, v1 = min(fw, x0 + int(math.ceil(bx1 / s)) - fx0), min(fh, y0 + int(math.ceil(by1 / s)) - fy0)
        dx, dy = round(ox / s), round(oy / s)
        if (dx, dy) == (0, 0) or u0 + dx < 0 or v0 + dy < 0 or u1 + dx > fw or v1 + dy > fh:
            continue  # no clean source inside the window: the fill alone (smooth) is used
        texture[v0:v1, u0:u1] = high[v0 + dy:v1 + dy, u0 + dx:u1 + dx]
    alpha = np.clip(up(soft), 0.0, 1.0) * np.float32(strength)
    result = full + alpha[..., None] * (new_low + np.float32(detail) * texture - full)
    out[fy0:fy1, fx0:fx1] = np.clip(result, 0.0, 1.0)
    mask_out[fy0:fy1, fx0:fx1] = np.maximum(mask_out[fy0:fy1, fx0:fx1], alpha)
