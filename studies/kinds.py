"""Study kinds: everything that differs between a pairwise and a ranking study, one class per kind.

A kind decides which trials a participant is dealt (``practice_trial``, ``block``, ``adaptive``),
how a trial's images are chosen and stored (``fill_trial``), what the participant page gets for a
trial (``payload``) and which front-end module draws it (``page_module``), what a valid answer is
(``read_answer``), what an attention check expects (``attention_passed``) and how an answer becomes
pairwise outcomes for the analysis (``outcomes``). Everything else (joining, the vote path, exports)
asks the study's kind through ``of(study)`` and never compares kind names.

Adding a kind: a class here registered in ``KINDS``, and its front-end module under
``frontend/static/js/`` (the interface is described in ``study-kind-pairwise.js``). The model field's
choices come from ``CHOICES`` (run ``makemigrations``: Django records choices).

This module is imported by ``studies.models`` (for ``CHOICES``), so it loads nothing heavy at import.
"""

from __future__ import annotations

from collections.abc import Callable

from webapp.refusal import Refusal

# (item id, method id) → (output id, image path, degraded image path)
Outputs = Callable[[int, int], tuple[int, str, str]]


def _scheduling():
    """``studies.scheduling``, imported on first use: it loads scipy (through studies.analysis), and
    studies.models imports this module for the kind choices."""
    from studies import scheduling

    return scheduling


class StudyKind:
    name: str
    label: str
    page_module: str  # static path of the participant page's module for this kind's trials

    def adaptive(self, study) -> bool:
        """True when trials are chosen one at a time (``participation.next_trial``), not dealt at join."""
        return False

    def practice_trial(self, item: int, methods: list[int], study, check: bool = False) -> dict:
        """A practice trial on ``item`` from ``methods`` in random order; ``check``: one result is a
        degraded copy (as in attention checks), so the practice answer has a right answer the page
        can give feedback on."""
        raise NotImplementedError

    def practice_expected(self, trial) -> dict | None:
        """The right answer of a practice check (``practice_trial(check=True)``), for the page's
        feedback; None for other trials."""
        return None

    def block(self, study, methods: list[int], items: list[int], slot: int) -> list[dict]:
        """The trials dealt to participant ``slot`` when joining (attention checks included)."""
        raise NotImplementedError

    def fill_trial(self, trial, spec: dict, outputs: Outputs) -> list[tuple[str, str]]:
        """Set the trial's outputs from a trial spec; returns its images as (role, stored path)."""
        raise NotImplementedError

    def payload(self, trial, study, urls: dict[str, str]) -> dict:
        """The kind's part of ``GET /api/participate/next/`` (image URLs by role in ``urls``)."""
        raise NotImplementedError

    def read_answer(self, body: dict, allow_tie: bool, n_candidates: int) -> tuple[str, list | None]:
        """(choice, order) from a vote's body; raises a Refusal when the answer is not valid."""
        raise NotImplementedError

    def attention_passed(self, degraded_side: str, choice: str, order: list | None) -> bool:
        raise NotImplementedError

    def outcomes(self, choice: str, order: list | None, left: int | None, right: int | None,
                 candidates: list[int]) -> list[tuple[int, int, bool]]:
        """An answer as pairwise outcomes over output ids: (winner, loser, tie)."""
        raise NotImplementedError


class Pairwise(StudyKind):
    """Two results side by side (2AFC, or with "no preference" when ties are allowed)."""

    name, label = "pairwise", "Pairwise A/B"
    page_module = "js/study-kind-pairwise.js"

    def adaptive(self, study) -> bool:
        return study.schedule == "adaptive"

    def practice_trial(self, item, methods, study, check=False):
        if check:  # methods come in random order: which side is degraded is random too
            degraded = _scheduling().DEGRADED
            left, right = (degraded, methods[0]) if methods[0] < methods[1] else (methods[0], degraded)
            return dict(item=item, left=left, right=right, attention=False)
        return dict(item=item, left=methods[0], right=methods[1], attention=False)

    def practice_expected(self, trial):
        if not (trial.practice and trial.degraded_side):
            return None
        return {"choice": "right" if trial.degraded_side == "left" else "left"}

    def block(self, study, methods, items, slot):
        if self.adaptive(study):
            return []  # dealt one at a time by participation.next_trial
        return _scheduling().pairwise_block(methods, items, slot, study.participants_wanted,
                                         study.trials_per_participant, study.attention_every, study.seed)

    def fill_trial(self, trial, spec, outputs):
        degraded_copy = _scheduling().DEGRADED
        item, left, right = spec["item"], spec["left"], spec["right"]
        if degraded_copy not in (left, right):
            trial.left_id, left_path, _ = outputs(item, left)
            trial.right_id, right_path, _ = outputs(item, right)
            return [("left", left_path), ("right", right_path)]
        trial.degraded_side = "left" if left == degraded_copy else "right"
        output_id, image, degraded = outputs(item, right if left == degraded_copy else left)
        trial.left_id = trial.right_id = output_id
        return [("left", degraded if trial.degraded_side == "left" else image),
                ("right", degraded if trial.degraded_side == "right" else image)]

    def payload(self, trial, study, urls):
        return {"left_url": urls["left"], "right_url": urls["right"], "allow_tie": study.allow_tie,
                "expected": self.practice_expected(trial)}

    def read_answer(self, body, allow_tie, n_candidates):
        choice = body.get("choice")
        allowed = ("left", "right", "tie") if allow_tie else ("left", "right")
        if choice not in allowed:
            raise Refusal(f"choice must be one of {', '.join(allowed)}.")
        return choice, None

    def attention_passed(self, degraded_side, choice, order):
        return choice in ("left", "right") and choice != degraded_side

    def outcomes(self, choice, order, left, right, candidates):
        winner, loser = (right, left) if choice == "right" else (left, right)
        return [(winner, loser, choice == "tie")]


class Ranking(StudyKind):
    """K results (``rank_k``) ordered from best to worst; one ranking is K(K-1)/2 pairwise outcomes."""

    name, label = "ranking", "Ranking of K results"
    page_module = "js/study-kind-ranking.js"

    def practice_trial(self, item, methods, study, check=False):
        candidates = methods[:self.k(study, methods)]
        if check:  # one candidate (at a random place: methods come in random order) is degraded
            at = methods[0] % len(candidates)
            candidates = [*candidates[:at], (_scheduling().DEGRADED, candidates[at]), *candidates[at + 1:]]
        return dict(item=item, candidates=candidates, attention=False)

    def practice_expected(self, trial):
        if not (trial.practice and trial.degraded_side):
            return None
        return {"worst": int(trial.degraded_side)}

    @staticmethod
    def k(study, methods: list[int]) -> int:
        return max(2, min(study.rank_k, len(methods)))

    def block(self, study, methods, items, slot):
        return _scheduling().ranking_block(methods, items, slot, study.trials_per_participant, study.rank_k,
                                        study.attention_every, study.seed)

    def fill_trial(self, trial, spec, outputs):
        rows, ids = [], []
        for k, candidate in enumerate(spec["candidates"]):
            if isinstance(candidate, tuple):  # (DEGRADED, method): a degraded copy of that method's output
                output_id, _, path = outputs(spec["item"], candidate[1])
                trial.degraded_side = str(k)
            else:
                output_id, path, _ = outputs(spec["item"], candidate)
            ids.append(output_id)
            rows.append((f"c{k}", path))
        trial.candidates = ids
        return rows

    def payload(self, trial, study, urls):
        return {"candidates": [urls[f"c{k}"] for k in range(len(trial.candidates))],
                "expected": self.practice_expected(trial)}

    def read_answer(self, body, allow_tie, n_candidates):
        order = body.get("order")
        if not isinstance(order, list) or any(type(o) is not int for o in order) \
                or sorted(order) != list(range(n_candidates)):
            raise Refusal(f"order must list each candidate index 0..{n_candidates - 1} once, best first.")
        return "", order

    def attention_passed(self, degraded_side, choice, order):
        return bool(order) and str(order[-1]) == degraded_side

    def outcomes(self, choice, order, left, right, candidates):
        ranked = [candidates[k] for k in order]
        return [(ranked[a], ranked[b], False) for a in range(len(ranked)) for b in range(a + 1, len(ranked))]


KINDS: dict[str, StudyKind] = {kind.name: kind for kind in (Pairwise(), Ranking())}
CHOICES = [(kind.name, kind.label) for kind in KINDS.values()]
PAIRWISE = Pairwise.name


def of(study) -> StudyKind:
    """The kind of a study (or of a kind name)."""
    return KINDS[study if isinstance(study, str) else study.kind]
