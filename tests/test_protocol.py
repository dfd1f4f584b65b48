"""The data-only codec: plain values round-trip exactly, anything else is refused, and malformed
bytes from a sandbox raise ProtocolError rather than anything worse."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from grader.sandbox.protocol import HEADER, NotPlainData, ProtocolError, decode, encode


def test_plain_values_round_trip_with_types_and_dtypes():
    value = {
        "tensor": torch.arange(12, dtype=torch.float64).reshape(3, 4).T,  # not contiguous
        "float32": torch.ones(2, dtype=torch.float32),
        "bools": torch.tensor([True, False]),
        "array": np.arange(6, dtype=np.int32).reshape(2, 3),
        3: (1, 2.5, None, True, "text", [1, [2, (3,)]]),
        "special": [math.inf, -math.inf],
        "numpy scalar": np.float64(1.5),
    }
    back = decode(encode(value))
    assert torch.equal(back["tensor"], value["tensor"]) and back["tensor"].dtype == torch.float64
    assert back["float32"].dtype == torch.float32 and back["bools"].dtype == torch.bool
    assert isinstance(back["array"], np.ndarray) and back["array"].dtype == np.int32
    assert back[3] == (1, 2.5, None, True, "text", [1, [2, (3,)]]) and isinstance(back[3], tuple)
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


@pytest.mark.parametrize("message", [
    b"\x00\x01",
    HEADER.pack(10, 0) + b"{}",
    frame({"$": "pickle", "v": "cos\nsystem\n"}),
    frame({"$": "tensor", "dtype": "object", "shape": [1], "at": 0, "n": 8}, b"\0" * 8),
    frame({"$": "tensor", "dtype": "float64", "shape": [4], "at": 0, "n": 32}, b"\0" * 8),
    frame({"$": "tensor", "dtype": "float64", "shape": [-1], "at": 0, "n": 8}, b"\0" * 8),
    frame({"$": "dict", "v": [[[1], 2]]}),
    frame({"$": "float", "v": "__import__('os')"}),
    HEADER.pack(3, 0) + b"[[[",
])
def test_malformed_messages_raise_protocol_error(message):
    with pytest.raises(ProtocolError):
        decode(message)
