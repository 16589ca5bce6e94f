"""Simulated participants for a "Compare in a study" study (``manage.py demo_loop``, the tests).

Their taste: the closer a method's results are to the expert's targets (mean ΔE76 on the val split,
from the run's evaluation), the more they like it — log-strength ``−ΔE / 4`` — and the expert's own
targets have ΔE 0. Otherwise they are ``studies.simulation.SimulatedParticipant`` (the participant API
in-process, attention checks spotted 97 % of the time).
"""

from __future__ import annotations

import math

import numpy as np
from django.test import override_settings
from rest_framework.test import APIClient

from studies.models import Trial
from studies.simulation import SimulatedParticipant
from webapp.registry.models import StudyComparison, TrainingRun

DELTA_E_SCALE = 4.0


def strengths(comparison: StudyComparison) -> dict[str, float]:
    metrics = comparison.run.metrics
    known = {"input": metrics.get("input", {}).get("delta_e"), "expert": 0.0}
    out = {}
    for m in comparison.methods:
        if m["kind"] == "model":
            run = TrainingRun.objects.get(pk=m["run"]) if "run" in m else comparison.run
            delta_e = run.metrics.get("model", {}).get("delta_e")
        elif m["kind"] == "engine":
            delta_e = metrics.get(m["engine"], {}).get("delta_e")
        else:
            delta_e = known[m["kind"]]
        out[m["name"]] = -(delta_e if delta_e is not None else 10.0) / DELTA_E_SCALE
    return out


class ExpertMindedParticipant(SimulatedParticipant):
    def __init__(self, client, study, rng, strength: dict[str, float]):
        super().__init__(client, study, rng)
        self.strength = strength

    def answer(self, public_id: str) -> str:
        trial = Trial.objects.only("left_id", "right_id", "degraded_side").get(public_id=public_id)
        if trial.degraded_side:
            good = "right" if trial.degraded_side == "left" else "left"
            return good if self.rng.random() < 0.97 else trial.degraded_side
        a = self.strength[self.method_of[trial.left_id]]
        b = self.strength[self.method_of[trial.right_id]]
        return "left" if self.rng.random() < 1 / (1 + math.exp(b - a)) else "right"


def answer(comparison: StudyComparison, participants: int, seed: int = 0) -> None:
    """``participants`` simulated participants answer the (open) study, one after the other."""
    rng = np.random.default_rng(seed + 1)
    strength = strengths(comparison)
    with override_settings(STUDY_JOIN_RATE_PER_IP="0", STUDY_JOIN_RATE_GLOBAL="0"):
        for _ in range(participants):
            ExpertMindedParticipant(APIClient(HTTP_HOST="localhost"), comparison.study, rng, strength).run()
