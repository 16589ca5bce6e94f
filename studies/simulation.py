"""Simulated participants, and the retouching paper's user study for them to answer: 5 methods,
PPR10K-a/b/c × 50 items, every method pair per item (1,500 comparisons). The participants answer
through the participant API, in-process (``manage.py demo_study``, the vote benchmark's study)."""

from __future__ import annotations

import math

import numpy as np
from django.test import override_settings
from rest_framework.test import APIClient

from studies import setup
from studies.models import Output, Study, Trial

METHODS = ["HDRNet", "CSRNet", "3D LUT", "3D LUT HRP", "Ours"]
TRUE_LOG_STRENGTH = {"HDRNet": -0.6, "CSRNet": -0.3, "3D LUT": 0.0, "3D LUT HRP": 0.3, "Ours": 0.8}
SUBSETS = ["PPR10K-a", "PPR10K-b", "PPR10K-c"]
ITEMS_PER_SUBSET = 50
SIZE = 128

# Per-method tone shift (gain per channel, gamma, contrast): what distinguishes the "results".
_TONES = {
    "HDRNet": ((1.10, 1.00, 0.88), 0.85, 1.25),
    "CSRNet": ((0.95, 0.98, 1.05), 1.15, 1.05),
    "3D LUT": ((1.00, 1.04, 1.10), 0.95, 1.10),
    "3D LUT HRP": ((1.05, 1.02, 0.98), 0.92, 1.05),
    "Ours": ((1.03, 1.00, 0.97), 0.88, 1.08),
}


def _source(rng: np.random.Generator, base: np.ndarray, subset: int) -> np.ndarray:
    import cv2  # heavy; only building the demo study needs it

    h, w = base.shape[:2]
    size = int(rng.integers(200, 400))
    y, x = int(rng.integers(0, h - size)), int(rng.integers(0, w - size))
    crop = base[y:y + size, x:x + size]
    crop = cv2.resize(crop, (SIZE, int(SIZE * 1.25)), interpolation=cv2.INTER_AREA)
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    dim = 0.65 + 0.1 * subset + rng.normal(0, 0.05)
    cast = 1 + rng.normal(0, 0.05, 3)
    return np.clip(crop * dim * cast, 0, 1).astype(np.float32)


def _tone(rgb: np.ndarray, method: str) -> np.ndarray:
    gain, gamma, contrast = _TONES[method]
    out = np.clip(rgb * np.array(gain, dtype=np.float32) * 1.25, 0, 1) ** gamma
    out = (out - 0.5) * contrast + 0.5
    return np.clip(out, 0, 1).astype(np.float32)


def build_study(owner, *, participants: int, extra: int = 0, seed: int = 0, title: str | None = None) -> Study:
    from skimage import data  # heavy; only building the demo study needs it

    per = math.ceil(len(SUBSETS) * ITEMS_PER_SUBSET * 10 / max(1, participants or extra))
    study = setup.create_study(
        owner=owner, title=title or "Region-aware portrait retouching: user study (demo)", kind="pairwise",
        allow_tie=False, practice_trials=2, participants_wanted=participants + extra, trials_per_participant=per,
        attention_every=10, attention_threshold=0.75, seed=seed, min_width=900, min_height=560,
        speeder_ms=0)  # simulated participants answer at machine speed: no speed flags
    for m in METHODS:
        setup.add_method(study, m)
    base = data.astronaut().astype(np.float32) / 255.0
    rng = np.random.default_rng(seed)
    for s, subset in enumerate(SUBSETS):
        for k in range(ITEMS_PER_SUBSET):
            src = _source(rng, base, s)
            setup.add_item_arrays(study, name=f"{subset[-1]}-{k + 1:03d}", subset=subset, input_rgb=src,
                                     outputs={m: _tone(src, m) for m in METHODS}, seed=seed + k)
    setup.set_status(study, Study.Status.OPEN)
    return study


class SimulatedParticipant:
    """Answers through the participant API in-process (Django's test client against the real views).
    Its perception: B-T choices from the true strengths; it spots degraded copies 97 % of the time."""

    def __init__(self, client, study: Study, rng: np.random.Generator):
        self.client, self.study, self.rng = client, study, rng
        self.method_of = dict(Output.objects.filter(item__study=study).values_list("id", "method__name"))

    def run(self, max_trials: int = 100000) -> dict:
        url = f"/api/participate/{self.study.public_id}/join/"
        r = self.client.post(url, {"consent": True, "params": {"PROLIFIC_PID": f"sim{self.rng.integers(1e9)}"}},
                             format="json")
        assert r.status_code == 201, r.content
        headers = {"HTTP_X_PARTICIPANT_TOKEN": r.json()["participant_token"]}
        self.client.post("/api/participate/screen/", {"width": 1440, "height": 900, "dpr": 2,
                                                      "browser": "simulated"}, format="json", **headers)
        for _ in range(max_trials):
            trial = self.client.get("/api/participate/next/", **headers).json()
            if trial.get("done"):
                return trial
            choice = self.answer(trial["trial_id"])
            body = {"choice": choice, "idempotency_key": f"k-{trial['trial_id']}",
                    "elapsed_ms": int(self.rng.gamma(4, 400))}
            r = self.client.post(f"/api/participate/trials/{trial['trial_id']}/response/", body, format="json",
                                 **headers)
            assert r.status_code in (200, 201), r.content
        return {}

    def answer(self, public_id: str) -> str:
        trial = Trial.objects.only("left_id", "right_id", "degraded_side").get(public_id=public_id)
        if trial.degraded_side:
            good = "right" if trial.degraded_side == "left" else "left"
            return good if self.rng.random() < 0.97 else trial.degraded_side
        a = TRUE_LOG_STRENGTH[self.method_of[trial.left_id]]
        b = TRUE_LOG_STRENGTH[self.method_of[trial.right_id]]
        return "left" if self.rng.random() < 1 / (1 + math.exp(b - a)) else "right"


def simulate(study: Study, participants: int, seed: int = 0) -> list[dict]:
    """``participants`` simulated participants answer the study, one after the other. They all come from
    one address within seconds, so the join rate limits (meant for crowds) do not apply to them."""
    rng = np.random.default_rng(seed + 1)
    done = []
    with override_settings(STUDY_JOIN_RATE_PER_IP="0", STUDY_JOIN_RATE_GLOBAL="0"):
        for _ in range(participants):
            client = APIClient(HTTP_HOST="localhost")
            done.append(SimulatedParticipant(client, study, rng).run())
    return done
