"""Text rasterised with Pillow and the DejaVu Sans fonts shipped in ``neurovid/fonts/``.

The two font files (regular and bold, DejaVu 2.35, the files matplotlib ships) and their
licence (``fonts/LICENSE_DEJAVU``) travel with the package: the same font file and Pillow
version give the same pixels on every machine, whatever fonts the system or matplotlib has,
and no per-job import of matplotlib is needed to find them.
"""

from __future__ import annotations

import functools
import io
from importlib import resources

import numpy as np
from PIL import Image, ImageDraw, ImageFont

#: font files inside the package (``neurovid/fonts/``)
FONT_FILES = {False: "DejaVuSans.ttf", True: "DejaVuSans-Bold.ttf"}


@functools.cache
def font_bytes(bold: bool = False) -> bytes:
    """The shipped DejaVu Sans font file (regular or bold)."""
    return resources.files("neurovid").joinpath("fonts", FONT_FILES[bold]).read_bytes()


@functools.cache
def font(size_px: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    """DejaVu Sans (bold or regular) at ``size_px`` pixels."""
    return ImageFont.truetype(io.BytesIO(font_bytes(bold)), size_px)


class GlyphStrip:
    """Fast one-line text: glyphs rasterised once, then pasted side by side with numpy.

    For labels redrawn on every frame (slice positions); DejaVu's digits have equal
    advances, so numbers do not jitter from frame to frame.
    """

    def __init__(
        self, size_px: int, height_px: int, level: int = 255, lut: np.ndarray | None = None
    ) -> None:
        self.font = font(size_px)
        self.height = height_px
        self.level = level
        self.lut = lut  # applied to every glyph (e.g. to video-range luma)
        self._glyphs: dict[str, np.ndarray] = {}

    def glyph(self, char: str) -> np.ndarray:
        """The uint8 bitmap (height, advance) of ``char``."""
        if char not in self._glyphs:
            width = max(1, round(self.font.getlength(char)))
            image = Image.new("L", (width, self.height), 0)
            ImageDraw.Draw(image).text(
                (0, self.height / 2), char, fill=self.level, font=self.font, anchor="lm"
            )
            bitmap = np.asarray(image)
            self._glyphs[char] = self.lut[bitmap] if self.lut is not None else bitmap
        return self._glyphs[char]

    def width(self, text: str) -> int:
        """Width in pixels of ``text``."""
        return sum(self.glyph(char).shape[1] for char in text)

    def render(self, text: str) -> np.ndarray:
        """``text`` as a uint8 (height, width) bitmap."""
        if not text:
            return np.zeros((self.height, 0), dtype=np.uint8)
        return np.hstack([self.glyph(char) for char in text])
