"""Study kinds (studies/kinds.py): each is complete where it must be, and turns answers into outcomes."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.staticfiles import finders

from studies import kinds


@pytest.mark.parametrize("name", list(kinds.KINDS))
def test_every_kind_has_its_front_end_module_and_is_a_model_choice(name):
    from studies.models import Study

    kind = kinds.of(name)
    module = finders.find(kind.page_module)
    assert module, kind.page_module
    assert (kind.name, kind.label) in Study._meta.get_field("kind").choices
    text = Path(module).read_text(encoding="utf-8")
    assert all(f"export function {f}" in text for f in ("keyHints", "trialView")) and "export const heading" in text


def test_answers_become_pairwise_outcomes():
    pairwise, ranking = kinds.of("pairwise"), kinds.of("ranking")
    assert pairwise.outcomes("left", None, 11, 12, []) == [(11, 12, False)]
    assert pairwise.outcomes("right", None, 11, 12, []) == [(12, 11, False)]
    assert pairwise.outcomes("tie", None, 11, 12, []) == [(11, 12, True)]
    assert ranking.outcomes("", [2, 0, 1], None, None, [21, 22, 23]) == [(23, 21, False), (23, 22, False),
                                                                        (21, 22, False)]
    assert pairwise.attention_passed("left", "right", None) and not pairwise.attention_passed("left", "left", None)
    assert ranking.attention_passed("1", "", [0, 2, 1]) and not ranking.attention_passed("1", "", [1, 0, 2])
