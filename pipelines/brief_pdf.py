"""The one-page PDF brief (A4 landscape), laid out with reportlab from a `briefs.BriefData`.

Nothing can overflow the page by construction: the page is cut into fixed frames (header, scorecard
column(s), map column, footer); every frame's content is measured before drawing, and the page is
laid out again, in order of preference, until everything fits (else a BriefError says so):

- the standard page (up to about 24 indicators): scorecard and exceptions on the left, each indicator's
  name wrapped with its unit line under it, the map on the right; the legend under the exceptions,
  else under the map; then without the unit lines; type down to 80%;
- the dense page (many indicators): one line per indicator (names cut with … to fit, measured with
  the font's real widths), the scorecard flowing over two table columns followed by the exceptions
  and the legend, the map alone on the right; type from 100% down to MIN_SCALE. Drawing goes through
`Frame.addFromList`, which draws only what fits, and `write_pdf` raises if anything was left over.

Every piece of free text (area and indicator names, commentary, release id) goes through `_esc`
(xml escape) before it reaches a reportlab Paragraph, so it is drawn as typed, never read as markup.
Text uses DejaVu Sans (Debian's fonts-dejavu-core) for its RAG symbols and arrows (● ◆ ■ ▲ ▼ ►).
"""
from __future__ import annotations

import io
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas
from reportlab.platypus import Flowable, Frame, Image, Paragraph, Spacer, Table, TableStyle

from pipelines import charts, config
from pipelines.brief_text import BriefError, attribution, clean_text, date_text, method_note, suppression_note

PAGE_W, PAGE_H = landscape(A4)
MARGIN = 22
GAP = 16
LEFT_W = 500
RIGHT_W = PAGE_W - 2 * MARGIN - LEFT_W - GAP
MIN_SCALE = 0.6
SCALES = [round(1.0 - 0.04 * i, 2) for i in range(11)]  # 1.0 ... 0.6

INK = colors.HexColor("#1A1A1A")
MUTED = colors.HexColor("#555555")
ACCENT = colors.HexColor("#0B3D91")
RULE = colors.HexColor("#B8C4D6")
GROUP_BG = colors.HexColor("#E8EEF6")
HEAD_BG = colors.HexColor("#0B3D91")
GRID = colors.HexColor("#C8C8C8")
RAG_TINT = {"green": "#CCEFE5", "amber": "#FBEBC6", "red": "#F7D6C2"}
WITHHELD_TINT = "#E6E6E6"

FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/local/share/fonts"),
    Path("/usr/share/fonts/TTF"),
)
FONTS = {  # our name -> DejaVu file
    "Brief": "DejaVuSans.ttf",
    "Brief-Bold": "DejaVuSans-Bold.ttf",
    "Brief-Italic": "DejaVuSans-Oblique.ttf",
    "Brief-Cond": "DejaVuSansCondensed.ttf",
    "Brief-CondBold": "DejaVuSansCondensed-Bold.ttf",
}


def _esc(text) -> str:
    """Free text for a Paragraph: escaped, so `<b>`, `&` or `<a href>` are shown, not obeyed."""
    return escape(clean_text(text))


def register_fonts() -> None:
    """Register DejaVu Sans (regular, bold, italic, condensed) once; BriefError naming the package if missing."""
    if "Brief" in pdfmetrics.getRegisteredFontNames():
        return
    for name, file in FONTS.items():
        path = next((d / file for d in FONT_DIRS if (d / file).is_file()), None)
        if path is None:
            raise BriefError(f"the brief needs the DejaVu Sans font ({file}): install Debian's fonts-dejavu-core")
        pdfmetrics.registerFont(TTFont(name, str(path)))
    from reportlab.lib.fonts import addMapping

    addMapping("Brief", 0, 0, "Brief")
    addMapping("Brief", 1, 0, "Brief-Bold")
    addMapping("Brief", 0, 1, "Brief-Italic")
    addMapping("Brief", 1, 1, "Brief-Bold")
    addMapping("Brief-Cond", 0, 0, "Brief-Cond")
    addMapping("Brief-Cond", 1, 0, "Brief-CondBold")
    addMapping("Brief-Cond", 0, 1, "Brief-Cond")
    addMapping("Brief-Cond", 1, 1, "Brief-CondBold")


class _Styles:
    """Paragraph styles at one type scale (1.0 = the designed size)."""

    def __init__(self, s: float):
        def st(name, size, font="Brief", colour=INK, lead=1.22, **kw):
            return ParagraphStyle(name, fontName=font, fontSize=size * s, leading=size * s * lead,
                                  textColor=colour, **kw)

        self.scale = s
        self.kicker = st("kicker", 8.5, colour=MUTED)
        self.title = st("title", 19, font="Brief-Bold", colour=ACCENT, lead=1.15)
        self.subtitle = st("subtitle", 8.8, colour=INK)
        self.stamp = st("stamp", 8, alignment=TA_RIGHT, colour=INK)
        self.h2 = st("h2", 10.5, font="Brief-Bold", colour=ACCENT, spaceAfter=1.5 * s)
        self.note = st("note", 7.2, colour=MUTED)
        self.cell = st("cell", 7.6, font="Brief-Cond")
        self.cell_small = st("cell_small", 6.6, font="Brief-Cond", colour=MUTED)
        self.cell_r = st("cell_r", 7.6, font="Brief-Cond", alignment=TA_RIGHT)
        self.head = st("head", 7, font="Brief-CondBold", colour=colors.white)
        self.head_r = st("head_r", 7, font="Brief-CondBold", colour=colors.white, alignment=TA_RIGHT)
        self.group = st("group", 7.8, font="Brief-Bold", colour=ACCENT)
        self.key = st("key", 7, font="Brief-Cond")
        self.legend = st("legend", 7, lead=1.25, spaceAfter=1.6 * s)
        self.foot = st("foot", 6.7, colour=INK, lead=1.25, alignment=TA_LEFT)
        self.foot_h = st("foot_h", 7, font="Brief-Bold", colour=ACCENT)


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    """A paragraph of plain text (escaped)."""
    return Paragraph(_esc(text), style)


def _m(markup: str, style: ParagraphStyle) -> Paragraph:
    """A paragraph of our own markup (every free-text piece in it already passed through _esc)."""
    return Paragraph(markup, style)


def _rag_markup(rag: str | None, text: str) -> str:
    if rag in charts.RAG_COLOURS:
        symbol, word = text.split(" ", 1)
        return f'<font color="{charts.RAG_COLOURS[rag]}">{_esc(symbol)}</font> {_esc(word)}'
    return _esc(text)


# ---------------------------------------------------------------- blocks
def _header(data, S: _Styles) -> list[Flowable]:
    left = [
        _p("Lincolnshire Locality Children's Partnerships · scorecard brief", S.kicker),
        _p(data.area_name, S.title),
        _m(f"Every indicator for {_esc(data.area_name)}, {_esc(data.period_label)}, compared with England.",
           S.subtitle),
    ]
    right = [
        _m(f"<b>Data as at {_esc(date_text(data.built_at))}</b>", S.stamp),
        _m(f"Release {_esc(data.release_id)}", S.stamp),
        _m(f"Methods {_esc(data.methods_version)}", S.stamp),
    ]
    table = Table([[left, right]], colWidths=[PAGE_W - 2 * MARGIN - 190, 190])
    table.setStyle(TableStyle([
        ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
        ("LEFTPADDING", (0, 0), (-1, -1), 0), ("RIGHTPADDING", (0, 0), (-1, -1), 0),
        ("TOPPADDING", (0, 0), (-1, -1), 0), ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        ("LINEBELOW", (0, 0), (-1, 0), 1.2, ACCENT),
    ]))
    return [table] + _priorities(data, S)


def _priorities(data, S: _Styles) -> list[Flowable]:
    """The board's priorities (issue 13), first on the page: one line under the title, or nothing."""
    plan = getattr(data, "plan", None)
    if plan is None or not plan.priorities:
        return []
    parts = "; ".join(f"<b>{_esc(p.indicator_id)}</b> {_esc(p.title)} ({_esc(p.plan_name)})" for p in plan.priorities)
    period = ", ".join(sorted({p.period for p in plan.priorities}))
    return [Spacer(1, 2 * S.scale), _m(f"<b>Board priorities</b> (chosen from the {_esc(period)} exceptions): {parts}.",
                                       S.subtitle)]


#: how many actions the page lists (red, delayed and overdue first); the rest are named in one line
PLAN_ROWS = 5
#: an action's title is wrapped, and cut with … beyond this many characters (whole on the plan page and in the
#: PowerPoint notes)
PLAN_TITLE = 120


def _cut(text: str, limit: int) -> str:
    text = clean_text(text)
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def _plan_block(data, S: _Styles, width: float) -> list[Flowable]:
    """The local plan (issue 13): each action's code and title, indicators, status (symbol and word), due
    date, latest progress and whether its indicators have moved since it started; nothing without a plan."""
    plan = getattr(data, "plan", None)
    if plan is None or not plan.actions:
        return []
    out: list[Flowable] = [Spacer(1, 6 * S.scale), _p("Local plan: actions and whether they are working", S.h2)]
    out.append(_p(f"Status as at the release date ({plan.as_at}): overdue = not complete and past its due date. "
                  "Working = change in each indicator since the action started (95% significance).", S.note))
    cols = [("Action", 0.42, False), ("Status", 0.2, False), ("Due", 0.12, False), ("Working?", 0.26, False)]
    widths = [f * width for _, f, _ in cols]
    rows: list[list] = [[_p(h, S.head) for h, _, _ in cols]]
    style = [("BACKGROUND", (0, 0), (-1, 0), HEAD_BG), ("VALIGN", (0, 0), (-1, -1), "TOP"),
             ("LEFTPADDING", (0, 0), (-1, -1), 2), ("RIGHTPADDING", (0, 0), (-1, -1), 2),
             ("TOPPADDING", (0, 0), (-1, -1), 1.2 * S.scale), ("BOTTOMPADDING", (0, 0), (-1, -1), 1.6 * S.scale),
             ("LINEBELOW", (0, 1), (-1, -1), 0.3, GRID),
             ("FONTSIZE", (0, 0), (-1, -1), 4), ("LEADING", (0, 0), (-1, -1), 4)]  # the empty spanned cells
    for a in plan.actions[:PLAN_ROWS]:
        i = len(rows)
        colour = charts.RAG_COLOURS.get(a.status_rag)
        symbol, word = (a.status_text.split(" ", 1) + [""])[:2]
        status = (f'<font color="{colour}">{_esc(symbol)}</font> {_esc(word)}' if colour else _esc(a.status_text))
        rows.append([
            _m(f"<b>{_esc(a.code)}</b> {_esc(_cut(a.title, PLAN_TITLE))} [{_esc(a.indicator_ids)}]", S.cell),
            _m(status, S.cell), _p(a.due, S.cell), _p(a.working or charts.NO_DATA, S.cell_small),
        ])
        if a.status_rag in RAG_TINT:
            style.append(("BACKGROUND", (1, i), (1, i), colors.HexColor(RAG_TINT[a.status_rag])))
        if a.progress:
            rows.append([_m(_fit_line("Progress", a.progress, S.cell_small, width - 4), S.cell_small), "", "", ""])
            style.append(("SPAN", (0, i + 1), (-1, i + 1)))
    table = Table(rows, colWidths=widths)
    table.setStyle(TableStyle(style))
    out += [Spacer(1, 2 * S.scale), table]
    more = [a.code for a in plan.actions[PLAN_ROWS:]]
    if more:
        out.append(_p(f"Also in the plan: {', '.join(more)}.", S.note))
    return out


SCORE_COLS = [("Indicator", 176, False), ("Period", 40, False), ("Value", 40, True), ("95% interval", 62, True),
              ("England", 40, True), ("RAG", 45, False), ("Direction of travel", 60, False),
              ("Quartile", 37, False)]


def _scorecard(data, S: _Styles, units: bool = True) -> list[Flowable]:
    out: list[Flowable] = [
        _p("Headline scorecard", S.h2),
        _p("Value with its 95% confidence interval and England's value; RAG, direction of travel and quartile "
           "are the judgements (key on the right).", S.note),
        Spacer(1, 3 * S.scale),
    ]
    rows: list[list] = [[_p(h, S.head_r if right else S.head) for h, _, right in SCORE_COLS]]
    style = [
        ("BACKGROUND", (0, 0), (-1, 0), HEAD_BG),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("LEFTPADDING", (0, 0), (-1, -1), 2.5), ("RIGHTPADDING", (0, 0), (-1, -1), 2.5),
        ("TOPPADDING", (0, 0), (-1, -1), 1.8 * S.scale), ("BOTTOMPADDING", (0, 0), (-1, -1), 2.2 * S.scale),
        ("LINEBELOW", (0, 1), (-1, -1), 0.4, GRID),
    ]
    if not data.rows:
        rows.append([_p("This release has no indicators.", S.cell)] + [""] * (len(SCORE_COLS) - 1))
        style.append(("SPAN", (0, 1), (-1, 1)))
    for outcome, group in data.groups:
        i = len(rows)
        rows.append([_p(outcome, S.group)] + [""] * (len(SCORE_COLS) - 1))
        style += [("SPAN", (0, i), (-1, i)), ("BACKGROUND", (0, i), (-1, i), GROUP_BG)]
        for r in group:
            i = len(rows)
            unit = f"{r.unit}; {r.polarity_text}" if r.unit else r.polarity_text
            name = _m(f"<b>{_esc(r.indicator_id)}</b> {_esc(r.title)}", S.cell)
            rows.append([
                [name, _p(unit, S.cell_small)] if units else name,
                _p(r.period, S.cell),
                _m(f"<b>{_esc(r.value)}</b>", S.cell_r),
                _p(r.interval, S.cell_r),
                _p(r.england, S.cell_r),
                _m(_rag_markup(r.rag, r.rag_text), S.cell),
                _p(r.direction_text, S.cell),
                _p(r.quartile_text, S.cell),
            ])
            if r.rag in RAG_TINT:
                style.append(("BACKGROUND", (5, i), (5, i), colors.HexColor(RAG_TINT[r.rag])))
            if r.withheld:
                style.append(("BACKGROUND", (2, i), (3, i), colors.HexColor(WITHHELD_TINT)))
    table = Table(rows, colWidths=[w for _, w, _ in SCORE_COLS], repeatRows=1)
    table.setStyle(TableStyle(style))
    out.append(table)
    return out


def _exceptions(data, S: _Styles) -> list[Flowable]:
    out: list[Flowable] = [
        Spacer(1, 7 * S.scale),
        _p("Exceptions: indicators rated red", S.h2),
    ]
    if not data.exceptions:
        out.append(_p(f"No indicator is rated red for {data.area_name}: none is significantly worse than England "
                      "in this release.", S.cell))
        return out
    out.append(_p("Significantly worse than England; red and worsening first.", S.note))
    out.append(Spacer(1, 3 * S.scale))
    if data.has_commentary:
        cols = [("Indicator", 150, False), ("Value", 42, True), ("England", 42, True), ("Direction", 64, False),
                ("Quartile", 40, False), ("Commentary", 162, False)]
    else:
        cols = [("Indicator", 236, False), ("Value", 48, True), ("England", 48, True),
                ("Direction of travel", 98, False), ("Quartile", 70, False)]
    rows: list[list] = [[_p(h, S.head_r if right else S.head) for h, _, right in cols]]
    for e in data.exceptions:
        row = [
            _m(f"<b>{_esc(e.indicator_id)}</b> {_esc(e.title)} ({_esc(e.period)})", S.cell),
            _m(f'<font color="{charts.RAG_COLOURS["red"]}">{_esc(charts.RAG_SYMBOLS["red"])}</font> '
               f"<b>{_esc(e.value)}</b>", S.cell_r),
            _p(e.england, S.cell_r),
            _m(f"<b>{_esc(e.direction_text)}</b>" if e.worsening else _esc(e.direction_text), S.cell),
            _p(e.quartile_text, S.cell),
        ]
        if data.has_commentary:
            row.append(_p(e.commentary or charts.NO_DATA, S.cell))
        rows.append(row)
    table = Table(rows, colWidths=[w for _, w, _ in cols])
    table.setStyle(TableStyle([
        ("BACKGROUND", (0, 0), (-1, 0), HEAD_BG),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("LEFTPADDING", (0, 0), (-1, -1), 2.5), ("RIGHTPADDING", (0, 0), (-1, -1), 2.5),
        ("TOPPADDING", (0, 0), (-1, -1), 1.8 * S.scale), ("BOTTOMPADDING", (0, 0), (-1, -1), 2.2 * S.scale),
        ("LINEBELOW", (0, 1), (-1, -1), 0.4, GRID),
    ]))
    out.append(table)
    if data.more_exceptions:
        out.append(_p(f"Also rated red: {', '.join(data.more_exceptions)}.", S.note))
    return out


def _swatch_key(items: list[tuple[str, str, str]], S: _Styles, width: float, per_row: int = 2) -> Table:
    """A key of coloured squares (or a line) with their words, `per_row` to a row."""
    cells = []
    size = f"{10 * S.scale:.1f}"
    for label, colour, shape in items:
        if shape == "line":
            mark = f'<font color="{colour}" size="{size}">━</font>'
        elif colour.upper() == "#FFFFFF":
            mark = f'<font color="#6E6E6E" size="{size}">□</font>'
        else:
            mark = f'<font color="{colour}" size="{size}">■</font>'
        cells.append(_m(mark, S.key))
        cells.append(_p(label, S.key))
    n = 2 * per_row
    rows = [cells[i:i + n] for i in range(0, len(cells), n)]
    if rows and len(rows[-1]) < n:
        rows[-1] += [""] * (n - len(rows[-1]))
    sw = 12 * S.scale
    table = Table(rows, colWidths=[sw, width / per_row - sw] * per_row)
    table.setStyle(TableStyle([
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("LEFTPADDING", (0, 0), (-1, -1), 0), ("RIGHTPADDING", (0, 0), (-1, -1), 1),
        ("TOPPADDING", (0, 0), (-1, -1), 0.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 0.5),
    ]))
    return table


def _map_blocks(data, S: _Styles, width: float = RIGHT_W, per_row: int = 2) -> tuple[list[Flowable], list[Flowable]]:
    """(above the picture, below the picture) for the map column."""
    if not data.map_indicator:
        return [_p("Map", S.h2), _p("No indicator has ward values in this release.", S.note)], []
    above = [_p("Map by ward", S.h2), _m(f"<b>{_esc(data.map_title)}</b>", S.cell), Spacer(1, 2 * S.scale)]
    below = [
        Spacer(1, 3 * S.scale),
        *([_swatch_key(data.map_key, S, width, per_row)] if data.map_key else []),
        Spacer(1, 2 * S.scale),
        _p(f"Wards coloured by RAG against England. Shown: {data.map_reason}.", S.note),
    ]
    return above, below


def _legend(data, S: _Styles) -> list[Flowable]:
    g, a, r = (charts.RAG_COLOURS[k] for k in ("green", "amber", "red"))
    sym = charts.RAG_SYMBOLS
    return [
        Spacer(1, 7 * S.scale),
        _p("How to read this page", S.h2),
        _m(f"<b>{_esc(config.WITHHELD_SYMBOL)}</b> = withheld: {data.threshold} or fewer children, or a figure that "
           f"would reveal one. <b>{_esc(charts.NO_DATA)}</b> = no data, or not assessed.", S.legend),
        _m(f'<b>RAG</b>: <font color="{g}">{sym["green"]}</font> Green = significantly better than England; '
           f'<font color="{a}">{sym["amber"]}</font> Amber = similar to England; '
           f'<font color="{r}">{sym["red"]}</font> Red = significantly worse than England.', S.legend),
        _m("<b>Direction of travel</b> against the previous period: ▲ / ▼ show whether the value went up or down; "
           "the word says whether that is better (Improving) or worse (Worsening) for children. "
           "► No significant change: within what chance alone could explain.", S.legend),
        _m("<b>Quartile</b>: 1 = best quarter of areas of the same kind, 4 = worst.", S.legend),
        _m("<b>95% interval</b>: the range the true value is likely to lie in, allowing for chance.", S.legend),
    ]


def _footer(data, S: _Styles) -> list[Flowable]:
    width = PAGE_W - 2 * MARGIN
    suppliers = "; ".join(data.suppliers)
    left = [_p("Method", S.foot_h), _p(method_note(data.methods_version), S.foot)]
    right = [
        _p("Suppression", S.foot_h),
        _m(f"<b>{_esc(suppression_note(data.threshold))}</b>", S.foot),
        _m(f"<b>Data</b>: release {_esc(data.release_id)}, built {_esc(date_text(data.built_at))}"
           + (f"; supplied by {_esc(suppliers)}." if suppliers else "."), S.foot),
        _m(f"<b>Attribution</b>: {_esc(attribution())}", S.foot),
    ]
    table = Table([[left, right]], colWidths=[width * 0.47, width * 0.53])
    table.setStyle(TableStyle([
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 0), ("RIGHTPADDING", (0, 0), (0, 0), 10),
        ("RIGHTPADDING", (1, 0), (1, 0), 0),
        ("TOPPADDING", (0, 0), (-1, -1), 3), ("BOTTOMPADDING", (0, 0), (-1, -1), 0),
        ("LINEABOVE", (0, 0), (-1, 0), 0.8, RULE),
    ]))
    return [table]


# ---------------------------------------------------------------- layout
def _height(flows: list[Flowable], width: float) -> float:
    total = 0.0
    for f in flows:
        _, h = f.wrap(width, PAGE_H * 4)
        total += h + f.getSpaceBefore() + f.getSpaceAfter()
    return total


def _frame(x, y, w, h) -> Frame:
    return Frame(x, y, w, h, leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0, showBoundary=0)


def _layout(data, scale: float, legend_left: bool, units: bool = True) -> list[tuple[Frame, list[Flowable]]] | None:
    """The page's frames and their content at one type scale, or None if it does not fit.

    legend_left: the key goes under the exceptions (leaving the map column to the map) or under the map.
    units: each indicator's unit and polarity line under its name (dropped before type gets very small).
    """
    S = _Styles(scale)
    content_w = PAGE_W - 2 * MARGIN
    header = _header(data, S)
    footer = _footer(data, S)
    header_h = _height(header, content_w) + 1
    footer_h = _height(footer, content_w) + 1
    body_top = PAGE_H - MARGIN - header_h - 8
    body_bottom = MARGIN + footer_h + 6
    body_h = body_top - body_bottom
    legend = _legend(data, S)
    left = (_scorecard(data, S, units) + _exceptions(data, S) + _plan_block(data, S, LEFT_W)
            + (legend if legend_left else []))
    if _height(left, LEFT_W) > body_h:
        return None
    above, below = _map_blocks(data, S)
    rest = below + ([] if legend_left else legend)
    fixed = _height(above + rest, RIGHT_W)
    right: list[Flowable] = list(above)
    if data.map_png:
        room = body_h - fixed - 2
        w_px, h_px = data.map_size
        aspect = h_px / w_px
        img_w = min(RIGHT_W, room / aspect, w_px * 1.0)
        if img_w < RIGHT_W * 0.6:
            return None
        img = Image(io.BytesIO(data.map_png), width=img_w, height=img_w * aspect)
        img.hAlign = "CENTER"
        right.append(img)
    elif fixed > body_h:
        return None
    right += rest
    if _height(right, RIGHT_W) > body_h:
        return None
    return [
        (_frame(MARGIN, PAGE_H - MARGIN - header_h, content_w, header_h), header),
        (_frame(MARGIN, body_bottom, LEFT_W, body_h), left),
        (_frame(MARGIN + LEFT_W + GAP, body_bottom, RIGHT_W, body_h), right),
        (_frame(MARGIN, MARGIN, content_w, footer_h), footer),
    ]


# ---------------------------------------------------------------- the dense page (many indicators)
DENSE_RIGHT_W = 176
DENSE_TABLE_W = (PAGE_W - 2 * MARGIN - DENSE_RIGHT_W - 2 * 12) / 2
DENSE_COLS = [("Indicator", 0.34, False), ("Value", 0.09, True), ("95% interval", 0.155, True),
              ("England", 0.105, True), ("RAG", 0.1, False), ("Direction", 0.17, False), ("Q", 0.04, False)]


def _fit_line(prefix: str, text: str, style: ParagraphStyle, width: float) -> str:
    """Markup for '<b>prefix</b> text' on ONE line of `width`, the text cut with … if it must be
    (measured with the font's real widths)."""
    bold = "Brief-CondBold" if style.fontName.startswith("Brief-Cond") else "Brief-Bold"
    room = width - pdfmetrics.stringWidth(prefix + " ", bold, style.fontSize) - 1
    text = clean_text(text)
    if pdfmetrics.stringWidth(text, style.fontName, style.fontSize) > room:
        lo, hi = 0, len(text)  # the longest cut that fits, by bisection
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if pdfmetrics.stringWidth(text[:mid] + "…", style.fontName, style.fontSize) <= room:
                lo = mid
            else:
                hi = mid - 1
        text = text[:lo].rstrip(" ,;:-") + "…"
    return f"<b>{_esc(prefix)}</b> {_esc(text)}"


def _short_direction(text: str) -> str:
    return "► No change" if text.startswith("►") else text


def _dense_rows(data, S: _Styles, width: float) -> tuple[list[list], list[tuple]]:
    """(rows, per-row styles as (kind, rag, withheld), kinds) of the one-line scorecard."""
    widths = [f * width for _, f, _ in DENSE_COLS]
    rows, kinds = [], []
    for outcome, group in data.groups:
        rows.append([_p(outcome, S.group)] + [""] * (len(DENSE_COLS) - 1))
        kinds.append(("group", None, False))
        for r in group:
            rows.append([
                _m(_fit_line(r.indicator_id, r.title, S.cell, widths[0] - 5), S.cell),
                _m(f"<b>{_esc(r.value)}</b>", S.cell_r),
                _p(r.interval.replace(" to ", "–"), S.cell_r),
                _p(r.england, S.cell_r),
                _m(_rag_markup(r.rag, r.rag_text), S.cell),
                _p(_short_direction(r.direction_text), S.cell),
                _p(r.quartile_text.split(" ")[0], S.cell),
            ])
            kinds.append(("row", r.rag, r.withheld))
    return rows, kinds


def _dense_table(rows: list[list], kinds: list[tuple], S: _Styles, width: float) -> Table:
    head = [_p(h, S.head_r if right else S.head) for h, _, right in DENSE_COLS]
    style = [
        ("BACKGROUND", (0, 0), (-1, 0), HEAD_BG), ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("LEFTPADDING", (0, 0), (-1, -1), 2), ("RIGHTPADDING", (0, 0), (-1, -1), 2),
        ("TOPPADDING", (0, 0), (-1, -1), 1.2 * S.scale), ("BOTTOMPADDING", (0, 0), (-1, -1), 1.6 * S.scale),
        ("LINEBELOW", (0, 1), (-1, -1), 0.3, GRID),
    ]
    for i, (kind, rag, withheld) in enumerate(kinds, start=1):
        if kind == "group":
            style += [("SPAN", (0, i), (-1, i)), ("BACKGROUND", (0, i), (-1, i), GROUP_BG)]
        if rag in RAG_TINT:
            style.append(("BACKGROUND", (4, i), (4, i), colors.HexColor(RAG_TINT[rag])))
        if withheld:
            style.append(("BACKGROUND", (1, i), (2, i), colors.HexColor(WITHHELD_TINT)))
    table = Table([head] + rows, colWidths=[f * width for _, f, _ in DENSE_COLS])
    table.setStyle(TableStyle(style))
    return table


def _dense_exceptions(data, S: _Styles, width: float) -> list[Flowable]:
    out: list[Flowable] = [Spacer(1, 6 * S.scale), _p("Exceptions: indicators rated red", S.h2)]
    if not data.exceptions:
        return out + [_p(f"No indicator is rated red for {data.area_name}: none is significantly worse than "
                         "England in this release.", S.cell)]
    out.append(_p("Significantly worse than England; red and worsening first.", S.note))
    cols = [("Indicator", 0.5, False), ("Value", 0.14, True), ("England", 0.12, True), ("Direction", 0.18, False),
            ("Q", 0.06, False)]
    widths = [f * width for _, f, _ in cols]
    rows: list[list] = [[_p(h, S.head_r if right else S.head) for h, _, right in cols]]
    style = [("BACKGROUND", (0, 0), (-1, 0), HEAD_BG), ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
             ("LEFTPADDING", (0, 0), (-1, -1), 2), ("RIGHTPADDING", (0, 0), (-1, -1), 2),
             ("TOPPADDING", (0, 0), (-1, -1), 1.2 * S.scale), ("BOTTOMPADDING", (0, 0), (-1, -1), 1.6 * S.scale),
             ("LINEBELOW", (0, 1), (-1, -1), 0.3, GRID)]
    for e in data.exceptions:
        rows.append([
            _m(_fit_line(e.indicator_id, f"{e.title} ({e.period})", S.cell, widths[0] - 4), S.cell),
            _m(f'<font color="{charts.RAG_COLOURS["red"]}">{_esc(charts.RAG_SYMBOLS["red"])}</font> '
               f"<b>{_esc(e.value)}</b>", S.cell_r),
            _p(e.england, S.cell_r),
            _m(f"<b>{_esc(e.direction_text)}</b>" if e.worsening else _esc(_short_direction(e.direction_text)), S.cell),
            _p(e.quartile_text.split(" ")[0], S.cell),
        ])
        if data.has_commentary:
            i = len(rows)
            rows.append([_m(f"<i>Commentary</i>: {_esc(e.commentary or charts.NO_DATA)}", S.cell)] + [""] * 4)
            style.append(("SPAN", (0, i), (-1, i)))
    table = Table(rows, colWidths=widths)
    table.setStyle(TableStyle(style))
    out += [Spacer(1, 2 * S.scale), table]
    if data.more_exceptions:
        out.append(_p(f"Also rated red: {', '.join(data.more_exceptions)}.", S.note))
    return out


def _layout_dense(data, scale: float) -> list[tuple[Frame, list[Flowable]]] | None:
    """The many-indicator page: the scorecard one line per indicator, flowing over two table columns
    (then the exceptions and the legend), the map alone in a narrow right column."""
    S = _Styles(scale)
    content_w = PAGE_W - 2 * MARGIN
    header, footer = _header(data, S), _footer(data, S)
    header_h = _height(header, content_w) + 1
    footer_h = _height(footer, content_w) + 1
    body_bottom = MARGIN + footer_h + 6
    body_h = PAGE_H - MARGIN - header_h - 8 - body_bottom
    tw = DENSE_TABLE_W
    title = [_p("Headline scorecard", S.h2),
             _p(f"{data.period_note} Q = quartile (1 = best); the key is under the exceptions.", S.note),
             Spacer(1, 2 * S.scale)]
    rows, kinds = _dense_rows(data, S, tw)
    room = body_h - _height(title, tw)
    # As many rows as fit in the first column (never ending on an outcome heading), the rest in the second.
    whole = _dense_table(rows, kinds, S, tw)
    whole.wrap(tw, PAGE_H * 10)
    heights = whole._rowHeights  # the header's, then one per row
    used, k = heights[0], 0
    while k < len(rows) and used + heights[k + 1] <= room - 1:
        used += heights[k + 1]
        k += 1
    while 0 < k < len(rows) and kinds[k - 1][0] == "group":
        k -= 1
    if k == 0:
        return None
    first = title + [_dense_table(rows[:k], kinds[:k], S, tw)]
    second = ([_p("Headline scorecard (continued)", S.h2), Spacer(1, 2 * S.scale),
               _dense_table(rows[k:], kinds[k:], S, tw)] if k < len(rows) else [])
    second += _dense_exceptions(data, S, tw) + _plan_block(data, S, tw) + _legend(data, S)
    if _height(second, tw) > body_h:
        return None
    above, below = _map_blocks(data, S, DENSE_RIGHT_W, per_row=1)
    right: list[Flowable] = list(above)
    if data.map_png:
        fixed = _height(above + below, DENSE_RIGHT_W)
        w_px, h_px = data.map_size
        aspect = h_px / w_px
        img_w = min(DENSE_RIGHT_W, (body_h - fixed - 2) / aspect)
        if img_w < DENSE_RIGHT_W * 0.6:
            return None
        img = Image(io.BytesIO(data.map_png), width=img_w, height=img_w * aspect)
        img.hAlign = "CENTER"
        right.append(img)
    right += below
    if _height(right, DENSE_RIGHT_W) > body_h:
        return None
    return [
        (_frame(MARGIN, PAGE_H - MARGIN - header_h, content_w, header_h), header),
        (_frame(MARGIN, body_bottom, tw, body_h), first),
        (_frame(MARGIN + tw + 12, body_bottom, tw, body_h), second),
        (_frame(MARGIN + 2 * tw + 24, body_bottom, DENSE_RIGHT_W, body_h), right),
        (_frame(MARGIN, MARGIN, content_w, footer_h), footer),
    ]




def write_pdf(data, path: Path | str) -> Path:
    """Draw the brief on one A4 landscape page; raises BriefError if it cannot fit even at MIN_SCALE."""
    register_fonts()
    layout = None
    # In order of preference: the standard page at readable type (legend left, then right; unit lines,
    # then none), then the dense page (one line per indicator, two table columns), smaller and smaller.
    # (The standard page cannot hold more than about 24 indicators at readable type: not tried then.)
    if len(data.rows) <= 24:
        for scale, units, legend_left in [(s, u, left) for s in SCALES if s >= 0.8 for u in (True, False)
                                          for left in (True, False)]:
            layout = _layout(data, scale, legend_left, units)
            if layout is not None:
                break
    if layout is None:  # the largest type that fits: full size first, then by bisection
        layout = _layout_dense(data, SCALES[0])
        if layout is None and _layout_dense(data, SCALES[-1]) is not None:
            lo, hi = len(SCALES) - 1, 0  # SCALES[lo] fits, SCALES[hi] does not
            while lo - hi > 1:
                mid = (lo + hi) // 2
                if _layout_dense(data, SCALES[mid]) is not None:
                    lo = mid
                else:
                    hi = mid
            layout = _layout_dense(data, SCALES[lo])
    if layout is None:
        raise BriefError(
            f"the brief for {data.area_name} does not fit on one page even with the smallest type "
            f"({len(data.rows)} indicators)"
        )
    path = Path(path)
    c = canvas.Canvas(str(path), pagesize=(PAGE_W, PAGE_H), pageCompression=1, invariant=1)
    c.setTitle(f"{data.area_name}: scorecard brief, release {data.release_id}")
    c.setAuthor("LCP Scorecard")
    c.setSubject(suppression_note(data.threshold))
    for frame, flows in layout:
        frame.addFromList(flows, c)
        if flows:  # pragma: no cover - measured above; never draw a partial page silently
            raise BriefError(f"the brief for {data.area_name} overflowed its {frame.id or 'frame'}")
    c.showPage()
    c.save()
    return path
