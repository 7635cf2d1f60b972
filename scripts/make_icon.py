"""Draws the SegStudio application icon (resources/icons/segstudio-<N>.png, segstudio.ico).

The picture is drawn programmatically (no external artwork): a rounded tile holding a tiny
street scene cut into flat class-coloured segments (sky, buildings, tree, road, car) with white
segment boundaries and a brush tip — what the app does. Drawn once at 1024 px and downsampled
with a Lanczos filter per size, so small sizes stay crisp. Re-run after changing the design:

    python3 scripts/make_icon.py
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter

SIZES = (16, 24, 32, 48, 64, 128, 256)
OUT = Path(__file__).resolve().parents[1] / "resources" / "icons"
S = 1024  # master canvas

SKY = (79, 172, 236)
BUILDING = (141, 110, 170)
TREE = (102, 187, 106)
ROAD = (96, 102, 112)
LANE = (236, 239, 241)
CAR = (255, 193, 7)
FRAME = (38, 50, 56)
EDGE = (255, 255, 255)


def _scene() -> Image.Image:
    """The segmented street scene filling the master canvas (before rounding)."""
    img = Image.new("RGB", (S, S), SKY)
    d = ImageDraw.Draw(img)
    horizon = int(S * 0.56)
    # buildings: a skyline of blocks on the left and right
    for x0, x1, top in ((0, 190, 300), (170, 330, 210), (310, 430, 360),
                        (640, 760, 330), (740, 880, 240), (860, S, 290)):
        d.rectangle((x0, top, x1, horizon), fill=BUILDING)
    # a tree: round crown and trunk
    d.ellipse((420, 250, 640, 470), fill=TREE)
    d.rectangle((515, 440, 545, horizon), fill=TREE)
    # road: a trapezoid in perspective
    d.polygon([(0, S), (S, S), (S * 0.62, horizon), (S * 0.38, horizon)], fill=ROAD)
    d.rectangle((0, horizon, S * 0.38, S), fill=ROAD)
    d.rectangle((S * 0.62, horizon, S, S), fill=ROAD)
    # lane marking
    d.polygon([(S * 0.48, S), (S * 0.52, S), (S * 0.505, horizon), (S * 0.495, horizon)], fill=LANE)
    # car
    d.rounded_rectangle((90, 640, 380, 820), radius=40, fill=CAR)
    d.rounded_rectangle((150, 570, 320, 660), radius=30, fill=CAR)
    return img


def _boundaries(img: Image.Image, width: int) -> Image.Image:
    """White segment boundaries: pixels whose colour differs from a neighbour's."""
    shifted = [ImageChops.offset(img, dx, dy) for dx, dy in ((1, 0), (0, 1))]
    diff = Image.new("L", img.size, 0)
    for sh in shifted:
        diff = ImageChops.lighter(diff, ImageChops.difference(img, sh).convert("L"))
    edge = diff.point(lambda v: 255 if v > 8 else 0)
    return edge.filter(ImageFilter.MaxFilter(width | 1))


def master() -> Image.Image:
    scene = _scene()
    edges = _boundaries(scene, 13)
    scene.paste(Image.new("RGB", scene.size, EDGE), mask=edges)
    # brush tip in the lower right corner painting the road
    d = ImageDraw.Draw(scene)
    d.ellipse((700, 720, 900, 920), outline=EDGE, width=26)
    d.ellipse((780, 800, 820, 840), fill=EDGE)

    tile = Image.new("RGBA", (S, S), (0, 0, 0, 0))
    mask = Image.new("L", (S, S), 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, S - 1, S - 1), radius=200, fill=255)
    frame = Image.new("RGBA", (S, S), FRAME + (255,))
    tile.paste(frame, mask=mask)
    inner = Image.new("L", (S, S), 0)
    ImageDraw.Draw(inner).rounded_rectangle((64, 64, S - 65, S - 65), radius=140, fill=255)
    tile.paste(scene, mask=inner)
    return tile


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    big = master()
    images = []
    for size in SIZES:
        im = big.resize((size, size), Image.LANCZOS)
        im.save(OUT / f"segstudio-{size}.png", optimize=True)
        images.append(im)
    images[-1].save(OUT / "segstudio.ico", sizes=[(s, s) for s in SIZES])
    print("wrote", ", ".join(sorted(p.name for p in OUT.iterdir())))


if __name__ == "__main__":
    main()
