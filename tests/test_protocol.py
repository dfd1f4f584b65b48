"""The data-only codec: plain values round-trip exactly, anything else is refused, and malformed
bytes from a sandbox raise ProtocolError rather than anything worse."""

from __future__ import annotations

import json
import math
import tracemalloc

import numpy as np
import pytest
import torch

from grader.sandbox.protocol import HEADER, MAX_ITEMS, NotPlainData, ProtocolError, decode, encode


def test_plain_values_round_trip_with_types_and_dtypes():
    value = {
        "tensor": torch.arange(12, dtype=torch.float64).reshape(3, 4).T,  # not contiguous
        "float32": torch.ones(2, dtype=torch.float32),
        "bools": torch.tensor([True, False]),
        "array": np.arange(6, dtype=np.int32).reshape(2, 3),
        "tuple": (1, 2.5, None, True, "text \u00e9 \U0001F600", [1, [2, (3,)]], -10**299),
        "special": [math.inf, -math.inf],
        "numpy scalar": np.float64(1.5),
    }
    back = decode(encode(value))
    assert torch.equal(back["tensor"], value["tensor"]) and back["tensor"].dtype == torch.float64
    assert back["float32"].dtype == torch.float32 and back["bools"].dtype == torch.bool
    assert isinstance(back["array"], np.ndarray) and back["array"].dtype == np.int32
    assert back["tuple"] == value["tuple"] and isinstance(back["tuple"], tuple)
    assert back["special"] == [math.inf, -math.inf]
    assert back["numpy scalar"] == 1.5 and type(back["numpy scalar"]) is float
    assert math.isnan(decode(encode(float("nan"))))


def test_gradients_are_dropped_and_the_sender_keeps_its_tensor():
    leaf = torch.ones(3, requires_grad=True)
    back = decode(encode(leaf * 2))
    assert not back.requires_grad and torch.equal(back, torch.full((3,), 2.0))


class Subclass(torch.Tensor):
    pass


@pytest.mark.parametrize("value, name", [
    (torch.zeros(2).as_subclass(Subclass), "Subclass"),
    (torch.nn.Parameter(torch.zeros(2)), "Parameter"),
    (object(), "object"),
    (lambda: 0, "function"),
    ({1, 2}, "set"),
    (torch.zeros(2).to_sparse(), "layout"),
    (np.array(["a"]), "dtype <U1"),
    pytest.param({1: "a"}, "dict keys must be strings", id="an int dict key"),
    pytest.param({(1, 2): "a"}, "dict keys must be strings", id="a tuple dict key"),
    pytest.param(10**300, "an int with more than 300 digits", id="an int of 301 digits"),
    pytest.param(-10**5000, "an int with more than 300 digits", id="an int of 5001 digits"),
    pytest.param("\ud800", "lone surrogate", id="a lone surrogate"),
    pytest.param(torch.empty(2, device="meta"), "cannot be copied", id="a tensor without data"),
    pytest.param(list(range(MAX_ITEMS)), f"more than {MAX_ITEMS} items", id="too many items"),
])
def test_values_that_are_not_plain_data_are_refused(value, name):
    with pytest.raises(NotPlainData, match=name):
        encode(value)


def test_nesting_depth_is_capped():
    deep: list = []
    for _ in range(100):
        deep = [deep]
    with pytest.raises(NotPlainData, match="nested"):
        encode(deep)


def frame(document: object, buffer: bytes = b"") -> bytes:
    body = json.dumps(document).encode()
    return HEADER.pack(len(body), len(buffer)) + body + buffer


def raw(document: bytes, buffer: bytes = b"") -> bytes:
    return HEADER.pack(len(document), len(buffer)) + document + buffer


MALFORMED = {
    "shorter than its header": b"\x00\x01",
    "shorter than its header says": HEADER.pack(10, 0) + b"{}",
    "unknown tag": frame({"$": "pickle", "v": "cos\nsystem\n"}),
    "unknown dtype": frame({"$": "tensor", "dtype": "object", "shape": [1], "at": 0, "n": 8}, b"\0" * 8),
    "shape larger than its data": frame({"$": "tensor", "dtype": "float64", "shape": [4], "at": 0, "n": 32}, b"\0" * 8),
    "negative shape": frame({"$": "tensor", "dtype": "float64", "shape": [-1], "at": 0, "n": 8}, b"\0" * 8),
    "list as a dict key": frame({"$": "dict", "v": [[[1], 2]]}),
    "code as a float": frame({"$": "float", "v": "__import__('os')"}),
    "truncated JSON": raw(b"[[["),
    "empty array of absurd shape": frame({"$": "tensor", "dtype": "float64", "shape": [2**62, 0], "at": 0, "n": 0}),
    "empty array of absurder shape": frame({"$": "ndarray", "dtype": "float64", "shape": [10**30, 0], "at": 0, "n": 0}),
    "int as a dict key": frame({"$": "dict", "v": [[1, 2]]}),
    "int too large for a float": raw(b"9" * 400),
    "lone surrogate escaped": raw(b'"\\ud800"'),
    "lone surrogate in UTF-8": raw(b'"\xed\xa0\x80"'),
    "UTF-16": raw('"\u00e9"'.encode("utf-16-le")),
    "two arrays sharing bytes": frame([{"$": "ndarray", "dtype": "uint8", "shape": [4], "at": 0, "n": 4}] * 2, b"abcd"),
    "array ahead of its bytes": frame({"$": "ndarray", "dtype": "uint8", "shape": [2], "at": 2, "n": 2}, b"abcd"),
}


@pytest.mark.parametrize("message", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_messages_raise_protocol_error(message):
    with pytest.raises(ProtocolError):
        decode(message)


def colliding_int_keys(count: int) -> bytes:
    """A reply whose dict keys all hash alike (hash(n) is n mod 2**61 - 1), which makes building
    the dict quadratic in their number."""
    pairs = ",".join(f"[{i * ((1 << 61) - 1)},0]" for i in range(1, count + 1))
    return raw(f'{{"$":"dict","v":[["ok",{{"$":"dict","v":[{pairs}]}}]]}}'.encode())


def test_dict_keys_that_hash_alike_are_refused():
    with pytest.raises(ProtocolError):
        decode(colliding_int_keys(20_000))  # fewer values than the cap: refused for what the keys are


SIZE = 4 << 20
ARRAY_OF_1_MIB = b'{"$":"ndarray","dtype":"uint8","shape":[1048576],"at":0,"n":1048576}'


@pytest.mark.parametrize("message", [
    pytest.param(raw(b"[" + b"[]," * (SIZE // 3) + b"[]]"), id="empty lists"),
    pytest.param(raw(b"[" + b"{}," * (SIZE // 3) + b"{}]"), id="empty objects"),
    pytest.param(raw(b'["' + b'ab","' * (SIZE // 5) + b'ab"]'), id="short strings"),
    pytest.param(raw(b"[" + b",".join([ARRAY_OF_1_MIB] * 64) + b"]", b"\0" * (1 << 20)), id="arrays sharing a buffer"),
])
def test_a_forged_reply_costs_at_most_a_small_multiple_of_its_size(message):
    """Decoding is refused, or succeeds, without holding more than 8 bytes per byte received."""
    tracemalloc.start()
    try:
        decode(message)
    except ProtocolError:
        pass
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak <= 8 * len(message), f"{peak / len(message):.1f} bytes held per byte received"
