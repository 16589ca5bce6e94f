"""Exports beyond CSV/JSON: a LaTeX table in the style of Table III of the retouching paper. Every name
in it (methods, subsets, the study's title) is escaped (``_tex``); votes.csv escapes formulas
(``studies.analysis.data.csv_cell``)."""

from __future__ import annotations

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
