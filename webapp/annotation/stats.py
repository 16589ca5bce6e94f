"""Per-edit statistics and pairwise ΔE at 360p, computed once and kept (an ``Edit`` never changes).

QA on submit, the agreement report and the reviewer's view read these rows; what is missing is
computed here, rendering each edit at most once per call.
"""

from __future__ import annotations

import numpy as np

from inference.agreement import mean_lab
from inference.metrics import delta_e, delta_e_hc
from webapp.annotation import rendering
from webapp.annotation.models import Edit, EditPair, EditStats
from webapp.photos.models import Mask

WHITE, BLACK = 254.5 / 255.0, 0.5 / 255.0


class _Renders:
    """Working-size results and human masks of the edits one call touches."""

    def __init__(self):
        self._results: dict[int, np.ndarray] = {}
        self._masks: dict[int, np.ndarray | None] = {}
        self._sources: dict[int, np.ndarray] = {}

    def source(self, photo) -> np.ndarray:
        if photo.pk not in self._sources:
            self._sources[photo.pk] = rendering.source(photo, "working")
        return self._sources[photo.pk]

    def result(self, edit: Edit) -> np.ndarray:
        if edit.pk not in self._results:
            harmonization = edit.assignment.project.kind == "harmonization"
            self._results[edit.pk] = rendering.render(edit.photo, edit.params, harmonization=harmonization,
                                                      image=self.source(edit.photo))
        return self._results[edit.pk]

    def mask(self, photo) -> np.ndarray | None:
        if photo.pk not in self._masks:
            h, w = self.source(photo).shape[:2]
            self._masks[photo.pk] = rendering.mask_array(rendering.latest_mask(photo, Mask.Kind.HUMAN), h, w)
        return self._masks[photo.pk]


def clipping(image: np.ndarray, mask: np.ndarray | None) -> tuple[float, float]:
    """Shares of the region (the person where ``mask`` > 0.5, else the photo) at pure white / black."""
    region = (mask > 0.5) if mask is not None else np.ones(image.shape[:2], bool)
    pixels = image[region] if region.any() else image.reshape(-1, 3)
    return float(np.mean(np.all(pixels >= WHITE, axis=1))), float(np.mean(np.all(pixels <= BLACK, axis=1)))


def _stats_row(edit: Edit, renders: _Renders) -> EditStats:
    out = renders.result(edit)
    mask = renders.mask(edit.photo)
    white, black = clipping(out, mask)
    return EditStats(
        edit=edit, mean_lab=[float(v) for v in mean_lab(out)],
        human_lab=[float(v) for v in mean_lab(out, mask)] if mask is not None and mask.any() else None,
        clipped_white=white, clipped_black=black)


def ensure_stats(edits: list[Edit], renders: _Renders | None = None) -> dict[int, EditStats]:
    renders = renders or _Renders()
    have = {s.edit_id: s for s in EditStats.objects.filter(edit__in=edits)}
    new = [_stats_row(e, renders) for e in edits if e.pk not in have]
    EditStats.objects.bulk_create(new, ignore_conflicts=True)
    have.update({s.edit_id: s for s in new})
    return have


def ensure_pairs(pairs: list[tuple[Edit, Edit]], renders: _Renders | None = None) -> dict[tuple[int, int], EditPair]:
    """ΔE76 and ΔE^HC between two edits of one photo, keyed by (smaller id, larger id)."""
    renders = renders or _Renders()
    ordered = [(a, b) if a.pk < b.pk else (b, a) for a, b in pairs]
    firsts = {a.pk for a, _ in ordered}
    have = {(p.first_id, p.second_id): p for p in EditPair.objects.filter(first_id__in=firsts)}
    new = []
    for a, b in ordered:
        if (a.pk, b.pk) in have or a.pk == b.pk:
            continue
        ra, rb = renders.result(a), renders.result(b)
        if ra.shape != rb.shape:
            continue  # a duplicate shown at another size cannot happen today; never compare unlike images
        mask = renders.mask(a.photo)
        pair = EditPair(first=a, second=b, delta_e76=delta_e(ra, rb),
                        delta_e_hc=delta_e_hc(ra, rb, mask) if mask is not None else None)
        have[(a.pk, b.pk)] = pair
        new.append(pair)
    EditPair.objects.bulk_create(new, ignore_conflicts=True)
    return have


def renders() -> _Renders:
    return _Renders()
