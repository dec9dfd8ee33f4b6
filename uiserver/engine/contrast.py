"""WCAG 2.x relative luminance and contrast ratio (WCAG 1.4.3, 1.4.6, 1.4.11)."""

from __future__ import annotations

from functools import lru_cache


def _channel(value: int) -> float:
    c = value / 255.0
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


@lru_cache(maxsize=4096)
def relative_luminance(hex_colour: str) -> float:
    """Relative luminance of `#RRGGBB` as WCAG defines it (sRGB, linearised)."""
    h = hex_colour.lstrip("#")
    if len(h) != 6:
        raise ValueError(f"not a #RRGGBB colour: {hex_colour!r}")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast_ratio(foreground: str, background: str) -> float:
    """(L1 + 0.05) / (L2 + 0.05) with L1 the lighter: 1.0 to 21.0."""
    a, b = relative_luminance(foreground), relative_luminance(background)
    hi, lo = (a, b) if a >= b else (b, a)
    return (hi + 0.05) / (lo + 0.05)
