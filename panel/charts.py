"""Small bar charts drawn on the server as inline SVG (templates/includes/bar_chart.html).

No script and no CDN: the page's Content-Security-Policy allows neither, and a picture of thirty
bars does not need one. Geometry is computed here, colours come from classes in static CSS (the
policy forbids inline styles), and every chart carries its numbers as a table for screen readers.
Bars are grouped side by side, or stacked (`stacked=True`) to show parts of a whole per column.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

PLOT_HEIGHT = 120  # px, the height of the largest possible bar (the axis' top)
TOP = 16  # room above the plot for the failure marks
BOTTOM = 18  # room below it for the column labels
LEFT = 44  # room for the axis' labels
RIGHT = 8
BAR_WIDTH = 8
GAP = 6  # between columns
MOST_LABELS = 6  # column labels under the axis; the table has them all


@dataclass(frozen=True)
class Series:
    key: str
    label: str


@dataclass
class Column:
    """One job or one day: its values by series key (None: not recorded) and whether it failed."""

    label: str
    values: Mapping[str, float | None]
    note: str = ""
    failed: bool = False
    css: str = ""  # an extra class for its bars (e.g. the job's outcome)


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css: str
    title: str


@dataclass(frozen=True)
class Mark:
    x: float
    y: float
    text: str
    css: str = ""


@dataclass
class Chart:
    id: str
    title: str
    desc: str
    unit: str
    series: list[Series]
    columns: list[Column]
    stacked: bool = False
    column_heading: str = "Job"
    empty: str = "Nothing to draw yet."
    note_heading: str = "Outcome"
    legend: list[tuple[str, str]] = field(default_factory=list)  # (class of its swatch, label)
    width: float = 0
    height: float = TOP + PLOT_HEIGHT + BOTTOM
    top_value: float = 0
    bars: list[Bar] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    ticks: list[Mark] = field(default_factory=list)
    labels: list[Mark] = field(default_factory=list)

    @property
    def rows(self) -> list[dict[str, object]]:
        """The numbers drawn, for the table screen readers read."""
        return [
            {"label": c.label, "values": [number(c.values.get(s.key)) for s in self.series], "note": c.note}
            for c in self.columns
        ]

    @property
    def baseline(self) -> float:
        return TOP + PLOT_HEIGHT

    @property
    def plot_right(self) -> float:
        return self.width - RIGHT


def nice_top(value: float) -> float:
    """The axis' top: the smallest 1, 2, 2.5 or 5 times a power of ten at or above `value`."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 2.5, 5, 10) if step * power >= value - 1e-9)


def bar_height(value: float | None, top: float) -> float:
    return round(PLOT_HEIGHT * (value or 0) / top, 2)


def number(value: float | None) -> str:
    """How a value reads in titles, ticks and the table: at most one decimal, none when whole."""
    if value is None:
        return "—"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def bar_chart(
    *,
    id: str,
    title: str,
    desc: str,
    unit: str,
    series: list[Series],
    columns: list[Column],
    stacked: bool = False,
    column_heading: str = "Job",
    empty: str = "Nothing to draw yet.",
    note_heading: str = "Outcome",
    legend: list[tuple[str, str]] | None = None,
) -> Chart:
    """Lay out `columns` (oldest first, left to right), one bar per series in each."""
    chart = Chart(id, title, desc, unit, series, columns, stacked, column_heading, empty, note_heading)
    chart.legend = legend if legend is not None else [(f"series-{s.key}", s.label) for s in series]
    per_column = [list(c.values.get(s.key) or 0 for s in series) for c in columns]
    tallest = max((sum(v) if stacked else max(v, default=0) for v in per_column), default=0)
    chart.top_value = nice_top(tallest)
    step = BAR_WIDTH * (1 if stacked else len(series)) + GAP
    chart.width = LEFT + step * max(len(columns), 1) + RIGHT
    for n, column in enumerate(columns):
        x = LEFT + n * step + GAP / 2
        _column(chart, column, x)
        if column.failed:
            chart.marks.append(Mark(x + (step - GAP) / 2, TOP - 4, "✗", "chart-fail"))
    _axis(chart, step)
    return chart


def _column(chart: Chart, column: Column, x: float) -> None:
    floor = chart.baseline
    for n, s in enumerate(chart.series):
        value = column.values.get(s.key)
        height = bar_height(value, chart.top_value)
        left = x if chart.stacked else x + n * BAR_WIDTH
        note = f" ({column.note})" if column.note else ""
        title = f"{column.label}: {s.label} {number(value)} {chart.unit}{note}"
        css = " ".join(
            filter(None, ["bar", f"series-{s.key}", column.css, "failed" if column.failed else ""])
        )
        chart.bars.append(Bar(left, round(floor - height, 2), BAR_WIDTH, height, css, title))
        if chart.stacked:
            floor -= height


def _axis(chart: Chart, step: float) -> None:
    for fraction in (0, 0.5, 1):
        y = chart.baseline - PLOT_HEIGHT * fraction
        chart.ticks.append(Mark(LEFT - 4, y, f"{number(chart.top_value * fraction)} {chart.unit}"))
    every = max(1, math.ceil(len(chart.columns) / MOST_LABELS))
    for n, column in enumerate(chart.columns):
        if n % every == 0:
            chart.labels.append(Mark(LEFT + n * step + step / 2, chart.baseline + 13, column.label))
