"""Exports beyond votes.csv and the results JSON: the raw responses (``responses.csv``, one row per
answer) and a LaTeX table in the style of Table III of the retouching paper. Every name in the table
(methods, subsets, the study's title) is escaped (``_tex``); the CSV files escape formulas
(``studies.analysis.data.csv_cell``)."""

from __future__ import annotations

import csv
import io
import json

from studies import kinds, selectors
from studies.analysis.data import csv_cell
from studies.models import Output, Response

# Every character TeX treats specially, as text. "^" becomes a macro, so "^^5c"-style character codes
# (TeX reads "^^5c" as a backslash) cannot form; control characters (TeX's ^^M and friends, NUL)
# become spaces.
_TEX = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "%": r"\%", "#": r"\#",
        "_": r"\_", "^": r"\textasciicircum{}", "~": r"\textasciitilde{}"}


def _tex(text: str) -> str:
    """``text`` (a method, subset or study name) as LaTeX that prints it and does nothing else."""
    return "".join(_TEX.get(c, " " if c < " " or c == "\x7f" else c) for c in str(text))


def _block(res: dict, ci: bool) -> list[str]:
    lines = []
    names = res["conditions"]
    bt, th, rate = res["bradley_terry"]["score"], res["thurstone"]["z"], res["preference_rate"]
    cis = res.get("ci") or {}
    best = max(names, key=lambda n: bt[n])
    for n in sorted(names, key=lambda n: -bt[n]):
        cells = [f"{100 * rate[n]:.1f}\\%", f"{bt[n]:.3f}", f"{th[n]:.3f}"]
        if ci and cis:
            for key, k in (("bradley_terry.score", 1), ("thurstone.z", 2)):
                if key in cis:
                    lo, hi = cis[key][n]
                    cells[k] += f" {{\\scriptsize[{lo:.2f}, {hi:.2f}]}}"
        if n == best:
            cells = [f"\\textbf{{{c}}}" for c in cells]
        lines.append(f"{_tex(n)} & " + " & ".join(cells) + r" \\")
    return lines


def latex_table(res: dict, caption: str = "User study results") -> str:
    ci = bool(res.get("ci"))
    out = [r"\begin{table}[t]", r"\centering", f"\\caption{{{_tex(caption)}}}", r"\begin{tabular}{lccc}",
           r"\toprule", r"Method & Preference rate & B--T score & Thurstone $z$ \\", r"\midrule"]
    subsets = res.get("subsets") or {}
    if len(subsets) > 1:
        for name, sub in subsets.items():
            if not sub.get("bradley_terry"):
                continue
            out.append(f"\\multicolumn{{4}}{{l}}{{\\textit{{{_tex(name)}}}}} \\\\")
            out += _block(sub, ci)
            out.append(r"\midrule")
        out.append(r"\multicolumn{4}{l}{\textit{All}} \\")
    if res.get("bradley_terry"):
        out += _block(res, ci)
    out += [r"\bottomrule", r"\end{tabular}", r"\end{table}", ""]
    return "\n".join(out)


# ----------------------------------------------------------------------------- raw responses
# One row per answer, everything a researcher would analyse elsewhere (votes.csv stays the analysis
# table the CLI reads). Pairwise: the methods shown left and right; ranking: the candidates in display
# order. Attention trials show one method twice, one copy degraded (``degraded_side``).
RESPONSES_HEADER = [
    "participant", "excluded", "exclusion", "flags", "completed", "prolific_pid", "prolific_study_id",
    "prolific_session_id", "mturk_worker_id", "mturk_assignment_id", "mturk_hit_id", "other_params", "screen",
    "trial", "position", "practice", "attention", "item", "subset", "left_method", "right_method",
    "candidates", "answer", "chosen_method", "ranking", "degraded_side", "attention_passed", "elapsed_ms",
    "answered_at",
    # the end questionnaire (studies.participation.QUESTIONNAIRE), per participant; blank: not asked or
    # not answered
    "q_age_band", "q_gender", "q_vision_correction", "q_colour_vision", "q_comment",
]
QUESTIONNAIRE_COLUMNS = ("age_band", "gender", "vision_correction", "colour_vision", "comment")
_LINK_PARAMS = {"PROLIFIC_PID": "prolific_pid", "STUDY_ID": "prolific_study_id", "SESSION_ID": "prolific_session_id",
                "workerId": "mturk_worker_id", "assignmentId": "mturk_assignment_id", "hitId": "mturk_hit_id"}


def _flag(value: bool) -> str:
    return "1" if value else "0"


def _screen(screen: dict) -> str:
    if not screen.get("width"):
        return ""
    return f"{screen.get('width')}x{screen.get('height')}@{screen.get('dpr', '')}"


def response_rows(study) -> list[dict]:
    """Every stored answer of ``study`` (practice and attention trials too, excluded participants
    too, with their exclusion state as the dashboard shows it now), in the order they arrived."""
    kind = kinds.of(study)
    method_of = dict(Output.objects.filter(item__study=study).values_list("id", "method__name"))
    quality = {q["id"]: q for q in selectors.participant_quality(study)}
    rows = []
    for r in (Response.objects.filter(study=study).order_by("created_at", "id")
              .select_related("participant", "trial__item")):
        p, t = r.participant, r.trial
        q = quality[p.id]
        params = {str(k): str(v) for k, v in (p.params or {}).items()}
        candidates = [method_of.get(c, "") for c in (t.candidates or [])]
        order = r.order or []
        ranking = [candidates[k] for k in order if 0 <= k < len(candidates)]
        if study.kind == kinds.PAIRWISE:
            shown = {"left": method_of.get(t.left_id, ""), "right": method_of.get(t.right_id, "")}
            chosen = shown.get(r.choice, "")
            answer = r.choice
        else:
            chosen = ranking[0] if ranking else ""
            answer = " ".join(str(k) for k in order)
        row = {
            "participant": p.label, "excluded": _flag(q["excluded"]),
            "exclusion": "manual" if q["manual"] is not None else "automatic",
            "flags": " ".join(q["flags"]), "completed": _flag(p.completed_at is not None),
            **{column: params.pop(name, "") for name, column in _LINK_PARAMS.items()},
            "other_params": json.dumps(params, sort_keys=True) if params else "", "screen": _screen(p.screen or {}),
            "trial": t.public_id, "position": t.position, "practice": _flag(t.practice),
            "attention": _flag(t.attention), "item": t.item.name, "subset": t.item.subset or "all",
            "left_method": method_of.get(t.left_id, "") if t.left_id else "",
            "right_method": method_of.get(t.right_id, "") if t.right_id else "",
            "candidates": " | ".join(candidates), "answer": answer, "chosen_method": chosen,
            "ranking": " > ".join(ranking), "degraded_side": t.degraded_side,
            "attention_passed": _flag(kind.attention_passed(t.degraded_side, r.choice, r.order)) if t.attention else "",
            "elapsed_ms": r.elapsed_ms, "answered_at": r.created_at.isoformat(),
            **{f"q_{name}": (p.questionnaire or {}).get(name, "") for name in QUESTIONNAIRE_COLUMNS},
        }
        rows.append(row)
    return rows


def responses_csv(rows: list[dict]) -> str:
    """The raw responses as CSV; cells a spreadsheet would run as a formula are quoted (``csv_cell``)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=RESPONSES_HEADER, lineterminator="\n")
    writer.writeheader()
    writer.writerows({key: csv_cell(value) for key, value in row.items()} for row in rows)
    return buffer.getvalue()
