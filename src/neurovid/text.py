"""Text rasterised with Pillow and the DejaVu fonts that matplotlib ships.

Fonts are looked up on disk without importing matplotlib (its import costs ~0.3 s per
render job). The same font file and Pillow version give the same pixels on every run.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont


@functools.cache
def _font_dir() -> Path | None:
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "mpl-data" / "fonts" / "ttf"
    return folder if folder.is_dir() else None


@functools.cache
def font(size_px: int, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans (bold or regular) at ``size_px`` pixels; Pillow's own font as a fallback."""
    folder = _font_dir()
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    if folder is not None and (folder / name).is_file():
        return ImageFont.truetype(str(folder / name), size_px)
    return ImageFont.load_default(size=size_px)


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
