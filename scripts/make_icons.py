"""Draw locmap's PNG icons (192 and 512 px, the pin of static/icons/locmap.svg) for the web
app manifest: `python scripts/make_icons.py` (Pillow; the PNGs are committed).
"""

from pathlib import Path

from PIL import Image, ImageDraw

ICONS = Path(__file__).resolve().parent.parent / "locmap/web/static/icons"


def icon(size: int, path: str) -> None:
    k = 4  # supersample, then shrink: smooth edges
    s = size * k / 512
    im = Image.new("RGBA", (size * k, size * k), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    d.rounded_rectangle([0, 0, size * k - 1, size * k - 1], radius=96 * s, fill="#1d3557")
    # The pin: a circle of radius 120 at (256, 216) and a point at (256, 416).
    d.ellipse([136 * s, 96 * s, 376 * s, 336 * s], fill="#ffffff")
    d.polygon([(145 * s, 262 * s), (367 * s, 262 * s), (256 * s, 416 * s)], fill="#ffffff")
    d.ellipse([208 * s, 168 * s, 304 * s, 264 * s], fill="#1d3557")
    im.resize((size, size), Image.LANCZOS).save(path, optimize=True)


if __name__ == "__main__":
    for n in (192, 512):
        icon(n, str(ICONS / f"locmap-{n}.png"))
