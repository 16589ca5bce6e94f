"""Automatic QA when an expert submits: each failure is one sentence the expert can act on.

Checks (thresholds per project, ``AnnotationProject.qa``):

* every photo of the group has a saved edit, and every review issue is resolved;
* no slider at the end of its range (``|v| ≥ extreme_fraction × limit``);
* clipping in the human region: the share of the person's pixels (the whole photo without a human
  mask) that are pure white or pure black in the 360p result, above ``max_clipped_fraction`` and
  above what the source already had;
* M_GLC of the group (PPR10K's definition, hidden duplicates left out) over ``max_glc``.
"""

from __future__ import annotations

from inference import render as renderer
from inference.agreement import glc_from_means
from webapp.annotation import selectors, stats
from webapp.annotation.models import Assignment, Edit
from webapp.annotation.rendering import SLIDERS


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _value(name: str, value: float) -> str:
    return f"{value:+.2f} EV" if name == "exposure" else f"{value:+.0f}"


def _extremes(photo_name: str, params: dict, fraction: float) -> list[str]:
    out = []
    for name in SLIDERS:
        limit = max(abs(renderer.PARAMS[name]["min"]), abs(renderer.PARAMS[name]["max"]))
        value = float(params.get(name, 0.0))
        if abs(value) >= fraction * limit:
            out.append(f"{photo_name}: {_label(name)} is at {_value(name, value)}, the end of its range "
                       f"(QA flags |value| ≥ {fraction:.0%} of {limit:g}); pull it back or ask the researcher.")
    return out


def photo_label(assignment: Assignment, photo) -> str:
    return f"photo {photo.original_name or photo.pk}"


def check_submission(assignment: Assignment) -> list[str]:
    qa = {**assignment.project.qa}
    failures = [f"Review issue #{i.pk} ({i.comment[:60]}) is still open: fix it and mark it resolved."
                for i in selectors.open_issues(assignment)]
    photos = selectors.assignment_photos(assignment)
    edits = selectors.current_edits([assignment])
    missing = [p for p in photos if (assignment.pk, p.pk) not in edits]
    failures += [f"{photo_label(assignment, p)} has no saved edit yet: open it in the filmstrip." for p in missing]
    if missing:
        return failures
    current: list[Edit] = [edits[(assignment.pk, p.pk)] for p in photos]
    for edit in current:
        failures += _extremes(photo_label(assignment, edit.photo), edit.params, float(qa.get("extreme_fraction", 0.95)))
    renders = stats.renders()
    rows = stats.ensure_stats(current, renders)
    clip_limit = float(qa.get("max_clipped_fraction", 0.02))
    originals = _source_clipping(current, renders)
    for edit in current:
        row = rows[edit.pk]
        for what, value in (("white", row.clipped_white), ("black", row.clipped_black)):
            if value > clip_limit and value > originals[edit.pk][what] + 0.005:
                region = "of the person" if row.human_lab is not None else "of the photo"
                failures.append(f"{photo_label(assignment, edit.photo)}: {value:.1%} of the pixels {region} are "
                                f"clipped to pure {what} (limit {clip_limit:.1%}); recover them with "
                                f"{'Highlights/Whites' if what == 'white' else 'Shadows/Blacks'}.")
    in_group = [e for e in current if e.photo_id not in set(assignment.duplicates)]
    glc = glc_from_means([rows[e.pk].mean_lab for e in in_group])
    limit = float(qa.get("max_glc", 30.0))
    if glc > limit:
        failures.append(f"The group's tone is not consistent: M_GLC {glc:.1f} is over the project's limit "
                        f"{limit:g}. Use “Match group tone” or sync white balance across the group.")
    return failures


def _source_clipping(edits: list[Edit], renders) -> dict[int, dict[str, float]]:
    """Clipping of each photo's unedited source, so QA only blames what the edit added."""
    out = {}
    for edit in edits:
        white, black = stats.clipping(renders.source(edit.photo), renders.mask(edit.photo))
        out[edit.pk] = {"white": white, "black": black}
    return out
