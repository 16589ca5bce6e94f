"""Learned models, registered like the engines: one file per network, ``create(name, **args)``.

Each network is a :class:`inference.models.common.Model` (a ``torch.nn.Module`` that knows its
training loss and how to produce a full-resolution result) named after the engine that serves it.
A new model is one file here plus one line in :data:`MODELS` (and, to serve it, one line in
``inference/engines/learned.py``). Weights never live in the code: ``inference.modelstore`` keeps
them as safetensors under ``MODEL_DIR/<engine>/<version>/`` with a card, and builds the module from
here before loading them.

This package imports torch; the engine registry imports it only when a learned engine is loaded.
"""

from __future__ import annotations

from typing import Any

from inference.models.clicks import ClickNet
from inference.models.common import Model
from inference.models.harmonize import HarmonizeNet
from inference.models.lut import LutNet
from inference.models.params import ParamsNet

__all__ = ["MODELS", "Model", "build", "create", "model_class", "names"]

# The networks, by the engine name that serves them. A new model is imported above and added here.
MODELS: tuple[type[Model], ...] = (ParamsNet, LutNet, ClickNet, HarmonizeNet)

_REGISTRY = {cls.NAME: cls for cls in MODELS}


def names() -> list[str]:
    return sorted(_REGISTRY)


def model_class(name: str) -> type[Model]:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(names())}") from None


def create(name: str, **arguments: Any) -> Model:
    """A new, untrained ``name`` network built with ``arguments`` (its constructor's keywords)."""
    return model_class(name)(**arguments)


build = create  # what a card's "architecture" + "arguments" are loaded with
