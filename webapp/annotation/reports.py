"""Reads that compute: the agreement report, the progress dashboard, the reviewer's comparison.

The maths is :mod:`inference.agreement`; per-edit numbers come from :mod:`webapp.annotation.stats`
(computed once per edit and kept).
"""

from __future__ import annotations

from collections import defaultdict
from itertools import combinations

import numpy as np

from inference import agreement as maths
from webapp.annotation import selectors, stats
from webapp.annotation.models import AnnotationProject, Assignment, Edit, ReviewIssue
from webapp.annotation.rendering import SLIDERS

IDLE_SECONDS = 120.0  # a gap between two saves longer than this is a break, not editing


def _mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def _icc_rows(slots, by_group, edits, photos_by_group) -> dict:
    out = {}
    for slider in SLIDERS:
        table = []
        for index, slot_assignments in by_group.items():
            for photo in photos_by_group[index]:
                row = [edits.get((slot_assignments[s].pk, photo.pk)) if s in slot_assignments else None
                       for s in slots]
                if all(row):
                    table.append([float(e.params.get(slider, 0.0)) for e in row])
        if len(table) < 2 or len(slots) < 2 or np.ptp(table) == 0:  # too few, or a slider nobody moved
            out[slider] = {"n": len(table), "icc_a1": None, "icc_c1": None, "style_offsets": None,
                           "unused": bool(table) and np.ptp(table) == 0}
            continue
        offsets = maths.style_offsets(table)
        out[slider] = {"n": len(table), "icc_a1": _finite(maths.icc_absolute(table)),
                       "icc_c1": _finite(maths.icc_consistency(table)),
                       "style_offsets": {s: float(o) for s, o in zip(slots, offsets, strict=True)}}
    return out


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _self_consistency(assignments, edits, renders) -> list[dict]:
    """An expert's edit of a hidden duplicate against their edit of the same photo in its own group."""
    by_expert_group = {(a.expert_id, a.project_group.group_id): a for a in assignments if a.expert_id}
    pairs, rows = [], []
    for a in assignments:
        for photo_id in a.duplicates:
            dup = edits.get((a.pk, photo_id))
            if dup is None:
                continue
            home = by_expert_group.get((a.expert_id, dup.photo.group_id))
            real = edits.get((home.pk, photo_id)) if home else None
            if real is not None:
                pairs.append((dup, real))
                rows.append({"expert": a.expert.username, "photo": photo_id, "slot": a.slot,
                             "duplicate_edit": dup.pk, "edit": real.pk,
                             "mean_abs_slider_difference": float(np.mean(
                                 [abs(float(dup.params.get(k, 0)) - float(real.params.get(k, 0))) for k in SLIDERS]))})
    found = stats.ensure_pairs(pairs, renders)
    for row, (dup, real) in zip(rows, pairs, strict=True):
        pair = found.get(tuple(sorted((dup.pk, real.pk))))
        row["delta_e76"] = pair.delta_e76 if pair else None
    return rows


def agreement(project: AnnotationProject) -> dict:
    """``GET /api/annotation/projects/<id>/agreement/`` (formulas in docs/annotation.md)."""
    assignments = list(project.assignments.select_related("project_group__group", "expert"))
    edits = selectors.current_edits(assignments)
    slots = list(project.slots)
    by_group: dict[int, dict[str, Assignment]] = defaultdict(dict)
    groups = {}
    for a in assignments:
        by_group[a.project_group.index][a.slot] = a
        groups[a.project_group.index] = a.project_group
    photos_by_group = selectors.photos_by_group(groups)
    renders = stats.renders()
    group_of = {a.pk: a.project_group.group_id for a in assignments}
    in_group = [e for e in edits.values() if e.photo.group_id == group_of[e.assignment_id]]
    stat_rows = stats.ensure_stats(in_group, renders)

    pairs, pair_keys = [], []
    for index, slot_assignments in by_group.items():
        for photo in photos_by_group[index]:
            for s, t in combinations(slots, 2):
                a, b = slot_assignments.get(s), slot_assignments.get(t)
                ea, eb = (edits.get((a.pk, photo.pk)) if a else None), (edits.get((b.pk, photo.pk)) if b else None)
                if ea and eb:
                    pairs.append((ea, eb))
                    pair_keys.append((s, t))
    found = stats.ensure_pairs(pairs, renders)
    per_pair: dict[tuple[str, str], list] = defaultdict(list)
    for (ea, eb), key in zip(pairs, pair_keys, strict=True):
        per_pair[key].append(found[tuple(sorted((ea.pk, eb.pk)))])
    delta = [{"slots": list(k), "photos": len(v), "delta_e76": _mean(p.delta_e76 for p in v),
              "delta_e_hc": _mean(p.delta_e_hc for p in v)} for k, v in sorted(per_pair.items())]

    glc_rows = []
    for index in sorted(by_group):
        row = {"group": index, "name": groups[index].group.name}
        for slot in slots:
            a = by_group[index].get(slot)
            means = [stat_rows[edits[(a.pk, p.pk)].pk].mean_lab for p in photos_by_group[index]
                     if a and (a.pk, p.pk) in edits]
            row[slot] = maths.glc_from_means(means) if len(means) == len(photos_by_group[index]) else None
        glc_rows.append(row)
    glc_project = {s: _mean(r[s] for r in glc_rows) for s in slots}
    return {
        "project": project.pk, "slots": slots, "sliders": list(SLIDERS),
        "icc": _icc_rows(slots, by_group, edits, photos_by_group),
        "delta_e": delta,
        "glc": {"groups": glc_rows, "project": glc_project},
        "self_consistency": _self_consistency(assignments, edits, renders),
    }


def active_seconds(times) -> float:
    """Editing time from save events: the sum of gaps between consecutive saves, each capped at
    ``IDLE_SECONDS`` (a longer gap is a break)."""
    times = sorted(times)
    return float(sum(min((b - a).total_seconds(), IDLE_SECONDS) for a, b in zip(times, times[1:], strict=False)))


def dashboard(project: AnnotationProject) -> dict:
    assignments = list(project.assignments.select_related("project_group__group", "expert", "reviewer"))
    saves = defaultdict(list)
    edited = defaultdict(set)
    for assignment_id, photo_id, saved_at in Edit.objects.filter(assignment__project=project).values_list(
            "assignment_id", "photo_id", "saved_at"):
        saves[assignment_id].append(saved_at)
        edited[assignment_id].add(photo_id)
    open_issues = defaultdict(int)
    for assignment_id in ReviewIssue.objects.filter(assignment__project=project,
                                                    state__in=ReviewIssue.UNRESOLVED).values_list("assignment_id", flat=True):
        open_issues[assignment_id] += 1
    sizes = {i: len(photos) for i, photos in
             selectors.photos_by_group({pg.index: pg for pg in project.project_groups.all()}).items()}
    rows = []
    for a in assignments:
        rows.append({
            "assignment": a.pk, "group": a.project_group.index, "group_name": a.project_group.group.name,
            "slot": a.slot, "expert": a.expert.username if a.expert else None,
            "reviewer": a.reviewer.username if a.reviewer else None, "state": a.state, "round": a.round,
            "first_pass": a.first_pass, "active_seconds": round(active_seconds(saves[a.pk]), 1),
            "saves": len(saves[a.pk]), "photos_edited": len(edited[a.pk] - set(a.duplicates)),
            "photos": sizes[a.project_group.index], "issues_open": open_issues[a.pk],
        })
    experts = defaultdict(list)
    for row in rows:
        if row["expert"]:
            experts[row["expert"]].append(row)
    summary = []
    for name, items in sorted(experts.items()):
        decided = [r for r in items if r["first_pass"] is not None]
        summary.append({
            "expert": name, "assignments": len(items),
            "accepted": sum(r["state"] in ("accepted", "frozen") for r in items),
            "first_pass_acceptance": (sum(bool(r["first_pass"]) for r in decided) / len(decided)) if decided else None,
            "active_seconds": round(sum(r["active_seconds"] for r in items), 1),
            "issues_open": sum(r["issues_open"] for r in items),
        })
    states = defaultdict(int)
    for row in rows:
        states[row["state"]] += 1
    return {"project": project.pk, "rows": rows, "experts": summary, "states": dict(states),
            "dataset_version": project.dataset_version}


DASHBOARD_COLUMNS = ["group", "group_name", "slot", "expert", "reviewer", "state", "round", "first_pass",
                     "active_seconds", "saves", "photos_edited", "photos", "issues_open"]


def warm_cache(assignment: Assignment) -> int:
    """After a submission: ΔE between this slot's photos and the other slots' current edits, so the
    agreement report and the reviewer's view read them instead of computing them (the edit's own
    statistics were made by QA). Returns how many pairs exist."""
    group = list(assignment.project_group.assignments.all())
    edits = selectors.current_edits(group)
    pairs = [(edits[(assignment.pk, p.pk)], edits[(other.pk, p.pk)])
             for p in selectors.group_photos(assignment.project_group) for other in group
             if other.pk != assignment.pk and (assignment.pk, p.pk) in edits and (other.pk, p.pk) in edits]
    return len(stats.ensure_pairs(pairs))


def _previous_round_edits(assignment: Assignment, photos) -> dict[int, Edit]:
    out = {}
    for edit in Edit.objects.filter(assignment=assignment, round__lt=assignment.round,
                                    photo__in=photos).order_by("version").select_related("photo", "assignment__project"):
        out[edit.photo_id] = edit
    return out


def review_view(assignment: Assignment, user) -> dict:
    """The reviewer's comparison for ``assignment``'s group: every slot the user may see, per-slot
    M_GLC, pairwise ΔE per photo, and this slot's round n against round n − 1."""
    group = assignment.project_group
    photos = selectors.group_photos(group)
    visible = {a.pk for a in selectors.assignments_visible_to(user).filter(project_group=group)}
    slots = [a for a in group.assignments.select_related("expert").order_by("slot") if a.pk in visible]
    edits = selectors.current_edits(slots)
    renders = stats.renders()
    current = [e for e in edits.values() if e.photo_id in {p.pk for p in photos}]
    stat_rows = stats.ensure_stats(current, renders)
    pairs = []
    for photo in photos:
        for a, b in combinations(slots, 2):
            ea, eb = edits.get((a.pk, photo.pk)), edits.get((b.pk, photo.pk))
            if ea and eb:
                pairs.append((ea, eb))
    found = stats.ensure_pairs(pairs, renders)
    previous = _previous_round_edits(assignment, photos)
    round_pairs = [(previous[p.pk], edits[(assignment.pk, p.pk)]) for p in photos
                   if p.pk in previous and (assignment.pk, p.pk) in edits]
    round_found = stats.ensure_pairs(round_pairs, renders)
    slot_rows = []
    for a in slots:
        means = [stat_rows[edits[(a.pk, p.pk)].pk].mean_lab for p in photos if (a.pk, p.pk) in edits]
        slot_rows.append({
            "assignment": a.pk, "slot": a.slot, "state": a.state, "round": a.round,
            "expert": a.expert.username if a.expert else None,
            "glc": maths.glc_from_means(means) if len(means) == len(photos) else None,
            "params": {p.pk: edits[(a.pk, p.pk)].params for p in photos if (a.pk, p.pk) in edits},
        })
    photo_rows = []
    for photo in photos:
        de = []
        for a, b in combinations(slots, 2):
            ea, eb = edits.get((a.pk, photo.pk)), edits.get((b.pk, photo.pk))
            pair = found.get(tuple(sorted((ea.pk, eb.pk)))) if ea and eb else None
            de.append({"slots": [a.slot, b.slot], "delta_e76": pair.delta_e76 if pair else None})
        prev = previous.get(photo.pk)
        cur = edits.get((assignment.pk, photo.pk))
        rp = round_found.get(tuple(sorted((prev.pk, cur.pk)))) if prev and cur else None
        photo_rows.append({"photo": photo.pk, "delta_e": de,
                           "previous_round": {"params": prev.params, "round": prev.round,
                                              "delta_e76": rp.delta_e76 if rp else None} if prev else None})
    return {"assignment": assignment.pk, "group": group.index, "slots": slot_rows, "photos": photo_rows}
