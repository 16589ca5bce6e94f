"""The engine registry (inference/engines/__init__.py): explicit, loud, and honest about sessions."""

from __future__ import annotations

import pytest

from inference import engines
from inference.engines.adjust import AdjustEngine


def test_names_are_the_listed_engines():
    assert engines.names() == sorted(cls.spec.name for cls in engines.ENGINES)
    assert {"adjust", "background.replace", "diagnostics.sleep", "harmonize", "retouch.auto",
            "retouch.blemish", "retouch.interactive"} <= set(engines.names())


@pytest.mark.parametrize("name", engines.names())
def test_every_engine_keeps_the_protocols_it_declares(name):
    engine = engines.create(name, weights_dir="/nonexistent")  # workers pass their configuration
    assert isinstance(engine, engines.Engine)
    assert engine.spec is engines.spec(name) and engine.spec.name == name
    # Sessions are offered for engines whose spec says interactive; the click worker then needs
    # the session API, so the flag and the protocol must agree.
    assert engine.spec.interactive == isinstance(engine, engines.InteractiveEngine)


def test_interactive_engines():
    assert [n for n in engines.names() if engines.spec(n).interactive] == ["retouch.clicks", "retouch.interactive"]


def test_unknown_engine_names_the_known_ones():
    with pytest.raises(KeyError, match="unknown engine 'ajdust'; known: adjust, background.replace, diagnostics.sleep"):
        engines.create("ajdust")
    with pytest.raises(KeyError, match="unknown engine 'ajdust'"):
        engines.spec("ajdust")


def test_two_engines_with_one_name_are_refused():
    class Twin(AdjustEngine):
        pass

    with pytest.raises(ValueError, match="engine 'adjust' is declared by both AdjustEngine and Twin"):
        engines._index((AdjustEngine, Twin))
