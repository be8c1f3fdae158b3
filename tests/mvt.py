"""A small Mapbox Vector Tile reader for the tests (points only, as the incident tiles hold)."""

from __future__ import annotations

from typing import Any


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def _fields(buf: bytes) -> list[tuple[int, Any]]:
    out: list[tuple[int, Any]] = []
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            val, i = _varint(buf, i)
        elif wire == 2:
            size, i = _varint(buf, i)
            val, i = buf[i:i + size], i + size
        elif wire == 1:
            val, i = buf[i:i + 8], i + 8
        elif wire == 5:
            val, i = buf[i:i + 4], i + 4
        else:  # pragma: no cover
            raise ValueError(f"wire type {wire}")
        out.append((num, val))
    return out


def _packed(buf: bytes) -> list[int]:
    vals, i = [], 0
    while i < len(buf):
        v, i = _varint(buf, i)
        vals.append(v)
    return vals


def _value(buf: bytes) -> Any:
    import struct

    (num, val), = _fields(buf)
    if num == 1:
        return val.decode()
    if num == 2:
        return struct.unpack("<f", val)[0]
    if num == 3:
        return struct.unpack("<d", val)[0]
    if num in (4, 5):
        return val if val < 2 ** 63 else val - 2 ** 64
    if num == 6:
        return (val >> 1) ^ -(val & 1)
    return bool(val)


def decode(tile: bytes) -> dict[str, list[dict[str, Any]]]:
    """Layer name → features, each ``{"id", "x", "y", "props"}`` (x, y in tile units)."""
    layers: dict[str, list[dict[str, Any]]] = {}
    for num, layer in _fields(tile):
        if num != 3:
            continue
        parts = _fields(layer)
        name = next(v.decode() for n, v in parts if n == 1)
        keys = [v.decode() for n, v in parts if n == 3]
        values = [_value(v) for n, v in parts if n == 4]
        feats = []
        for n, feat in parts:
            if n != 2:
                continue
            f = dict.fromkeys(("id",), None) | {"props": {}}
            for fn, fv in _fields(feat):
                if fn == 1:
                    f["id"] = fv
                elif fn == 2:
                    tags = _packed(fv)
                    f["props"] = {keys[tags[k]]: values[tags[k + 1]]
                                  for k in range(0, len(tags), 2)}
                elif fn == 4:
                    geom = _packed(fv)
                    assert geom[0] & 7 == 1 and geom[0] >> 3 == 1  # one MoveTo: a point
                    zz = [(v >> 1) ^ -(v & 1) for v in geom[1:3]]
                    f["x"], f["y"] = zz
            feats.append(f)
        layers[name] = feats
    return layers
