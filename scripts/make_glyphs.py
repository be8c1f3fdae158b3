"""Write the base map's label glyphs (signed-distance-field glyph PBFs).

The format is what MapLibre GL JS asks for at ``glyphs: ".../{fontstack}/{range}.pbf"``,
made from Debian's DejaVu fonts (``fonts-dejavu-core``; Bitstream Vera / DejaVu licence,
free to redistribute, copied to ``static/glyphs/LICENSE``). The output is committed, so
the app serves it with no font tool and no CDN at run time; run this again only to add a
range or a font::

    .venv/bin/python scripts/make_glyphs.py

Each glyph is drawn at 24 px with Pillow (FreeType), turned into a distance field with
scipy's Euclidean distance transform (radius 8, cutoff 0.25, a 3 px border: the
parameters MapLibre's own renderer uses) and written as the glyphs protobuf by hand.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
from PIL import ImageFont
from scipy.ndimage import distance_transform_edt

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONTS = {"DejaVu Sans": "DejaVuSans.ttf", "DejaVu Sans Oblique": "DejaVuSans-Oblique.ttf"}
RANGES = (0, 256, 8192)  # Latin-1, Latin Extended-A, general punctuation (’ – …)
OUT = Path(__file__).resolve().parent.parent / "locmap" / "web" / "static" / "glyphs"
SIZE, BUFFER, RADIUS, CUTOFF = 24, 3, 8.0, 0.25


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _key(field: int, wire: int) -> bytes:
    return _varint(field << 3 | wire)


def _bytes(field: int, data: bytes) -> bytes:
    return _key(field, 2) + _varint(len(data)) + data


def _uint(field: int, n: int) -> bytes:
    return _key(field, 0) + _varint(n)


def _sint(field: int, n: int) -> bytes:
    return _key(field, 0) + _varint((n << 1) ^ (n >> 63))


def sdf(alpha: np.ndarray) -> bytes:
    """The distance field of a glyph's coverage (0..1), with a BUFFER-pixel border."""
    a = np.pad(alpha, BUFFER)
    inside = a > 0.5
    if inside.any():
        d_out = distance_transform_edt(~inside) - 0.5
    else:
        d_out = np.full(a.shape, RADIUS)
    d_in = distance_transform_edt(inside) - 0.5
    d = np.where(inside, -d_in, d_out)
    edge = (a > 0) & (a < 1)
    d = np.where(edge, 0.5 - a, d)
    v = np.clip(np.round(255 - 255 * (d / RADIUS + CUTOFF)), 0, 255).astype(np.uint8)
    return v.tobytes()


def glyph(font: ImageFont.FreeTypeFont, code: int) -> bytes | None:
    ch = chr(code)
    if code < 32:  # control characters
        return None
    advance = round(font.getlength(ch))
    mask, (left, top) = font.getmask2(ch, mode="L", anchor="ls")
    w, h = mask.size
    msg = _uint(1, code)
    if w and h:
        alpha = np.asarray(mask, dtype=np.float64).reshape(h, w) / 255.0
        msg += _bytes(2, sdf(alpha))
    msg += _uint(3, w) + _uint(4, h) + _sint(5, left) + _sint(6, -top - SIZE) + _uint(7, advance)
    return msg


def write(name: str, path: Path) -> None:
    font = ImageFont.truetype(str(path), SIZE, layout_engine=ImageFont.Layout.BASIC)
    folder = OUT / name
    folder.mkdir(parents=True, exist_ok=True)
    for start in RANGES:
        end = start + 255
        made = (glyph(font, c) for c in range(start, end + 1))
        glyphs = b"".join(_bytes(3, g) for g in made if g)
        stack = _bytes(1, name.encode()) + _bytes(2, f"{start}-{end}".encode()) + glyphs
        (folder / f"{start}-{end}.pbf").write_bytes(_bytes(1, stack))


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, file in FONTS.items():
        write(name, FONT_DIR / file)
    shutil.copy("/usr/share/doc/fonts-dejavu-core/copyright", OUT / "LICENSE")
    print(f"glyphs written to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
