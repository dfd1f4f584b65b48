"""The data-only format that crosses the sandbox boundary, in both directions.

Nothing decoded here can execute code: a message is a JSON document plus raw buffers for tensor
and array contents, every node is checked against a short list of plain types, and sizes and depth
are capped. What a message costs the receiver grows with its length only, whatever it holds: its
values are counted before the JSON is parsed, dict keys are strings (whose hashes a sender cannot
make collide), ints are short enough to become floats, and each buffer byte backs one array at
most. The sandbox side uses the same encoder, so a student value that is not plain data (a
subclass, an object with a custom `__eq__`, an int dict key) is refused there with a clear message.
"""

from __future__ import annotations

import json
import math
import re
import struct
from typing import Any

import numpy as np
import torch

HEADER = struct.Struct("!II")  # JSON length, buffer length
MAX_MESSAGE_BYTES = 32 * 1024 * 1024  # HW2 values are kilobytes; this bounds what a sandbox can make the worker hold
MAX_DEPTH = 32
MAX_ITEMS = 1 << 16  # values in one message (HW2 replies hold tens): bounds the objects decoding makes
MAX_INT_DIGITS = 300  # every such int converts to a float, so no check overflows on one
_INT_BOUND = 10**MAX_INT_DIGITS
_SURROGATE = re.compile("[\ud800-\udfff]")

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
    """A value of a type that may not cross the boundary; the message names it, as a noun phrase
    that completes "f() returned ..."."""


def _is_text(value: str) -> bool:
    """False for a string with a lone surrogate: JSON carries one (escaped), but nothing can
    print or store it as UTF-8."""
    return value.isascii() or _SURROGATE.search(value) is None


def _encode(value: Any, blobs: list[bytes], size: list[int], depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise NotPlainData(f"a value nested more than {MAX_DEPTH} levels deep")
    kind = type(value)
    if value is None or kind is bool:
        return value
    if kind is int:
        if -_INT_BOUND < value < _INT_BOUND:
            return value
        raise NotPlainData(f"an int with more than {MAX_INT_DIGITS} digits")
    if kind is str:
        if _is_text(value):
            return value
        raise NotPlainData("a string with a lone surrogate, which is not text")
    if kind is float:
        return value if math.isfinite(value) else {"$": "float", "v": repr(value)}
    if kind in (list, tuple):
        items = [_encode(v, blobs, size, depth + 1) for v in value]
        return items if kind is list else {"$": "tuple", "v": items}
    if kind is dict:
        for key in value:
            if type(key) is not str:
                raise NotPlainData(f"a dict with a key of type {type(key).__name__} (dict keys must be strings)")
        return {"$": "dict", "v": {_encode(k, blobs, size, depth + 1): _encode(v, blobs, size, depth + 1)
                                   for k, v in value.items()}}
    if kind is torch.Tensor:
        name = _TORCH_DTYPE_NAMES.get(value.dtype)
        if value.layout != torch.strided or name is None:
            raise NotPlainData(f"a tensor of dtype {value.dtype} and layout {value.layout}, which is not supported")
        try:
            array = value.numpy(force=True)  # detached, on the CPU
        except RuntimeError as exc:
            raise NotPlainData(f"a tensor that cannot be copied to the CPU ({exc})") from None
        return _array_node("tensor", name, array, blobs, size)
    if kind is np.ndarray:
        name = array_dtype_name(value)
        if name is None:
            raise NotPlainData(f"an array of dtype {value.dtype}, which is not supported")
        return _array_node("ndarray", name, value, blobs, size)
    if kind in _NUMPY_SCALARS:
        return _encode(value.item(), blobs, size, depth + 1)
    name = f"{kind.__module__}.{kind.__qualname__}"
    raise NotPlainData(
        f"a value of type {name}, and {name} is not plain data (return tensors, arrays, numbers, strings, "
        "tuples, lists or dicts)"
    )


def array_dtype_name(array: np.ndarray) -> str | None:
    return _NUMPY_DTYPE_NAMES.get(array.dtype)


def _array_node(tag: str, name: str, array: np.ndarray, blobs: list[bytes], size: list[int]) -> dict[str, Any]:
    data = array.tobytes()  # C order, whatever the array's strides
    offset = size[0]  # buffers follow each other in the order of the document
    size[0] += len(data)
    if size[0] > MAX_MESSAGE_BYTES:
        raise NotPlainData(f"a value larger than {MAX_MESSAGE_BYTES >> 20} MiB")
    blobs.append(data)
    return {"$": tag, "dtype": name, "shape": list(array.shape), "at": offset, "n": len(data)}


def _items(document: str) -> int:
    """At most how many values a JSON document holds: no more than its characters, and every one
    but the first follows a `[`, `{`, `,` or `:` (those in strings count too, which errs on the
    safe side). Counting costs a scan, parsing an object per value: a message is counted first."""
    if len(document) <= MAX_ITEMS:
        return len(document)
    return 1 + document.count("[") + document.count("{") + document.count(",") + document.count(":")


def encode(value: Any) -> bytes:
    """One framed message: header, JSON (ASCII: the encoder escapes the rest), buffers."""
    blobs: list[bytes] = []
    document = _JSON.encode(_encode(value, blobs, [0], 0))
    if _items(document) > MAX_ITEMS:
        raise NotPlainData(f"a value with more than {MAX_ITEMS} items (numbers, strings, lists, dicts); "
                           "return large data as a tensor")
    buffer = b"".join(blobs)
    if len(document) + len(buffer) > MAX_MESSAGE_BYTES:
        raise NotPlainData(f"a value larger than {MAX_MESSAGE_BYTES >> 20} MiB")
    return HEADER.pack(len(document), len(buffer)) + document.encode("ascii") + buffer


class _Buffers:
    """The message's array bytes, handed out in order: each byte backs one array at most, so a
    message cannot make the receiver copy more bytes than it sent."""

    def __init__(self, view: memoryview) -> None:
        self.view, self.offset = view, 0

    def take(self, at: int, n: int) -> memoryview:
        if at != self.offset or at + n > len(self.view):
            raise ProtocolError("array data out of order or past the end of the message")
        self.offset = at + n
        return self.view[at : at + n]


def _decode(node: Any, buffers: _Buffers, device: str, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise ProtocolError("message nested too deeply")
    kind = type(node)
    if node is None or kind in (bool, float):
        return node
    if kind is int:  # parsing one took linear time: CPython refuses more than 4,300 digits
        if -_INT_BOUND < node < _INT_BOUND:
            return node
        raise ProtocolError(f"an int with more than {MAX_INT_DIGITS} digits")
    if kind is str:
        if _is_text(node):
            return node
        raise ProtocolError("a string with a lone surrogate")
    if kind is list:
        return [_decode(v, buffers, device, depth + 1) for v in node]
    if kind is not dict:
        raise ProtocolError(f"unexpected JSON node {kind.__name__}")
    tag = node.get("$")
    if tag == "tuple":
        return tuple(_decode(v, buffers, device, depth + 1) for v in _list(node["v"]))
    if tag == "dict":
        entries = node["v"]
        if type(entries) is not dict:
            raise ProtocolError("malformed dict")
        return {_decode(k, buffers, device, depth + 1): _decode(v, buffers, device, depth + 1)
                for k, v in entries.items()}
    if tag == "float":
        if node.get("v") not in ("nan", "inf", "-inf"):
            raise ProtocolError("malformed float")
        return float(node["v"])
    if tag in ("tensor", "ndarray"):
        return _decode_array(node, buffers, device, tag)
    raise ProtocolError(f"unknown node tag {tag!r}")


def _list(value: Any) -> list[Any]:
    if type(value) is not list:
        raise ProtocolError("expected a list")
    return value


def _decode_array(node: dict[str, Any], buffers: _Buffers, device: str, tag: str) -> Any:
    name, shape, at, n = node.get("dtype"), node.get("shape"), node.get("at"), node.get("n")
    if name not in _DTYPES or type(shape) is not list or type(at) is not int or type(n) is not int:
        raise ProtocolError("malformed array")
    if len(shape) > MAX_DEPTH or any(type(d) is not int or not 0 <= d <= MAX_MESSAGE_BYTES for d in shape):
        raise ProtocolError("malformed array shape")
    torch_dtype, np_dtype = _DTYPES[name]
    if math.prod(shape) * np_dtype.itemsize != n:
        raise ProtocolError("array size does not match its buffer")
    array = np.frombuffer(buffers.take(at, n), dtype=np_dtype).reshape(shape).copy()
    if tag == "ndarray":
        return array
    tensor = torch.from_numpy(array)
    assert tensor.dtype == torch_dtype
    return tensor if device == "cpu" else tensor.to(device)


def decode(message: bytes, device: str = "cpu") -> Any:
    """The value of one framed message (as produced by `encode`), tensors placed on `device`.
    Anything malformed, however it fails, is a ProtocolError."""
    if len(message) < HEADER.size:
        raise ProtocolError("message shorter than its header")
    doc_len, buf_len = HEADER.unpack_from(message)
    if HEADER.size + doc_len + buf_len != len(message):
        raise ProtocolError("message length does not match its header")
    body = memoryview(message)[HEADER.size :]
    try:
        document = str(body[:doc_len], "ascii")
    except UnicodeDecodeError:
        raise ProtocolError("the JSON document is not ASCII") from None
    if _items(document) > MAX_ITEMS:
        raise ProtocolError(f"the message holds more than {MAX_ITEMS} items")
    try:
        return _decode(json.loads(document), _Buffers(body[doc_len:]), device, 0)
    except ProtocolError:
        raise
    except (ValueError, TypeError, KeyError, OverflowError, RecursionError) as exc:
        raise ProtocolError(f"malformed message: {exc!r}") from None


def message_length(header: bytes) -> int:
    """Total bytes that follow a header, refused above the cap before anything is read."""
    doc_len, buf_len = HEADER.unpack(header)
    total: int = doc_len + buf_len
    if total > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"message of {total} bytes is over the limit")
    return total
