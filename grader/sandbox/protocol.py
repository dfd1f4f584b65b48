"""The data-only format that crosses the sandbox boundary, in both directions.

Nothing decoded here can execute code: a message is a JSON document plus raw buffers for tensor
and array contents, every node is checked against a short list of plain types, and sizes and depth
are capped. The sandbox side uses the same encoder, so a student value that is not plain data
(a subclass, an object with a custom `__eq__`) is refused there with a clear message.
"""

from __future__ import annotations

import json
import math
import struct
from typing import Any

import numpy as np
import torch

HEADER = struct.Struct("!II")  # JSON length, buffer length
MAX_MESSAGE_BYTES = 32 * 1024 * 1024  # HW2 values are kilobytes; this bounds what a sandbox can make the worker hold
MAX_DEPTH = 32

_DTYPES: dict[str, tuple[torch.dtype, np.dtype]] = {
    name: (getattr(torch, name), np.dtype(name))
    for name in ("float64", "float32", "float16", "int64", "int32", "int16", "int8", "uint8", "bool",
                 "complex64", "complex128")
}
_TORCH_DTYPE_NAMES = {torch_dtype: name for name, (torch_dtype, _) in _DTYPES.items()}
_NUMPY_DTYPE_NAMES = {np_dtype: name for name, (_, np_dtype) in _DTYPES.items()}  # native byte order only
_NUMPY_SCALARS = {np.dtype(name).type for name in _DTYPES}
_JSON = json.JSONEncoder(allow_nan=False, separators=(",", ":"))  # made once: a message is encoded per call


class ProtocolError(ValueError):
    """A message that is malformed, too large or not plain data."""


class NotPlainData(ProtocolError):
    """A value of a type that may not cross the boundary; the message names it."""


def _encode(value: Any, blobs: list[bytes], size: list[int], depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise NotPlainData(f"nested more than {MAX_DEPTH} levels deep")
    kind = type(value)
    if value is None or kind in (bool, int, str):
        return value
    if kind is float:
        return value if math.isfinite(value) else {"$": "float", "v": repr(value)}
    if kind in (list, tuple):
        items = [_encode(v, blobs, size, depth + 1) for v in value]
        return items if kind is list else {"$": "tuple", "v": items}
    if kind is dict:
        return {"$": "dict", "v": [[_encode(k, blobs, size, depth + 1), _encode(v, blobs, size, depth + 1)]
                                   for k, v in value.items()]}
    if kind is torch.Tensor:
        name = _TORCH_DTYPE_NAMES.get(value.dtype)
        if value.layout != torch.strided or name is None:
            raise NotPlainData(f"a tensor of dtype {value.dtype} and layout {value.layout} is not supported")
        return _array_node("tensor", name, value.numpy(force=True), blobs, size)  # detached, on the CPU
    if kind is np.ndarray:
        name = array_dtype_name(value)
        if name is None:
            raise NotPlainData(f"an array of dtype {value.dtype} is not supported")
        return _array_node("ndarray", name, value, blobs, size)
    if kind in _NUMPY_SCALARS:
        return _encode(value.item(), blobs, size, depth + 1)
    raise NotPlainData(
        f"a value of type {kind.__module__}.{kind.__qualname__} is not plain data "
        "(return tensors, arrays, numbers, strings, tuples, lists or dicts)"
    )


def array_dtype_name(array: np.ndarray) -> str | None:
    return _NUMPY_DTYPE_NAMES.get(array.dtype)


def _array_node(tag: str, name: str, array: np.ndarray, blobs: list[bytes], size: list[int]) -> dict:
    data = array.tobytes()  # C order, whatever the array's strides
    size[0] += len(data)
    if size[0] > MAX_MESSAGE_BYTES:
        raise NotPlainData(f"the value is larger than {MAX_MESSAGE_BYTES >> 20} MiB")
    offset = sum(len(b) for b in blobs)
    blobs.append(data)
    return {"$": tag, "dtype": name, "shape": list(array.shape), "at": offset, "n": len(data)}


def encode(value: Any) -> bytes:
    """One framed message: header, JSON, buffers."""
    blobs: list[bytes] = []
    document = _JSON.encode(_encode(value, blobs, [0], 0)).encode()
    buffer = b"".join(blobs)
    if len(document) + len(buffer) > MAX_MESSAGE_BYTES:
        raise NotPlainData(f"the value is larger than {MAX_MESSAGE_BYTES >> 20} MiB")
    return HEADER.pack(len(document), len(buffer)) + document + buffer


def _decode(node: Any, buffer: memoryview, device: str, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise ProtocolError("message nested too deeply")
    if node is None or type(node) in (bool, int, str, float):
        return node
    if type(node) is list:
        return [_decode(v, buffer, device, depth + 1) for v in node]
    if type(node) is not dict:
        raise ProtocolError(f"unexpected JSON node {type(node).__name__}")
    tag = node.get("$")
    if tag == "tuple":
        return tuple(_decode(v, buffer, device, depth + 1) for v in _list(node["v"]))
    if tag == "dict":
        pairs = [_list(pair) for pair in _list(node["v"])]
        if any(len(pair) != 2 for pair in pairs):
            raise ProtocolError("malformed dict")
        decoded = {}
        for key, value in pairs:
            key = _decode(key, buffer, device, depth + 1)
            if type(key) not in (bool, int, str, float, tuple) and key is not None:
                raise ProtocolError("unhashable dict key")
            decoded[key] = _decode(value, buffer, device, depth + 1)
        return decoded
    if tag == "float":
        if node.get("v") not in ("nan", "inf", "-inf"):
            raise ProtocolError("malformed float")
        return float(node["v"])
    if tag in ("tensor", "ndarray"):
        return _decode_array(node, buffer, device, tag)
    raise ProtocolError(f"unknown node tag {tag!r}")


def _list(value: Any) -> list:
    if type(value) is not list:
        raise ProtocolError("expected a list")
    return value


def _decode_array(node: dict, buffer: memoryview, device: str, tag: str) -> Any:
    name, shape, at, n = node.get("dtype"), node.get("shape"), node.get("at"), node.get("n")
    if name not in _DTYPES or type(shape) is not list or type(at) is not int or type(n) is not int:
        raise ProtocolError("malformed array")
    if len(shape) > MAX_DEPTH or any(type(d) is not int or d < 0 for d in shape):
        raise ProtocolError("malformed array shape")
    torch_dtype, np_dtype = _DTYPES[name]
    if math.prod(shape) * np_dtype.itemsize != n or at < 0 or at + n > len(buffer):
        raise ProtocolError("array size does not match its buffer")
    array = np.frombuffer(buffer[at : at + n], dtype=np_dtype).reshape(shape).copy()
    if tag == "ndarray":
        return array
    tensor = torch.from_numpy(array)
    assert tensor.dtype == torch_dtype
    return tensor if device == "cpu" else tensor.to(device)


def decode(message: bytes, device: str = "cpu") -> Any:
    """The value of one framed message (as produced by `encode`), tensors placed on `device`."""
    if len(message) < HEADER.size:
        raise ProtocolError("message shorter than its header")
    doc_len, buf_len = HEADER.unpack_from(message)
    if HEADER.size + doc_len + buf_len != len(message):
        raise ProtocolError("message length does not match its header")
    body = memoryview(message)[HEADER.size :]
    try:
        document = json.loads(bytes(body[:doc_len]))
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(f"malformed JSON: {exc}") from exc
    try:
        return _decode(document, body[doc_len:], device, 0)
    except (KeyError, TypeError, RecursionError) as exc:
        raise ProtocolError(f"malformed message: {exc!r}") from exc


def message_length(header: bytes) -> int:
    """Total bytes that follow a header, refused above the cap before anything is read."""
    doc_len, buf_len = HEADER.unpack(header)
    if doc_len + buf_len > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"message of {doc_len + buf_len} bytes is over the limit")
    return doc_len + buf_len
