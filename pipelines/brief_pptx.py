"""The brief as one 16:9 PowerPoint slide (python-pptx), with the same content as the PDF page.

The slide holds: the title and data date, the headline scorecard as a real PowerPoint table (grouped by
Every Child Matters outcome), the exceptions table, the ward map picture with its key, the legend, and
a footer with the method note, suppression note, release and attribution. The speaker notes repeat
every note in full (and the exceptions with any commentary) for whoever presents it.

PowerPoint grows table rows to fit their text, so heights here are estimates with room to spare; the
type is made smaller when there are many indicators. python-pptx writes all text as text (XML-escaped),
so free text is never read as markup.
"""
from __future__ import annotations

import io
import math
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.enum.text import MSO_ANCHOR, PP_ALIGN
from pptx.util import Inches, Pt

from pipelines import charts, config
from pipelines.brief_text import attribution, clean_text, date_text, method_note, suppression_note

SLIDE_W, SLIDE_H = Inches(13.333), Inches(7.5)
LEFT = 0.35
TABLE_W = 8.35
RIGHT_X = 8.95
RIGHT_W = 4.05
BODY_TOP = 1.4
FOOTER_TOP = 6.42

ACCENT = RGBColor(0x0B, 0x3D, 0x91)
INK = RGBColor(0x1A, 0x1A, 0x1A)
MUTED = RGBColor(0x55, 0x55, 0x55)
WHITE = RGBColor(0xFF, 0xFF, 0xFF)
GROUP_BG = RGBColor(0xE8, 0xEE, 0xF6)
ROW_BG = RGBColor(0xFF, 0xFF, 0xFF)
WITHHELD_BG = RGBColor(0xE6, 0xE6, 0xE6)
RAG_TINT = {"green": RGBColor(0xCC, 0xEF, 0xE5), "amber": RGBColor(0xFB, 0xEB, 0xC6), "red": RGBColor(0xF7, 0xD6, 0xC2)}

SCORE_COLS = [("Indicator", 2.8, False), ("Period", 0.62, False), ("Value", 0.6, True),
              ("95% interval", 1.06, True), ("England", 0.66, True), ("RAG", 0.76, False),
              ("Direction of travel", 1.2, False), ("Quartile", 0.65, False)]
SCORE_COLS_ONE_PERIOD = [("Indicator", 3.0, False), ("Value", 0.6, True), ("95% interval", 1.06, True),
                         ("England", 0.66, True), ("RAG", 0.76, False), ("Direction of travel", 1.55, False),
                         ("Quartile", 0.72, False)]
FONT = "Arial"


def _rgb(hex_colour: str) -> RGBColor:
    return RGBColor.from_string(hex_colour.lstrip("#").upper())


def _text(frame, runs, *, size: float, colour=INK, align=None, bold=False, new_paragraph=False):
    """Write runs [(text, {bold, colour, size})] into a text frame (the first paragraph, or a new one)."""
    para = frame.add_paragraph() if new_paragraph else frame.paragraphs[0]
    para.font.size = Pt(size)  # the paragraph's own size too: an empty line or end mark is not 18 pt tall
    if align is not None:
        para.alignment = align
    for item in runs if isinstance(runs, list) else [(runs, {})]:
        text, fmt = item
        run = para.add_run()
        run.text = clean_text(text)
        run.font.name = FONT
        run.font.size = Pt(fmt.get("size", size))
        run.font.bold = fmt.get("bold", bold)
        run.font.color.rgb = fmt.get("colour", colour)
    return para


def _box(slide, x, y, w, h, *, wrap=True, anchor=MSO_ANCHOR.TOP):
    shape = slide.shapes.add_textbox(Inches(x), Inches(y), Inches(w), Inches(h))
    tf = shape.text_frame
    tf.word_wrap = wrap
    tf.vertical_anchor = anchor
    for side in ("margin_left", "margin_right", "margin_top", "margin_bottom"):
        setattr(tf, side, Inches(0.02))
    return shape, tf


def _cell(cell, runs, *, size, colour=INK, fill=None, align=None, bold=False, extra=None):
    tf = cell.text_frame
    tf.word_wrap = True
    cell.margin_left = cell.margin_right = Inches(0.04)
    cell.margin_top = cell.margin_bottom = Inches(0.02)
    cell.vertical_anchor = MSO_ANCHOR.MIDDLE
    _text(tf, runs, size=size, colour=colour, align=align, bold=bold)
    if extra:
        _text(tf, extra, size=size * 0.85, colour=MUTED, align=align, new_paragraph=True)
    cell.fill.solid()
    cell.fill.fore_color.rgb = fill or ROW_BG


#: Liberation Sans has Arial's metrics (LibreOffice draws Arial with it): text is measured with it.
MEASURE_FONTS = (Path("/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf"),
                 Path("/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf"))


@lru_cache(maxsize=1)
def _measure_font():
    from PIL import ImageFont

    for path in MEASURE_FONTS:
        if path.is_file():
            return ImageFont.truetype(str(path), 100)
    return None


@lru_cache(maxsize=65536)
def _width_pt(text: str, size: float) -> float:
    """Width of text in points at `size` (Arial metrics, 6% to spare for bold runs); 0.56 em per
    character where Liberation Sans is not installed."""
    font = _measure_font()
    if font is None:
        return len(text) * size * 0.56
    # Symbols Liberation Sans lacks (◆) are drawn from a fallback font: measure every symbol as a wide "M".
    return font.getlength(text.translate(_WIDE)) * size / 100 * 1.06


_WIDE = {ord(c): "M" for c in "●◆■□━▲▼►…"}


@lru_cache(maxsize=65536)
def _lines(text: str, width_in: float, size: float) -> int:
    """Lines a text takes in a cell `width_in` wide once word-wrapped (cell margins allowed for)."""
    room = (width_in - 0.09) * 72
    count, line = 1, ""
    for word in str(text).split():
        candidate = f"{line} {word}" if line else word
        if _width_pt(candidate, size) <= room:
            line = candidate
            continue
        if line:
            count += 1
        count += int(_width_pt(word, size) // room) if room > 0 else 0
        line = word
    return count


def _row_height(cells: list[tuple[str, float]], size: float, extra: tuple[str, float] | None = None) -> float:
    """Estimated height (inches) of a table row: its tallest cell, at 1.2 line spacing plus margins."""
    lines = max(_lines(t, w, size) for t, w in cells) * size
    if extra is not None:
        first = _lines(cells[0][0], cells[0][1], size) * size + _lines(extra[0], extra[1], size * 0.85) * size * 0.85
        lines = max(lines, first)
    return lines * 1.2 / 72 + 0.07


def _score_cols(data) -> list[tuple[str, float, bool]]:
    """The slide's scorecard columns; without Period when every indicator has the same one (the subtitle
    names it), giving its width to the indicator names."""
    if len({r.period for r in data.rows}) <= 1:
        return SCORE_COLS_ONE_PERIOD
    return SCORE_COLS


class Mode(NamedTuple):
    """How the slide is set: type size, unit lines under names, legend under the exceptions (else under
    the map), exceptions as one line (details in the notes), indicator names cut to one line, and the
    scorecard split over two side-by-side tables (many indicators)."""

    size: float
    units: bool = True
    legend_left: bool = False
    compact: bool = False
    clamp: bool = False
    split: bool = False


#: The half-width tables of a split scorecard (inches; two of them and a gap make TABLE_W).
SPLIT_GAP = 0.15
SPLIT_COLS = [("Indicator", 1.03, False), ("Value", 0.45, True), ("95% interval", 0.84, True),
              ("England", 0.49, True), ("RAG", 0.59, False), ("Direction", 0.55, False), ("Q", 0.15, False)]


def _cols(data, mode: Mode) -> list[tuple[str, float, bool]]:
    return SPLIT_COLS if mode.split else _score_cols(data)


def _name(row, width: float, size: float, clamp: bool) -> str:
    """The indicator's title as shown; cut to fit one line after its id (with …) when clamped."""
    title = row.title
    if not clamp or _lines(f"{row.indicator_id} {title}", width, size) == 1:
        return title
    lo, hi = 0, len(title)  # the longest cut that fits on one line, by bisection
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _lines(f"{row.indicator_id} {title[:mid]}…", width, size) == 1:
            lo = mid
        else:
            hi = mid - 1
    return title[:lo].rstrip(" ,;:-") + "…"


def _cell_texts(row, cols, mode: Mode) -> list[str]:
    """The row's cell texts for these columns (the split tables use the short forms their key explains)."""
    texts = {"Indicator": f"{row.indicator_id} {_name(row, cols[0][1], mode.size, mode.clamp)}", "Period": row.period,
             "Value": row.value, "95% interval": row.interval, "England": row.england, "RAG": row.rag_text,
             "Direction of travel": row.direction_text, "Quartile": row.quartile_text,
             "Direction": _short_direction(row.direction_text),
             "Q": row.quartile_text.split(" ")[0]}
    if mode.split:
        texts["95% interval"] = row.interval.replace(" to ", "–")
    return [texts[n] for n, _, _ in cols]


def _short_direction(text: str) -> str:
    """'▲ Worse', '▼ Better', '► Same' (the split tables' short forms, explained in their key)."""
    if text.startswith("►"):
        return "► Same"
    return text.replace("Worsening", "Worse").replace("Improving", "Better")


def _score_lines(data) -> list[tuple[str, object]]:
    """The scorecard as table lines: ('group', outcome) and ('row', Row), in order."""
    lines: list[tuple[str, object]] = []
    for outcome, group in data.groups:
        lines.append(("group", outcome))
        lines += [("row", r) for r in group]
    return lines


def _line_heights(data, mode: Mode) -> tuple[float, list[float]]:
    """(header row height, one height per scorecard line), estimated, at this mode."""
    cols = _cols(data, mode)
    width = sum(w for _, w, _ in cols)
    widths = [w for _, w, _ in cols]
    head = _row_height([(n, w) for n, w, _ in cols], mode.size * 0.92)
    heights = []
    for kind, item in _score_lines(data):
        if kind == "group":
            heights.append(_row_height([(str(item), width)], mode.size))
        else:
            unit = (_unit(item), widths[0]) if mode.units else None
            heights.append(_row_height(list(zip(_cell_texts(item, cols, mode), widths)), mode.size, unit))
    return head, heights


def _split_at(heights: list[float], kinds: list[str]) -> int:
    """Where the second table starts: the most even split that does not leave an outcome heading last."""
    total, best, best_k, run = sum(heights), None, len(heights), 0.0
    for k in range(1, len(heights) + 1):
        run += heights[k - 1]
        if kinds[k - 1] == "group" and k < len(heights):
            continue
        worst = max(run, total - run)
        if best is None or worst < best:
            best, best_k = worst, k
    return best_k


def _score_height(data, mode: Mode) -> float:
    head, heights = _line_heights(data, mode)
    if not data.rows:
        return head + _row_height([("This release has no indicators.", TABLE_W)], mode.size)
    if not mode.split:
        return head + sum(heights)
    k = _split_at(heights, [kind for kind, _ in _score_lines(data)])
    return head + max(sum(heights[:k]), sum(heights[k:]))


def _unit(row) -> str:
    return f"{row.unit}; {row.polarity_text}" if row.unit else row.polarity_text


def _exception_cols(data) -> list[tuple[str, float, bool]]:
    if data.has_commentary:
        return [("Indicator", 2.55, False), ("Value", 0.7, True), ("England", 0.7, True), ("Direction", 1.15, False),
                ("Quartile", 0.75, False), ("Commentary", 2.5, False)]
    return [("Indicator", 4.0, False), ("Value", 0.8, True), ("England", 0.75, True),
            ("Direction of travel", 1.9, False), ("Quartile", 0.9, False)]


def _exception_texts(data, e) -> list[str]:
    texts = [f"{e.indicator_id} {e.title} ({e.period})", f"{charts.RAG_SYMBOLS['red']} {e.value}", e.england,
             e.direction_text, e.quartile_text]
    return texts + ([e.commentary or charts.NO_DATA] if data.has_commentary else [])


def _compact_exceptions(data) -> str:
    parts = [f"{e.indicator_id}{' (worsening)' if e.worsening else ''}" for e in data.exceptions]
    return (f"Rated red (red and worsening first): {', '.join(parts + data.more_exceptions)}. Their values"
            + (" and commentary" if data.has_commentary else "") + " are in the speaker notes.")


def _exception_plan(data, size: float, compact: bool = False) -> tuple[float, list[float]]:
    """(height of the heading and note, row heights of the table) at a type size."""
    cols = _exception_cols(data)
    if compact and data.exceptions:
        return 0.32 + _row_height([(_compact_exceptions(data), TABLE_W)], size), []
    if not data.exceptions:
        return 0.3 + _row_height([(f"No indicator is rated red for {data.area_name}: none is significantly worse "
                                   "than England in this release.", TABLE_W)], size), []
    heights = [_row_height([(n, w) for n, w, _ in cols], size * 0.92)]
    for e in data.exceptions:
        heights.append(_row_height(list(zip(_exception_texts(data, e), [w for _, w, _ in cols])), size))
    return 0.32 + (0.26 if data.more_exceptions else 0), heights


def _fit(data) -> Mode:
    """The first way of setting the slide, in order of preference, at which the left column ends above
    the footer by the estimates above: the legend under the exceptions (leaving the map column to the
    map), then larger type, then fewer lines (no unit lines), then the scorecard split over two tables
    with names cut to one line, then the exceptions as one line (their details in the notes)."""
    room = FOOTER_TOP - 0.08 - (BODY_TOP + 0.34)
    legend = 0.15 + _legend_height(data, TABLE_W)
    options = ([Mode(s, True, True) for s in (9.5, 9.0, 8.5)] + [Mode(s, True) for s in (10.0, 9.5, 9.0, 8.5)]
               + [Mode(s, False) for s in (10.0, 9.5, 9.0, 8.5, 8.0, 7.5)]
               + [Mode(s, False, compact=True, clamp=True, split=True) for s in (9.0, 8.5, 8.0, 7.5, 7.0, 6.5)])
    for mode in options:
        if mode.split:  # the exceptions go to the top of the map column
            used = _score_height(data, mode)
        else:
            fixed, rows = _exception_plan(data, mode.size, mode.compact)
            used = _score_height(data, mode) + 0.12 + fixed + sum(rows)
        if used + (legend if mode.legend_left else 0) <= room:
            return mode
    return options[-1]


def _draw_table(slide, data, lines, x: float, y: float, mode: Mode) -> None:
    cols = _cols(data, mode)
    width = sum(w for _, w, _ in cols)
    head, line_heights = _line_heights(data, mode)
    heights = [head] + [line_heights[i] for i, _ in lines]
    if not lines:
        heights.append(_row_height([("This release has no indicators.", width)], mode.size))
    shape = slide.shapes.add_table(len(heights), len(cols), Inches(x), Inches(y), Inches(width), Inches(sum(heights)))
    table = shape.table
    table.first_row = True
    table.horz_banding = False
    for i, (name, w, right) in enumerate(cols):
        table.columns[i].width = Inches(w)
        _cell(table.cell(0, i), name, size=mode.size * 0.92, colour=WHITE, fill=ACCENT, bold=True,
              align=PP_ALIGN.RIGHT if right else None)
    if not lines:
        table.cell(1, 0).merge(table.cell(1, len(cols) - 1))
        _cell(table.cell(1, 0), "This release has no indicators.", size=mode.size)
    size = mode.size
    for r, (_, (kind, item)) in enumerate(lines, start=1):
        if kind == "group":
            table.cell(r, 0).merge(table.cell(r, len(cols) - 1))
            _cell(table.cell(r, 0), str(item), size=size, colour=ACCENT, fill=GROUP_BG, bold=True)
            continue
        row = item
        texts = _cell_texts(row, cols, mode)
        withheld = WITHHELD_BG if row.withheld else None
        for i, (name, _, right) in enumerate(cols):
            cell = table.cell(r, i)
            align = PP_ALIGN.RIGHT if right else None
            if name == "Indicator":
                _cell(cell, [(row.indicator_id + " ", {"bold": True}),
                             (texts[i][len(row.indicator_id) + 1:], {})], size=size,
                      extra=[(_unit(row), {})] if mode.units else None)
            elif name == "Value":
                _cell(cell, texts[i], size=size, bold=True, align=align, fill=withheld)
            elif name == "95% interval":
                _cell(cell, texts[i], size=size, align=align, fill=withheld)
            elif name == "RAG" and row.rag in charts.RAG_COLOURS:
                symbol, word = row.rag_text.split(" ", 1)
                _cell(cell, [(symbol + " ", {"colour": _rgb(charts.RAG_COLOURS[row.rag])}), (word, {})],
                      size=size, fill=RAG_TINT[row.rag])
            else:
                _cell(cell, texts[i], size=size, align=align)
    for i, h in enumerate(heights):
        table.rows[i].height = Inches(h)


def _scorecard_table(slide, data, y: float, mode: Mode) -> float:
    """Add the scorecard (one table, or two side by side) at y; return its estimated height (inches)."""
    lines = list(enumerate(_score_lines(data)))
    if mode.split and lines:
        _, heights = _line_heights(data, mode)
        k = _split_at(heights, [kind for _, (kind, _) in lines])
        _draw_table(slide, data, lines[:k], LEFT, y, mode)
        if lines[k:]:
            _draw_table(slide, data, lines[k:], LEFT + sum(w for _, w, _ in SPLIT_COLS) + SPLIT_GAP, y, mode)
    else:
        _draw_table(slide, data, lines, LEFT, y, mode)
    return _score_height(data, mode)


def _exceptions(slide, data, y: float, size: float, compact: bool = False) -> None:
    """The exceptions heading and table (or a line saying there are none, or one line naming them)."""
    _, tf = _box(slide, LEFT, y, TABLE_W, 0.3)
    _text(tf, [("Exceptions: indicators rated red", {}),
               ("   significantly worse than England; red and worsening first", {"size": size, "colour": MUTED,
                                                                                  "bold": False})]
          if data.exceptions else "Exceptions: indicators rated red", size=min(size + 3, 13), colour=ACCENT, bold=True)
    y += 0.32
    if not data.exceptions:
        _, tf = _box(slide, LEFT, y, TABLE_W, 0.3)
        _text(tf, f"No indicator is rated red for {data.area_name}: none is significantly worse than England "
                  "in this release.", size=size)
        return
    if compact:
        _, tf = _box(slide, LEFT, y, TABLE_W, _row_height([(_compact_exceptions(data), TABLE_W)], size))
        _text(tf, _compact_exceptions(data), size=size)
        return
    cols = _exception_cols(data)
    _, heights = _exception_plan(data, size)
    shape = slide.shapes.add_table(len(heights), len(cols), Inches(LEFT), Inches(y), Inches(TABLE_W),
                                   Inches(sum(heights)))
    table = shape.table
    table.horz_banding = False
    for i, (name, w, right) in enumerate(cols):
        table.columns[i].width = Inches(w)
        _cell(table.cell(0, i), name, size=size * 0.92, colour=WHITE, fill=ACCENT, bold=True,
              align=PP_ALIGN.RIGHT if right else None)
    red = _rgb(charts.RAG_COLOURS["red"])
    for r, e in enumerate(data.exceptions, start=1):
        _cell(table.cell(r, 0), [(e.indicator_id + " ", {"bold": True}), (f"{e.title} ({e.period})", {})], size=size)
        _cell(table.cell(r, 1), [(charts.RAG_SYMBOLS["red"] + " ", {"colour": red}), (e.value, {"bold": True})],
              size=size, align=PP_ALIGN.RIGHT)
        _cell(table.cell(r, 2), e.england, size=size, align=PP_ALIGN.RIGHT)
        _cell(table.cell(r, 3), e.direction_text, size=size, bold=e.worsening)
        _cell(table.cell(r, 4), e.quartile_text, size=size)
        if data.has_commentary:
            _cell(table.cell(r, 5), e.commentary or charts.NO_DATA, size=size)
    for i, h in enumerate(heights):
        table.rows[i].height = Inches(h)
    if data.more_exceptions:
        _, tf = _box(slide, LEFT, y + sum(heights) + 0.02, TABLE_W, 0.22)
        _text(tf, f"Also rated red: {', '.join(data.more_exceptions)}.", size=size * 0.9, colour=MUTED)


def _legend_runs(data, split: bool = False) -> list[list[tuple[str, dict]]]:
    """The key to c, RAG, arrows and quartiles; shorter on the split slide (its map needs the room)."""
    g, a, r = (_rgb(charts.RAG_COLOURS[k]) for k in ("green", "amber", "red"))
    sym = charts.RAG_SYMBOLS
    b = {"bold": True}
    rag = [(sym["green"], {"colour": g}), (" Green = significantly better than England; ", {}),
           (sym["amber"], {"colour": a}), (" Amber = similar; ", {}), (sym["red"], {"colour": r}),
           (" Red = significantly worse.", {})]
    if split:
        return [
            [(config.WITHHELD_SYMBOL, b), (f" = withheld ({data.threshold} or fewer children, or would reveal them); "
                                           f"{charts.NO_DATA} = no data or not assessed.", {})],
            [("RAG: ", b), *rag],
            [("Direction", b), (": ▲ / ▼ the value went up / down, Better or Worse for children (a significant "
                                "change); ► Same = no significant change. ", {}),
             ("Q", b), (" = quartile, 1 = best. ", {}), ("95% interval", b), (": likely range of the true value.", {})],
        ]
    return [
        [(config.WITHHELD_SYMBOL, b), (f" = withheld: {data.threshold} or fewer children, or a figure that would "
                                       f"reveal one. {charts.NO_DATA} = no data, or not assessed.", {})],
        [("RAG: ", b), *rag],
        [("Direction of travel", b), (" against the previous period: ▲ / ▼ show whether the value went up or down; "
                                      "the word says whether that is better (Improving) or worse (Worsening). "
                                      "► No significant change: within chance.", {})],
        [("Quartile", b), (": 1 = best quarter of areas of the same kind, 4 = worst. ", {}),
         ("95% interval", b), (": the range the true value is likely to lie in.", {})],
    ]


def _text_height(paragraphs: list[str], width: float, size: float, gap: float = 0.02) -> float:
    return sum(_lines(t, width, size) * size * 1.2 / 72 + gap for t in paragraphs)


LEGEND_SIZE = 7.5


def _legend_height(data, width: float, split: bool = False) -> float:
    runs = _legend_runs(data, split)
    return 0.26 + _text_height(["".join(t for t, _ in r) for r in runs], width, LEGEND_SIZE)


def _legend(slide, data, x: float, y: float, width: float, split: bool = False) -> None:
    _, tf = _box(slide, x, y, width, _legend_height(data, width, split))
    _text(tf, "How to read this slide", size=10, colour=ACCENT, bold=True)
    for runs in _legend_runs(data, split):
        _text(tf, runs, size=LEGEND_SIZE, new_paragraph=True)


def _map(slide, data, legend_here: bool, split: bool = False) -> None:
    """The right column: (split) the exceptions in one line, map heading and title, the picture, its key
    and note, and (legend_here) the legend at the bottom; laid out from the bottom up, so the picture
    takes whatever height is left."""
    title_size, small = 9.0, 7.5
    y = BODY_TOP
    if split:
        text = (_compact_exceptions(data) if data.exceptions else
                f"None: no indicator is significantly worse than England for {data.area_name}.")
        _, tf = _box(slide, RIGHT_X, y, RIGHT_W, 0.3)
        _text(tf, "Exceptions: indicators rated red", size=13, colour=ACCENT, bold=True)
        height = _text_height([text], RIGHT_W, small + 0.5) + 0.04
        _, tf = _box(slide, RIGHT_X, y + 0.32, RIGHT_W, height)
        _text(tf, text, size=small + 0.5)
        y += 0.32 + height + 0.1
    _, tf = _box(slide, RIGHT_X, y, RIGHT_W, 0.3)
    _text(tf, "Map by ward", size=13, colour=ACCENT, bold=True)
    y += 0.34
    legend_top = FOOTER_TOP - 0.02
    if legend_here:
        legend_top = FOOTER_TOP - 0.08 - _legend_height(data, RIGHT_W, split)
        _legend(slide, data, RIGHT_X, legend_top, RIGHT_W, split)
    if not data.map_indicator or not data.map_png:
        _, tf = _box(slide, RIGHT_X, y, RIGHT_W, 0.3)
        _text(tf, "No indicator has ward values in this release.", size=title_size, colour=MUTED)
        return
    title_h = _text_height([data.map_title], RIGHT_W, title_size)
    _, tf = _box(slide, RIGHT_X, y, RIGHT_W, title_h)
    _text(tf, data.map_title, size=title_size, bold=True)
    y += title_h + 0.04
    pairs = [data.map_key[i:i + 2] for i in range(0, len(data.map_key), 2)]
    note = f"Wards coloured by RAG against England. Shown: {data.map_reason}."
    key_h = len(pairs) * 0.19 + _text_height([note], RIGHT_W, small * 0.95) + 0.04
    key_top = legend_top - 0.08 - key_h
    w_px, h_px = data.map_size
    aspect = h_px / w_px
    pic_w = min(RIGHT_W, max(key_top - 0.04 - y, 0.5) / aspect)
    pic_h = pic_w * aspect
    slide.shapes.add_picture(io.BytesIO(data.map_png), Inches(RIGHT_X + (RIGHT_W - pic_w) / 2), Inches(y),
                             Inches(pic_w), Inches(pic_h))
    _, tf = _box(slide, RIGHT_X, key_top, RIGHT_W, key_h)
    for i, pair in enumerate(pairs):
        runs = []
        for label, colour, shape in pair:
            mark = "━" if shape == "line" else ("□" if colour.upper() == "#FFFFFF" else "■")
            tint = _rgb("#6E6E6E") if colour.upper() == "#FFFFFF" else _rgb(colour)
            runs += [(mark + " ", {"colour": tint, "size": small + 2}), (label + "     ", {})]
        _text(tf, runs, size=small, new_paragraph=i > 0)
    _text(tf, note, size=small * 0.95, colour=MUTED, new_paragraph=True)


def _footer(slide, data) -> None:
    line = slide.shapes.add_connector(1, Inches(LEFT), Inches(FOOTER_TOP), Inches(13.333 - LEFT), Inches(FOOTER_TOP))
    line.line.color.rgb = _rgb("#B8C4D6")
    line.line.width = Pt(0.8)
    _, tf = _box(slide, LEFT, FOOTER_TOP + 0.04, 5.9, 7.45 - FOOTER_TOP - 0.04)
    _text(tf, "Method", size=7.5, colour=ACCENT, bold=True)
    _text(tf, method_note(data.methods_version), size=6.8, new_paragraph=True)
    _, tf = _box(slide, LEFT + 6.05, FOOTER_TOP + 0.04, 13.333 - 2 * LEFT - 6.05, 7.45 - FOOTER_TOP - 0.04)
    _text(tf, "Suppression", size=7.5, colour=ACCENT, bold=True)
    _text(tf, suppression_note(data.threshold), size=6.8, bold=True, new_paragraph=True)
    suppliers = "; ".join(data.suppliers)
    _text(tf, [("Data: ", {"bold": True}), (f"release {data.release_id}, built {date_text(data.built_at)}"
                                             + (f"; supplied by {suppliers}." if suppliers else "."), {})],
          size=6.8, new_paragraph=True)
    _text(tf, [("Attribution: ", {"bold": True}), (attribution(), {})], size=6.8, new_paragraph=True)


def _plan_summary(data, limit: float = 8.9) -> str:
    """One line (cut with … to fit `limit` inches at 8.5 pt) naming the board's priorities and the local plan's
    actions with their status, or '' without a plan."""
    plan = getattr(data, "plan", None)
    if plan is None or (not plan.priorities and not plan.actions):
        return ""
    parts = []
    if plan.priorities:
        parts.append("Priorities: " + ", ".join(f"{p.indicator_id} ({p.plan_name})" for p in plan.priorities))
    if plan.actions:
        parts.append("Local plan: " + ", ".join(f"{a.code} {a.status_text.split(' (')[0]}" for a in plan.actions))
    text = clean_text(" · ".join(parts) + " (details in the notes)")
    if _width_pt(text, 8.5) / 72 > limit:
        while text and _width_pt(text + "… (details in the notes)", 8.5) / 72 > limit:
            text = text[:-1]
        text = text.rstrip(" ,;:·") + "… (details in the notes)"
    return text


def _plan_notes(data) -> list[str]:
    plan = getattr(data, "plan", None)
    if plan is None:
        return []
    lines = ["", "Board priorities:" if plan.priorities else "Board priorities: none chosen."]
    for p in plan.priorities:
        lines.append(f"- {p.indicator_id} {p.title} ({p.plan_name}; chosen from the {p.period} exceptions)")
    if plan.actions:
        lines.append(f"Local plan (status as at {plan.as_at}; overdue = not complete and past its due date):")
    for a in plan.actions:
        lines.append(f"- {a.code} {a.title} [{a.indicator_ids}], lead {a.lead}, due {a.due}: {a.status_text}.")
        if a.progress:
            lines.append(f"  Progress {a.progress}")
        if a.working:
            lines.append(f"  Is it working: {a.working}")
    return lines


def _notes(data) -> str:
    lines = [
        f"{data.area_name}: scorecard brief. Every indicator, {data.period_label}, compared with England.",
        f"Data as at {date_text(data.built_at)}; release {data.release_id}; methods {data.methods_version}.",
        "",
        "Scorecard:",
    ]
    for outcome, group in data.groups:
        lines.append(f"{outcome}:")
        for r in group:
            lines.append(f"- {r.indicator_id} {r.title} ({r.period}): {r.value} (95% interval {r.interval}); "
                         f"England {r.england}; RAG {r.rag_text}; {r.direction_text}; quartile {r.quartile_text}.")
    lines.append("")
    if data.exceptions:
        lines.append("Exceptions (rated red; red and worsening first):")
        for e in data.exceptions:
            lines.append(f"- {e.indicator_id} {e.title} ({e.period}): {e.value} against England {e.england}; "
                         f"{e.direction_text}; quartile {e.quartile_text}.")
            if e.commentary:
                lines.append(f"  Commentary: {e.commentary}")
        if data.more_exceptions:
            lines.append(f"Also rated red: {', '.join(data.more_exceptions)}.")
    else:
        lines.append(f"No indicator is rated red for {data.area_name}.")
    lines += _plan_notes(data)
    if data.map_indicator:
        lines += ["", f"Map: {data.map_title}, wards coloured by RAG against England ({data.map_reason})."]
    lines += [
        "", "How to read: " + " ".join("".join(t for t, _ in runs) for runs in _legend_runs(data)),
        "", "Method: " + method_note(data.methods_version),
        "", "Suppression: " + suppression_note(data.threshold),
        "", "Attribution: " + attribution(),
    ]
    return "\n".join(lines)


def write_pptx(data, path: Path | str) -> Path:
    prs = Presentation()
    prs.slide_width, prs.slide_height = SLIDE_W, SLIDE_H
    prs.core_properties.title = f"{data.area_name}: scorecard brief, release {data.release_id}"
    prs.core_properties.author = "LCP Scorecard"
    slide = prs.slides.add_slide(prs.slide_layouts[6])  # blank

    _, tf = _box(slide, LEFT, 0.2, 9.0, 0.26)
    _text(tf, "Lincolnshire Locality Children's Partnerships · scorecard brief", size=10, colour=MUTED)
    _, tf = _box(slide, LEFT, 0.44, 9.0, 0.55)
    _text(tf, data.area_name, size=26, colour=ACCENT, bold=True)
    summary = _plan_summary(data)
    _, tf = _box(slide, LEFT, 0.98 if not summary else 0.94, 9.0, 0.3)
    _text(tf, f"Every indicator for {data.area_name}, {data.period_label}, compared with England.",
          size=11 if not summary else 9.5)
    if summary:  # priorities and the local plan in one line (issue 13); every detail in the speaker notes
        _text(tf, summary, size=8.5, new_paragraph=True)
    _, tf = _box(slide, 9.3, 0.55, 13.333 - LEFT - 9.3, 0.75)
    _text(tf, f"Data as at {date_text(data.built_at)}", size=11, bold=True, align=PP_ALIGN.RIGHT)
    _text(tf, f"Release {data.release_id}", size=9.5, align=PP_ALIGN.RIGHT, new_paragraph=True)
    _text(tf, f"Methods {data.methods_version}", size=9.5, align=PP_ALIGN.RIGHT, new_paragraph=True)
    rule = slide.shapes.add_connector(1, Inches(LEFT), Inches(1.32), Inches(13.333 - LEFT), Inches(1.32))
    rule.line.color.rgb = ACCENT
    rule.line.width = Pt(1.5)

    mode = _fit(data)
    _, tf = _box(slide, LEFT, BODY_TOP, TABLE_W, 0.3)
    heading: list = [("Headline scorecard", {})]
    if mode.split:  # the split tables have no Period column: say which periods
        heading.append((f"   {data.period_note}", {"size": mode.size, "colour": MUTED, "bold": False}))
    _text(tf, heading, size=min(mode.size + 3, 13), colour=ACCENT, bold=True)
    used = _scorecard_table(slide, data, BODY_TOP + 0.34, mode)
    left_end = BODY_TOP + 0.34 + used
    if not mode.split:
        _exceptions(slide, data, left_end + 0.12, mode.size, mode.compact)
        fixed, rows = _exception_plan(data, mode.size, mode.compact)
        left_end += 0.12 + fixed + sum(rows)
    if mode.legend_left:
        _legend(slide, data, LEFT, left_end + 0.15, TABLE_W, mode.split)
    _map(slide, data, legend_here=not mode.legend_left, split=mode.split)
    _footer(slide, data)
    slide.notes_slide.notes_text_frame.text = clean_text(_notes(data))
    path = Path(path)
    prs.save(str(path))
    return path



