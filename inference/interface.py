"""What an engine is: its declaration (:class:`EngineSpec`), the :class:`Engine` and
:class:`InteractiveEngine` protocols, the user-facing input error and parameter checking.

This module imports nothing from the project, so the shared image helpers (``clicks``,
``segmentation``, ``compose``, ``render``) and the engine modules can all use it while
``inference.engines`` imports every engine explicitly: no import cycle through the registry.
``inference.engines`` re-exports everything here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

ProgressFn = Callable[[float], None]


class EngineInputError(ValueError):
    """Inputs or parameters an engine cannot accept; the message is shown to the user."""


@dataclass(frozen=True)
class EngineSpec:
    name: str
    version: str
    queue: str  # "gpu" for model engines, "cpu" for light ones
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    description: str = ""
    interactive: bool = False
    # Checks structured params (types check_params passes through, e.g. lists of points) and
    # returns them cleaned; raises EngineInputError. Not part of describe().
    check: Callable[[dict[str, Any]], dict[str, Any]] | None = field(default=None, compare=False, repr=False)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "queue": self.queue,
            "inputs": list(self.inputs),
            "outputs": list(self.outputs),
            "params": self.params,
            "description": self.description,
            "interactive": self.interactive,
        }


@runtime_checkable
class Engine(Protocol):
    """A named, versioned callable; created once per worker (``cls(**cfg)``) and kept warm."""

    spec: EngineSpec

    def run(self, inputs: dict[str, Any], params: dict[str, Any],
            progress: ProgressFn | None = None) -> dict[str, Any]: ...


@runtime_checkable
class InteractiveEngine(Engine, Protocol):
    """An engine with a per-image session, cached by the platform between click rounds.

    ``prepare`` does all click-independent work once per image and returns an opaque state;
    ``run_clicks`` does the incremental part for one round of clicks (in the original image's
    pixels): a working-resolution preview, or full resolution when ``full_image`` is given.
    """

    def prepare(self, image: np.ndarray, mask: np.ndarray | None = None) -> Any: ...

    def run_clicks(self, state: Any, clicks: Any, params: dict[str, Any],
                   full_image: np.ndarray | None = None) -> dict[str, Any]: ...


def run_clicks_as_job(engine: InteractiveEngine, image: np.ndarray, inputs: dict[str, Any],
                      params: dict[str, Any], progress: ProgressFn | None = None) -> dict[str, Any]:
    """An interactive engine run as one plain job: prepare the (checked) image, then one round of
    clicks at full resolution."""
    if "clicks" not in inputs:
        raise EngineInputError("clicks are required (an empty list is allowed)")
    state = engine.prepare(image, inputs.get("mask"))
    if progress:
        progress(0.5)
    out = engine.run_clicks(state, inputs.get("clicks"), params, full_image=image)
    if progress:
        progress(1.0)
    return out


@runtime_checkable
class StoredStateEngine(Protocol):
    """Optional for interactive engines: a prepared state that can be stored with the photo.

    The platform then prepares each photo once per engine version (in the background, after
    upload) and every session and full-resolution job on that photo, on any worker, loads the
    stored state instead of preparing again. ``load_state(dump_state(s))`` must give results
    identical to ``s``; :mod:`inference.statecodec` does it for dataclass states.
    """

    def dump_state(self, state: Any) -> bytes: ...

    def load_state(self, data: bytes) -> Any: ...


def validate_params(engine_spec: EngineSpec, params: dict[str, Any]) -> dict[str, Any]:
    """Check ``params`` against the spec's declared ranges (and its ``check``, if any); return them
    with defaults filled."""
    clean = check_params(engine_spec.params, params, engine_spec.name)
    return engine_spec.check(clean) if engine_spec.check else clean


def check_params(declared: Mapping[str, dict[str, Any]], params: dict[str, Any],
                 owner: str) -> dict[str, Any]:
    """Check ``params`` against ``declared``; return them with defaults filled.

    Each declared param is ``{"type": "float"|"int"|"bool"|"curve"|"str", "default", "min", "max"}``.
    Raises EngineInputError with a message naming the offending key (and ``owner`` for unknown keys).
    """
    if not isinstance(params, dict):
        raise EngineInputError("params must be an object")
    unknown = set(params) - set(declared)
    if unknown:
        raise EngineInputError(f"unknown parameter(s) for {owner}: {', '.join(sorted(unknown))}")
    out: dict[str, Any] = {}
    for key, decl in declared.items():
        value = params.get(key, decl.get("default"))
        kind = decl.get("type", "float")
        if kind in ("float", "int"):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise EngineInputError(f"parameter {key!r} must be a number")
            value = float(value) if kind == "float" else int(value)
            if value != value:  # NaN
                raise EngineInputError(f"parameter {key!r} must be a finite number")
            lo, hi = decl.get("min"), decl.get("max")
            if (lo is not None and value < lo) or (hi is not None and value > hi):
                raise EngineInputError(f"parameter {key!r} must lie in [{lo}, {hi}], got {value}")
        elif kind == "bool":
            if not isinstance(value, bool):
                raise EngineInputError(f"parameter {key!r} must be true or false")
        elif kind == "str":
            choices = decl.get("choices")
            if not isinstance(value, str) or (choices and value not in choices):
                raise EngineInputError(f"parameter {key!r} must be one of {choices}")
        elif kind == "curve":
            value = _validate_curve(key, value)
        out[key] = value
    return out


def _validate_curve(key: str, value: Any) -> list[list[float]]:
    if value is None:
        return []
    if not isinstance(value, list) or any(
        not isinstance(p, list | tuple) or len(p) != 2 for p in value
    ):
        raise EngineInputError(f"parameter {key!r} must be a list of [x, y] control points")
    points = []
    for x, y in value:
        if isinstance(x, bool) or isinstance(y, bool) or not isinstance(x, int | float) \
                or not isinstance(y, int | float):
            raise EngineInputError(f"parameter {key!r}: control points must be numbers")
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise EngineInputError(f"parameter {key!r}: control points must lie in [0, 1]")
        points.append([float(x), float(y)])
    xs = [p[0] for p in points]
    if len(set(xs)) != len(xs):
        raise EngineInputError(f"parameter {key!r}: control points need distinct x values")
    return sorted(points)
