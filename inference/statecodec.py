"""Prepared engine state to bytes and back, without pickle (states are stored with photos).

A state is a tree of dataclass instances (of types the loader allows), dicts with string keys,
lists, tuples, strings, numbers, booleans, ``None`` and NumPy arrays of plain dtypes. The arrays
go into an uncompressed ``.npz`` (read back with ``allow_pickle=False``, one copy per array); the
tree goes in the same file as a JSON document. Loading builds only the dataclasses named in
``types``, so a stored file can never make the loader run arbitrary code.

Dataclass fields marked ``field(..., metadata={"transient": True})`` (locks, per-process render
caches) are not stored; they take their defaults when loaded.
"""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Iterable
from typing import Any

import numpy as np

FORMAT = 1
_TREE = "__tree__"


class StateFormatError(ValueError):
    """The bytes are not a state this loader can read (other format, unknown type, damage)."""


def transient(**kwargs: Any) -> Any:
    """A dataclass field that is not stored (it is rebuilt from its default when loaded)."""
    return dataclasses.field(metadata={"transient": True}, **kwargs)


def _type_name(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _encode(obj: Any, arrays: list[np.ndarray]) -> Any:
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            raise TypeError("arrays of Python objects cannot be stored in a prepared state")
        arrays.append(obj)
        return {"$array": len(arrays) - 1}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {"$type": _type_name(type(obj)),
                "fields": {f.name: _encode(getattr(obj, f.name), arrays)
                           for f in dataclasses.fields(obj) if not f.metadata.get("transient")}}
    if isinstance(obj, tuple):
        return {"$tuple": [_encode(v, arrays) for v in obj]}
    if isinstance(obj, list):
        return [_encode(v, arrays) for v in obj]
    if isinstance(obj, dict):
        if not all(isinstance(k, str) for k in obj):
            raise TypeError("only dicts with string keys can be stored in a prepared state")
        return {"$dict": {k: _encode(v, arrays) for k, v in obj.items()}}
    raise TypeError(f"a {type(obj).__name__} cannot be stored in a prepared state")


def dumps(state: Any) -> bytes:
    """``state`` as bytes (an uncompressed ``.npz`` holding its arrays and a JSON tree)."""
    arrays: list[np.ndarray] = []
    tree = json.dumps({"format": FORMAT, "root": _encode(state, arrays)}).encode()
    buffer = io.BytesIO()
    np.savez(buffer, **{_TREE: np.frombuffer(tree, np.uint8)},
             **{f"a{i}": np.ascontiguousarray(a) for i, a in enumerate(arrays)})
    return buffer.getvalue()


def _build(cls: type, values: dict[str, Any]) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(values) - set(fields)
    if unknown:
        raise StateFormatError(f"{cls.__name__} has no field(s) {', '.join(sorted(unknown))}")
    obj = cls(**{k: v for k, v in values.items() if fields[k].init})
    for name, value in values.items():
        if not fields[name].init:
            object.__setattr__(obj, name, value)
    return obj


def loads(data: bytes, types: Iterable[type]) -> Any:
    """The state stored by :func:`dumps`; dataclasses other than ``types`` are refused."""
    allowed = {_type_name(t): t for t in types}
    try:
        npz = np.load(io.BytesIO(data), allow_pickle=False)
        tree = json.loads(npz[_TREE].tobytes())
    except (OSError, ValueError, KeyError, EOFError) as exc:
        raise StateFormatError(f"not a stored engine state: {exc}") from None
    if tree.get("format") != FORMAT:
        raise StateFormatError(f"stored state format {tree.get('format')!r}, this code reads {FORMAT}")

    def decode(node: Any) -> Any:
        if isinstance(node, list):
            return [decode(v) for v in node]
        if not isinstance(node, dict):
            return node
        if "$array" in node:
            return npz[f"a{node['$array']}"]
        if "$tuple" in node:
            return tuple(decode(v) for v in node["$tuple"])
        if "$dict" in node:
            return {k: decode(v) for k, v in node["$dict"].items()}
        cls = allowed.get(node.get("$type"))
        if cls is None:
            raise StateFormatError(f"stored state holds a {node.get('$type')!r}, which is not allowed here")
        return _build(cls, {k: decode(v) for k, v in node["fields"].items()})

    try:
        return decode(tree["root"])
    except (KeyError, TypeError) as exc:
        raise StateFormatError(f"damaged stored state: {exc}") from None
