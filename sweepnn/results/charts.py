"""Small text charts for the terminal: learning curves as lines of characters, importances as bars.

A few dozen lines of our own rather than a plotting library: the output is plain text that is the
same on every terminal, in a Markdown code block and in a test's expected string, and `sweepnn show`
needs only two chart kinds. Each series is drawn with its own character (the trial's rank), the best
last so that it stays on top where curves cross.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from sweepnn.results.tables import fmt


def line_chart(
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    width: int = 60,
    height: int = 11,
    x_label: str = "epoch",
) -> list[str]:
    """Curves over epochs 1..n, each (marker, values), best first. Returns the chart's lines."""
    series = [(m, [v for v in ys if math.isfinite(v)]) for m, ys in series]
    series = [(m, ys) for m, ys in series if ys]
    if not series:
        return []
    values = [v for _, ys in series for v in ys]
    lo, hi = min(values), max(values)
    if hi == lo:  # a flat curve still needs a scale: centre it
        lo, hi = lo - 0.5 * (abs(lo) or 1), hi + 0.5 * (abs(hi) or 1)
    n = max(len(ys) for _, ys in series)
    width = width if n > 1 else 1
    grid = [[" "] * width for _ in range(height)]
    for marker, ys in reversed(series):
        for col in range(width):
            x = col * (n - 1) / (width - 1) if width > 1 else 0.0  # 0-based epoch under this column
            if x > len(ys) - 1 + 1e-9:
                break
            i = min(int(x), len(ys) - 1)
            v = ys[i] if i + 1 >= len(ys) else ys[i] + (ys[i + 1] - ys[i]) * (x - i)
            row = round((v - lo) / (hi - lo) * (height - 1))
            grid[height - 1 - row][col] = marker
    ticks = {r: fmt(hi - r / (height - 1) * (hi - lo)) for r in (0, (height - 1) // 2, height - 1)}
    pad = max(map(len, ticks.values()))
    lines = [
        (f"{ticks[r]:>{pad}} ┤" if r in ticks else f"{'':>{pad}} │") + "".join(grid[r]) for r in range(height)
    ]
    lines.append(f"{'':>{pad}} └" + "─" * width)
    right = f"{n} {x_label}"
    lines.append(f"{'':>{pad}}  1" + right.rjust(width - 1) if width > len(right) + 1 else f"{'':>{pad}}  1")
    return [line.rstrip() for line in lines]


def bar_chart(items: Sequence[tuple[str, float]], *, width: int = 30) -> list[str]:
    """One bar per (name, value >= 0), longest for the largest value, the value printed after it."""
    if not items:
        return []
    top = max(v for _, v in items) or 1.0
    pad = max(len(name) for name, _ in items)
    lines = []
    for name, v in items:
        bar = "█" * round(v / top * width)
        lines.append(f"{name:<{pad}}  {bar:<{width}}  {v:.3f}")
    return lines
