"""Classical segmentation building blocks: working resolution, superpixel graphs, geodesic
click segmentation and edge-aware mask feathering (people segmentation is in ``inference.people``).

Everything here works on small working-resolution images (short side ``WORK_SHORT`` = 360 px) so
that interactive engines can answer a click in tens of milliseconds; full-resolution masks are
only produced by upsampling the soft result (:func:`upsample_mask`).

Click segmentation (:class:`SuperpixelGraph`, :func:`geodesic_click_segmentation`) follows the
geodesic-distance idea of interactive matting/segmentation (Bai & Sapiro 2007; Criminisi et al.,
GeoS 2008) on a SLIC superpixel graph: a pixel belongs to the emphasised region when it is
geodesically closer (paths that avoid colour edges are short) to a positive click than to a negative
click or to the image border. The expensive, click-independent part (superpixels, their colour
means and adjacency) is computed once per image and cached by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra

from inference.interface import EngineInputError

WORK_SHORT = 360


def working_size(height: int, width: int, short: int = WORK_SHORT) -> tuple[int, int]:
    """(h, w) with the short side at most ``short`` (never upscales), aspect preserved."""
    s = min(1.0, short / float(min(height, width)))
    return max(1, int(round(height * s))), max(1, int(round(width * s)))


def resize_image(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Area-averaged downscale / linear upscale of an H×W(×C) float32 array."""
    if image.shape[0] == height and image.shape[1] == width:
        return np.ascontiguousarray(image, dtype=np.float32)
    interp = cv2.INTER_AREA if height < image.shape[0] else cv2.INTER_LINEAR
    return cv2.resize(np.ascontiguousarray(image, dtype=np.float32), (width, height),
                      interpolation=interp)


def upsample_mask(mask: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear upsampling of a soft mask to (height, width), clipped to [0, 1]."""
    out = resize_image(mask, height, width)
    return np.clip(out, 0.0, 1.0, out=out)


def box_mean(x: np.ndarray, radius: int) -> np.ndarray:
    k = 2 * radius + 1
    return cv2.boxFilter(x, -1, (k, k), borderType=cv2.BORDER_REFLECT)


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """Grey-guide guided filter (He, Sun & Tang 2010): edge-aware smoothing of ``src`` by ``guide``."""
    guide = guide.astype(np.float32, copy=False)
    src = src.astype(np.float32, copy=False)
    mean_i = box_mean(guide, radius)
    mean_p = box_mean(src, radius)
    cov_ip = box_mean(guide * src, radius) - mean_i * mean_p
    var_i = box_mean(guide * guide, radius) - mean_i * mean_i
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    return box_mean(a, radius) * guide + box_mean(b, radius)


def feather_mask(mask: np.ndarray, guide_grey: np.ndarray | None = None, radius: int | None = None,
                 eps: float = 1e-3) -> np.ndarray:
    """Soft, seam-free version of ``mask``: guided filter on the image (snaps to edges) followed by
    a Gaussian of the same scale (removes any residual step so blends show no halo or seam)."""
    h, w = mask.shape
    if radius is None:
        radius = max(2, int(round(min(h, w) / 60)))
    out = mask.astype(np.float32)
    if guide_grey is not None:
        out = guided_filter(guide_grey, out, radius, eps)
    sigma = radius / 1.5
    out = cv2.GaussianBlur(out, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT)
    return np.clip(out, 0.0, 1.0, out=out)


@dataclass
class SuperpixelGraph:
    """SLIC superpixels of a working-resolution image plus their region-adjacency graph."""

    labels: np.ndarray  # H×W int32
    n: int
    lab_mean: np.ndarray  # n×3 CIE Lab means
    centroid: np.ndarray  # n×2 (y, x)
    edges: np.ndarray  # m×2 int32 adjacent pairs (i < j)
    colour_dist: np.ndarray  # m, ΔE between the pair's means
    space_dist: np.ndarray  # m, centroid distance in pixels
    border: np.ndarray  # bool n, touches the image border

    @classmethod
    def build(cls, image: np.ndarray, lab: np.ndarray, n_segments: int = 900) -> SuperpixelGraph:
        # Deferred: scikit-image takes ~0.2 s to load and only building the graph needs it.
        from skimage.segmentation import slic

        labels = slic(image, n_segments=n_segments, compactness=12, sigma=0.8, start_label=0,
                      convert2lab=True, enforce_connectivity=True).astype(np.int32)
        n = int(labels.max()) + 1
        flat = labels.ravel()
        counts = np.maximum(np.bincount(flat, minlength=n), 1).astype(np.float64)
        lab_mean = np.stack([np.bincount(flat, lab[..., c].ravel(), minlength=n) / counts
                             for c in range(3)], axis=1)
        yy, xx = np.indices(labels.shape)
        centroid = np.stack([np.bincount(flat, yy.ravel(), minlength=n) / counts,
                             np.bincount(flat, xx.ravel(), minlength=n) / counts], axis=1)
        pairs = [np.stack([labels[:, :-1].ravel(), labels[:, 1:].ravel()], 1),
                 np.stack([labels[:-1, :].ravel(), labels[1:, :].ravel()], 1)]
        pairs = np.concatenate(pairs)
        pairs = pairs[pairs[:, 0] != pairs[:, 1]]
        pairs.sort(axis=1)
        edges = np.unique(pairs, axis=0).astype(np.int32)
        colour = np.linalg.norm(lab_mean[edges[:, 0]] - lab_mean[edges[:, 1]], axis=1)
        space = np.linalg.norm(centroid[edges[:, 0]] - centroid[edges[:, 1]], axis=1)
        border = np.zeros(n, dtype=bool)
        border[np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))] = True
        return cls(labels, n, lab_mean.astype(np.float32), centroid.astype(np.float32), edges,
                   colour.astype(np.float32), space.astype(np.float32), border)

    def region_mean(self, values: np.ndarray) -> np.ndarray:
        """Per-superpixel mean of an H×W map."""
        flat = self.labels.ravel()
        counts = np.maximum(np.bincount(flat, minlength=self.n), 1)
        return (np.bincount(flat, values.ravel(), minlength=self.n) / counts).astype(np.float32)

    def labels_under(self, seed_map: np.ndarray) -> np.ndarray:
        return np.unique(self.labels[seed_map > 0])


def geodesic_distance(graph: SuperpixelGraph, weights: np.ndarray, seeds: np.ndarray,
                      offsets: np.ndarray | None = None) -> np.ndarray:
    """Multi-source shortest-path distance over the superpixel graph from ``seeds`` (ids).

    ``offsets`` (one per seed) start a seed at a handicap; it is implemented with a virtual
    source node joined to every seed. Unreachable nodes get ``inf``.
    """
    n = graph.n
    if len(seeds) == 0:
        return np.full(n, np.inf, dtype=np.float64)
    if offsets is None:
        offsets = np.zeros(len(seeds))
    src = graph.edges[:, 0]
    dst = graph.edges[:, 1]
    virt = np.full(len(seeds), n)
    rows = np.concatenate([src, dst, virt])
    cols = np.concatenate([dst, src, seeds])
    # csgraph treats explicit zeros as missing edges: keep every weight strictly positive.
    vals = np.concatenate([weights, weights, np.asarray(offsets, dtype=np.float64) + 1e-9])
    mat = coo_matrix((vals, (rows, cols)), shape=(n + 1, n + 1)).tocsr()
    return dijkstra(mat, directed=True, indices=n)[:n]


def geodesic_click_segmentation(graph: SuperpixelGraph, pos_seeds: np.ndarray, neg_seeds: np.ndarray,
                                border_seeds: np.ndarray, *, scale_px: float,
                                prior: np.ndarray | None = None, border_bias: float = 2.0,
                                softness: float = 0.35) -> tuple[np.ndarray, np.ndarray]:
    """Soft per-superpixel (emphasis, negative) memberships from click seeds.

    Edge cost = ΔE/10 (colour edge strength) + centroid distance / ``scale_px`` (keeps regions
    compact at the size of a person, derived from the face size) + 3×|prior difference| (crossing
    the boundary of the cached person prior is expensive). Each superpixel goes to its geodesically
    nearest seed group; ``softness`` (in cost units) makes the decision a smooth sigmoid so the
    caller's feathering never starts from a hard step.
    """
    w = graph.colour_dist.astype(np.float64) / 10.0 + graph.space_dist / max(scale_px, 1.0)
    if prior is not None:
        w = w + 3.0 * np.abs(prior[graph.edges[:, 0]] - prior[graph.edges[:, 1]])
    w = w + 1e-3
    d_pos = geodesic_distance(graph, w, pos_seeds)
    d_neg = geodesic_distance(graph, w, neg_seeds)
    d_bor = geodesic_distance(graph, w, border_seeds, np.full(len(border_seeds), border_bias))

    def win(d_self, d_other):
        finite = np.isfinite(d_self)
        diff = np.where(finite, np.minimum(d_other, 1e6) - np.where(finite, d_self, 0), -1e6)
        return (1.0 / (1.0 + np.exp(-np.clip(diff / softness, -50, 50)))).astype(np.float32)

    emph = win(d_pos, np.minimum(d_neg, d_bor)) if len(pos_seeds) else np.zeros(graph.n, np.float32)
    neg = win(d_neg, np.minimum(d_pos, d_bor)) if len(neg_seeds) else np.zeros(graph.n, np.float32)
    return emph, neg


def check_image(image, name: str = "image") -> np.ndarray:
    """Validate an engine image input (H×W×3, values in [0, 1]); return it as float32."""
    if image is None:
        raise EngineInputError(f"{name} is required")
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] < 2 or arr.shape[1] < 2:
        raise EngineInputError(f"{name} must be an H×W×3 array, got shape {arr.shape}")
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    if not np.issubdtype(arr.dtype, np.floating):
        raise EngineInputError(f"{name} must hold floats in [0, 1] (or uint8), got {arr.dtype}")
    arr = arr.astype(np.float32, copy=False)
    if not np.isfinite(arr).all():
        raise EngineInputError(f"{name} contains NaN or infinite values")
    return np.clip(arr, 0.0, 1.0)


def check_mask(mask, height: int, width: int, name: str = "mask", allow_empty: bool = True) -> np.ndarray:
    """Validate an H×W mask matching the image; return float32 in [0, 1]."""
    arr = np.asarray(mask)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.shape != (height, width):
        raise EngineInputError(f"{name} must be {height}×{width} to match the image, got shape {arr.shape}")
    if arr.dtype == np.bool_ or arr.dtype == np.uint8:
        arr = arr.astype(np.float32) / (255.0 if arr.dtype == np.uint8 and arr.max() > 1 else 1.0)
    arr = np.asarray(arr, dtype=np.float32)
    if not np.isfinite(arr).all():
        raise EngineInputError(f"{name} contains NaN or infinite values")
    arr = np.clip(arr, 0.0, 1.0)
    if not allow_empty and not (arr > 0.5).any():
        raise EngineInputError(f"{name} is empty: no pixel is above 0.5")
    return arr
