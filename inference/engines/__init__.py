"""Engine registry, the timm way: one file per engine, ``create(name, **cfg)``.

An engine is a named, versioned callable with declared inputs and outputs. Image conventions
for every engine:

* ``image`` — float32 array H×W×3, sRGB-encoded, values in [0, 1].
* ``mask`` — float32 array H×W in [0, 1] (1 = foreground / person).
* ``clicks`` — list of ``{"x": float, "y": float, "positive": bool}`` in the given image's
  pixel coordinates.
* ``reference`` — ``{"box": [x0, y0, x1, y1]}`` in pixels or ``{"mask": H×W array}``.

Outputs are a dict of name → array (images in the same convention) plus optional JSON-able
``"info"``. Workers create each engine once and keep it warm; ``run`` must be safe to call
repeatedly. Models load weights from a path given in ``cfg``, never from the network.

Every engine is imported explicitly below and listed in :data:`ENGINES`: a misspelt or broken
engine module fails at import, it is never skipped. The interface types (:class:`EngineSpec`,
:class:`Engine`, :class:`InteractiveEngine`, :class:`EngineInputError`, :func:`validate_params`)
live in :mod:`inference.interface` and are re-exported here.
"""

from __future__ import annotations

from typing import Any

from inference import modelstore
from inference.engines.adjust import AdjustEngine
from inference.engines.background import BackgroundEngine
from inference.engines.blemish import BlemishEngine
from inference.engines.diagnostics import SleepEngine
from inference.engines.harmonize import HarmonizeEngine
from inference.engines.learned import LearnedClicks, LearnedHarmonize, LearnedLut, LearnedParams
from inference.engines.retouch import AutoRetouch, InteractiveRetouch
from inference.interface import (
    Engine,
    EngineInputError,
    EngineSpec,
    InteractiveEngine,
    ProgressFn,
    validate_params,
)

__all__ = ["ENGINES", "Engine", "EngineInputError", "EngineSpec", "InteractiveEngine", "ProgressFn",
           "create", "is_learned", "names", "resolve_version", "spec", "validate_params", "versions"]

# The engines the platform offers. A new engine is imported above and added here.
ENGINES: tuple[type[Engine], ...] = (
    AdjustEngine,
    AutoRetouch,
    InteractiveRetouch,
    HarmonizeEngine,
    SleepEngine,
    BackgroundEngine,
    BlemishEngine,
    LearnedParams,
    LearnedLut,
    LearnedClicks,
    LearnedHarmonize,
)


def _index(classes: tuple[type[Engine], ...]) -> dict[str, type[Engine]]:
    registry: dict[str, type[Engine]] = {}
    for cls in classes:
        name = cls.spec.name
        if name in registry:
            raise ValueError(f"engine {name!r} is declared by both {registry[name].__name__} "
                             f"and {cls.__name__}")
        registry[name] = cls
    return registry


_REGISTRY = _index(ENGINES)


def names() -> list[str]:
    return sorted(_REGISTRY)


def _engine_class(name: str) -> type[Engine]:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown engine {name!r}; known: {', '.join(names())}") from None


def spec(name: str) -> EngineSpec:
    return _engine_class(name).spec


def create(name: str, **cfg: Any) -> Engine:
    """A new instance of engine ``name``; ``cfg`` is the worker's configuration (e.g. weights_dir)."""
    return _engine_class(name)(**cfg)


def is_learned(name: str) -> bool:
    """Whether ``name`` serves trained weights from the model directory (several versions)."""
    return bool(getattr(_engine_class(name), "learned", False))


def versions(name: str, model_dir: str | None) -> list[str]:
    """The versions a worker can run: a classical engine's one, or the trained ones in ``model_dir``."""
    if is_learned(name):
        return modelstore.versions(model_dir, name)
    return [spec(name).version]


def resolve_version(name: str, version: str | None, model_dir: str | None) -> str:
    """The version a job on ``name`` will run (``version``, or the newest); EngineInputError with a
    message for the user when it does not exist (e.g. no trained weights)."""
    if not is_learned(name):
        current = spec(name).version
        if version not in (None, current):
            raise EngineInputError(f"engine {name!r} has only version {current!r}, not {version!r}")
        return current
    try:
        return modelstore.resolve(model_dir, name, version)
    except modelstore.ModelNotFound as exc:
        raise EngineInputError(str(exc)) from None
