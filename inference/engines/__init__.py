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
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

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


class Engine(Protocol):
    spec: EngineSpec

    def run(self, inputs: dict[str, Any], params: dict[str, Any],
            progress: ProgressFn | None = None) -> dict[str, Any]: ...


_REGISTRY: dict[str, tuple[EngineSpec, Callable[..., Engine]]] = {}

# Modules that register engines on import. New engines add their module here.
_ENGINE_MODULES = (
    "inference.engines.adjust",
    "inference.engines.retouch",
    "inference.engines.harmonize",
    "inference.engines.diagnostics",
)
_loaded = False


def register(spec: EngineSpec):
    """Class decorator: register an engine class (constructed as ``cls(spec=spec, **cfg)``)."""

    def wrap(factory):
        if spec.name in _REGISTRY:
            raise ValueError(f"engine {spec.name!r} registered twice")
        _REGISTRY[spec.name] = (spec, factory)
        factory.spec = spec
        return factory

    return wrap


def _load_all() -> None:
    global _loaded
    if _loaded:
        return
    for module in _ENGINE_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            # An engine module not written yet is simply absent; a broken import inside one is not.
            if exc.name != module:
                raise
    _loaded = True


def names() -> list[str]:
    _load_all()
    return sorted(_REGISTRY)


def spec(name: str) -> EngineSpec:
    _load_all()
    try:
        return _REGISTRY[name][0]
    except KeyError:
        raise KeyError(f"unknown engine {name!r}; known: {', '.join(sorted(_REGISTRY))}") from None


def create(name: str, **cfg: Any) -> Engine:
    _load_all()
    engine_spec, factory = _REGISTRY[name] if name in _REGISTRY else (spec(name), None)
    return factory(spec=engine_spec, **cfg)


def validate_params(engine_spec: EngineSpec, params: dict[str, Any]) -> dict[str, Any]:
    """Check ``params`` against the spec's declared ranges; return them with defaults filled.

    Each declared param is ``{"type": "float"|"int"|"bool"|"curve"|"str", "default", "min", "max"}``.
    Raises EngineInputError with a message naming the offending key.
    """
    if not isinstance(params, dict):
        raise EngineInputError("params must be an object")
    unknown = set(params) - set(engine_spec.params)
    if unknown:
        raise EngineInputError(
            f"unknown parameter(s) for {engine_spec.name}: {', '.join(sorted(unknown))}")
    out: dict[str, Any] = {}
    for key, decl in engine_spec.params.items():
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
