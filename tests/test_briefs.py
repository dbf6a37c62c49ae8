"""One-page briefs (pipelines.briefs, `lcp brief`) and print-ready charts, on the fixture release.

One `lcp brief --all` run per module (one Chromium start) makes the PDF, PPTX and PNG brief of every
fixture area (LCP01 Boston, LCP03 Lincoln, the county); the tests read those files back with poppler
(`pdftotext`, `pdfinfo`), python-pptx and Pillow. Layout stress, escaping and CLI errors need no
browser.
"""
from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import plotly.graph_objects as go
import pytest
from PIL import Image
from pptx import Presentation

import fixture_release as fx
from pipelines import brief_pdf, brief_pptx, brief_text, briefs, charts, cli, config
from pipelines.release import ReleaseReader, open_release


def test_poppler_utils_are_installed():
    """The brief tests read PDFs with Debian's poppler-utils, which `make chromium` installs."""
    missing = [t for t in ("pdftotext", "pdftoppm", "pdfinfo") if not shutil.which(t)]
    assert not missing, f"needs Debian's poppler-utils (make chromium): missing {missing}"

AREAS = {"LCP01": "Boston LCP", "LCP03": "Lincoln LCP", config.COUNTY_CODE: config.COUNTY_NAME}
NASTY = '<b>bold</b> & <a href="x">link</a> <script>alert(1)</script> =SUM(A1) **md**'
CONTROL = "tab\there, bell\x07 and form feed\x0c"


# ---------------------------------------------------------------- helpers
def pdf_text(path: Path) -> str:
    """The page's text in drawing order (each paragraph's lines together), whitespace collapsed."""
    raw = subprocess.run(["pdftotext", "-raw", str(path), "-"], check=True, capture_output=True, text=True).stdout
    return re.sub(r"\s+", " ", raw).strip()


def pdf_pages(path: Path) -> int:
    info = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True, text=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))


def pdf_words(path: Path) -> tuple[float, float, list[tuple[float, float, float, float, str]]]:
    """(page width, page height, [(x0, y0, x1, y1, word)]) from `pdftotext -bbox`."""
    html = subprocess.run(["pdftotext", "-bbox", str(path), "-"], check=True, capture_output=True, text=True).stdout
    page = re.search(r'<page width="([\d.]+)" height="([\d.]+)"', html)
    words = [
        (float(a), float(b), float(c), float(d), w)
        for a, b, c, d, w in re.findall(
            r'<word xMin="([\d.-]+)" yMin="([\d.-]+)" xMax="([\d.-]+)" yMax="([\d.-]+)">([^<]*)</word>', html)
    ]
    return float(page.group(1)), float(page.group(2)), words


def pptx_texts(path: Path) -> tuple[list[str], list[list[list[str]]], str]:
    """(text of every text box, every table as rows of cell texts, the speaker notes) of the one slide."""
    prs = Presentation(str(path))
    assert len(prs.slides) == 1
    slide = prs.slides[0]
    boxes, tables = [], []
    for shape in slide.shapes:
        if shape.has_text_frame:
            boxes.append(shape.text_frame.text)
        if shape.has_table:
            tables.append([[cell.text for cell in row.cells] for row in shape.table.rows])
    return boxes, tables, slide.notes_slide.notes_text_frame.text


def flat(*parts) -> str:
    return re.sub(r"\s+", " ", " ".join(str(p) for p in parts))


def true_counts(indicator_id: str, period: str, area_code: str) -> tuple[float, float]:
    """The fixture's real numerator and denominator for an area, withheld or not (sums of its wards)."""
    wards = fx.WARD_COUNTS[(indicator_id, period)]
    if area_code in wards:
        return wards[area_code]
    members = [w for w, (_, d, p) in fx.WARDS.items() if area_code in (d, p, fx.COUNTY[0])]
    return sum(wards[w][0] for w in members), sum(wards[w][1] for w in members)


def withheld_rows() -> list[dict]:
    return [r for r in fx.expected_rows() if r["suppressed"]]


def would_be_texts(row: dict) -> set[str]:
    """How a withheld row's value and limits would have been printed had they been published."""
    ind = next(i for i in fx.INDICATORS if i["indicator_id"] == row["indicator_id"])
    n, d = true_counts(row["indicator_id"], row["period"], row["area_code"])
    ci = fx.wilson if ind["ci_method"] == "wilson" else fx.byars
    lo, hi = ci(n, d, fx.Z95, ind["multiplier"])
    return {charts.format_value(x, False, ind["unit"]) for x in (n / d * ind["multiplier"], lo, hi)}


def standalone(token: str, text: str) -> bool:
    return re.search(rf"(?<![\w.,/]){re.escape(token)}(?![\w.,/%])", text) is not None


# ---------------------------------------------------------------- one run of `lcp brief --all`
@pytest.fixture(scope="module")
def made(fixture_release, tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("briefs")
    code = cli.main(["brief", "--all", "--out", str(out), "--release", str(fixture_release)])
    assert code == 0
    return {p.name: p for p in out.iterdir()}


def test_all_writes_every_area_in_every_format(made, capsys):
    assert sorted(made) == sorted(f"brief_{a}{s}" for a in AREAS for s in (".pdf", ".pptx", ".png"))


@pytest.mark.parametrize("area", list(AREAS))
def test_pdf_is_one_page_with_every_note(made, area):
    path = made[f"brief_{area}.pdf"]
    assert pdf_pages(path) == 1
    text = pdf_text(path)
    assert AREAS[area] in text
    assert fx.RELEASE_ID in text
    assert "Data as at 30 June 2025" in text  # the release's built_at, the data date
    assert "Figures for 10 or fewer children are withheld (c), as are figures that would reveal them." in text
    assert flat(config.ATTRIBUTION) in text and config.LICENCE in text
    assert "Wilson score" in text and "Byar's" in text and "significant" in text  # the method note
    # The legend: c, RAG words with symbols, arrows, quartile 1 = best.
    for phrase in ("c = withheld", "● Green = significantly better than England", "◆ Amber", "■ Red",
                   "▲ / ▼", "► No significant change", "Quartile: 1 = best"):
        assert phrase in text, phrase
    assert "Headline scorecard" in text and "Exceptions: indicators rated red" in text and "Map by ward" in text
    # Grouped by Every Child Matters outcome, in order.
    assert text.index("Be healthy") < text.index("NI 55") < text.index("Make a positive contribution") < text.index(
        "NI 111 First time entrants")


def test_pdf_shows_known_values_and_withheld_c(made):
    text = pdf_text(made["brief_LCP01.pdf"])
    want = fx.expected("NI 55", "2023/24", "LCP01")
    ci = f"{want['lower_95']:.1f} to {want['upper_95']:.1f}"
    assert re.search(rf"NI 55 .*?2023/24 {want['value']:.1f} {ci} 9\.6 ◆ Amber ► No significant change 1 \(best\)",
                     text), text
    # NI 111 is withheld for Boston LCP: value and interval are c, the judgements –, England still shown.
    assert re.search(r"NI 111 First time entrants .*?2023/24 c c 160\.0 – – –", text), text


def test_pdf_exceptions_red_first(made):
    lincoln = pdf_text(made["brief_LCP03.pdf"])
    part = lincoln[lincoln.index("Exceptions: indicators rated red"):]
    want = fx.expected("NI 55", "2023/24", "LCP03")
    assert want["rag"] == "red"
    assert re.search(rf"NI 55 Obesity .*?\(2023/24\) ■ {want['value']:.1f} 9\.6", part), part
    boston = pdf_text(made["brief_LCP01.pdf"])
    assert "No indicator is rated red for Boston LCP" in boston


@pytest.mark.parametrize("area", list(AREAS))
def test_pdf_nothing_overflows_or_overlaps(made, area):
    width, height, words = pdf_words(made[f"brief_{area}.pdf"])
    assert (round(width), round(height)) == (842, 595)  # A4 landscape
    assert len(words) > 300
    margin = brief_pdf.MARGIN - 1
    for x0, y0, x1, y1, word in words:
        assert margin <= x0 and x1 <= width - margin and margin <= y0 and y1 <= height - margin, (word, x0, y0, x1, y1)
    # No two words drawn on top of each other (beyond a sliver of glyph boxes touching).
    ordered = sorted(words)
    for i, (ax0, ay0, ax1, ay1, aw) in enumerate(ordered):
        for bx0, by0, bx1, by1, bw in ordered[i + 1:]:
            if bx0 >= ax1:
                break
            overlap = max(0.0, min(ax1, bx1) - bx0) * max(0.0, min(ay1, by1) - max(ay0, by0))
            smaller = min((ax1 - ax0) * (ay1 - ay0), (bx1 - bx0) * (by1 - by0))
            assert overlap <= 0.25 * smaller, (aw, bw)


@pytest.mark.parametrize("area", list(AREAS))
def test_png_is_the_page_at_print_resolution(made, area):
    with Image.open(made[f"brief_{area}.png"]) as im:
        assert im.format == "PNG"
        # A4 landscape (297 x 210 mm) at 150 dpi.
        assert (abs(im.width - 1754) <= 2, abs(im.height - 1240) <= 2) == (True, True)
        rgb = im.convert("RGB")
        # The map is drawn: the withheld grey and the RAG amber of published wards both appear in the map column.
        column = rgb.crop((int(im.width * 0.62), int(im.height * 0.15), im.width, int(im.height * 0.85)))
        colours = {c for _, c in column.getcolors(maxcolors=1 << 20)}
        assert _near(colours, charts.WITHHELD_COLOUR) and _near(colours, charts.RAG_COLOURS["amber"])


def _near(colours: set, hex_colour: str, tolerance: int = 6) -> bool:
    target = tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return any(all(abs(a - b) <= tolerance for a, b in zip(c, target)) for c in colours)


def test_pdf_renders_with_pdftoppm(made, tmp_path):
    """The PDF itself rasterises cleanly (as the PNG brief does), one page only."""
    subprocess.run(["pdftoppm", "-r", "50", "-png", str(made["brief_LCP03.pdf"]), str(tmp_path / "p")], check=True)
    assert [p.name for p in tmp_path.iterdir()] == ["p-1.png"]


def test_pptx_one_slide_with_table_map_and_notes(made):
    path = made["brief_LCP01.pptx"]
    boxes, tables, notes = pptx_texts(path)
    score = tables[0]
    assert score[0] == ["Indicator", "Value", "95% interval", "England", "RAG", "Direction of travel", "Quartile"]
    rows = {r[0].split(" ")[0] + " " + r[0].split(" ")[1]: r for r in score[1:] if r[0].startswith("NI ")}
    want = fx.expected("NI 55", "2023/24", "LCP01")
    assert rows["NI 55"][1:] == [f"{want['value']:.1f}", f"{want['lower_95']:.1f} to {want['upper_95']:.1f}", "9.6",
                                 "◆ Amber", "► No significant change", "1 (best)"]
    assert rows["NI 111"][1:] == ["c", "c", "160.0", "–", "–", "–"]
    assert [r[0] for r in score[1:] if not r[0].startswith("NI ")] == ["Be healthy", "Make a positive contribution"]
    everything = flat(*boxes, notes)
    assert "Boston LCP" in everything and fx.RELEASE_ID in everything and "Data as at 30 June 2025" in everything
    assert brief_text.suppression_note(10) in everything
    assert flat(config.ATTRIBUTION) in everything
    assert "Wilson score" in notes and "Suppression: Figures for 10 or fewer" in notes
    prs = Presentation(str(path))
    pictures = [s for s in prs.slides[0].shapes if s.shape_type == 13]  # MSO_SHAPE_TYPE.PICTURE
    assert len(pictures) == 1
    assert all(s.left >= 0 and s.top >= 0 and s.left + s.width <= prs.slide_width and s.top + s.height
               <= prs.slide_height for s in prs.slides[0].shapes)


def test_pptx_exceptions_table(made):
    _, tables, notes = pptx_texts(made["brief_LCP03.pptx"])
    exceptions = tables[1]
    want = fx.expected("NI 55", "2023/24", "LCP03")
    assert exceptions[0] == ["Indicator", "Value", "England", "Direction of travel", "Quartile"]
    assert exceptions[1][0].startswith("NI 55 Obesity") and exceptions[1][1] == f"■ {want['value']:.1f}"
    assert "Exceptions (rated red; red and worsening first):" in notes


def test_no_withheld_value_in_any_export(made, fixture_release):
    """No withheld figure, or a number derived from it, reaches a PDF, a slide or the map's texts."""
    texts = {}
    for area in AREAS:
        boxes, tables, notes = pptx_texts(made[f"brief_{area}.pptx"])
        texts[area] = {
            "pdf": pdf_text(made[f"brief_{area}.pdf"]),
            "pptx": flat(*boxes, *(c for t in tables for r in t for c in r), notes),
        }
    forbidden_values = set().union(*(would_be_texts(r) for r in withheld_rows()))
    # True withheld counts of 5 or more as standalone numbers (1-4 also occur as quartiles).
    forbidden_counts = {str(int(true_counts(r["indicator_id"], r["period"], r["area_code"])[0]))
                        for r in withheld_rows()} - {"1", "2", "3", "4"}
    assert forbidden_values and forbidden_counts
    for area, by_format in texts.items():
        for fmt, text in by_format.items():
            for value in forbidden_values:
                assert value not in text, (area, fmt, value)
            for count in forbidden_counts:
                assert not standalone(count, text), (area, fmt, count)
    # The map's texts (hover and labels) for withheld wards carry no number but the threshold.
    con = open_release(fixture_release)
    try:
        reader = ReleaseReader(con)
        for area in AREAS:
            data = briefs.collect(reader, area, map_indicator="NI 55")
            fig = briefs.map_figure(reader, data)
            for trace in fig.data:
                role = (trace.meta or {}).get("role")
                if role in ("withheld", "labels"):
                    for t in trace.text:
                        assert set(re.findall(r"\d+", t)) <= {"10"}, t
            hover = json.dumps([list(t.text or []) for t in fig.data if isinstance(t, go.Choropleth)])
            for value in set().union(*(would_be_texts(r) for r in withheld_rows() if r["area_level"] == "ward")):
                assert value not in hover, (area, value)
    finally:
        con.close()


def test_map_choice_and_key(fixture_release):
    con = open_release(fixture_release)
    try:
        reader = ReleaseReader(con)
        data = briefs.collect(reader, "LCP03")
        # NI 55 is red for Lincoln LCP and has published wards: mapped, and the reason says so.
        assert data.map_indicator == "NI 55" and data.map_period == "2023/24"
        assert data.map_reason.startswith("the red-rated indicator with the most wards published")
        fig = briefs.map_figure(reader, data)
        drawn = {loc for t in fig.data if isinstance(t, go.Choropleth) for loc in t.locations}
        assert drawn == {w for w, v in fx.WARDS.items() if v[2] == "LCP03"}  # the area's wards only
        labels = [label for label, _, _ in data.map_key]
        assert labels[:3] == ["● Green: significantly better", "◆ Amber: similar to England",
                              "■ Red: significantly worse"]
        assert "partnership boundary" in labels
        boston = briefs.collect(reader, "LCP01")
        assert boston.map_indicator == "NI 55"  # no red: the indicator with the most wards published
        fig = briefs.map_figure(reader, boston)
        withheld = next(t for t in fig.data if (t.meta or {}).get("role") == "withheld")
        assert sorted(withheld.locations) == ["E05009622", "E05009623"]
        with pytest.raises(briefs.BriefError, match="NI 999"):
            briefs.collect(reader, "LCP01", map_indicator="NI 999")
    finally:
        con.close()


def test_resolve_area_by_code_or_name(fixture_release):
    con = open_release(fixture_release)
    try:
        reader = ReleaseReader(con)
        assert briefs.resolve_area(reader, "lcp01") == ("LCP01", "Boston LCP", "partnership")
        assert briefs.resolve_area(reader, " Lincoln  LCP ") == ("LCP03", "Lincoln LCP", "partnership")
        assert briefs.resolve_area(reader, "lincolnshire") == (config.COUNTY_CODE, "Lincolnshire", "county")
        assert briefs.resolve_area(reader, "E10000019")[0] == config.COUNTY_CODE
        with pytest.raises(briefs.BriefError, match=r"LCP01 \(Boston LCP\), LCP03 \(Lincoln LCP\), E10000019"):
            briefs.resolve_area(reader, "Boston")  # a district name is not a brief area
    finally:
        con.close()


# ---------------------------------------------------------------- free text, layout under pressure (no browser)
def _map_png(width: int = 300, height: int = 420) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (190, 190, 190)).save(buf, format="PNG")
    return buf.getvalue()


def test_commentary_and_names_are_drawn_as_text(fixture_release, tmp_path):
    con = open_release(fixture_release)
    try:
        data = briefs.collect(ReleaseReader(con), "LCP03", commentary={"NI 55": NASTY + " " + CONTROL})
    finally:
        con.close()
    data.area_name = "Lincoln <i>LCP</i> & partners"
    data.map_png, data.map_size = _map_png(), (300, 420)
    pdf = brief_pdf.write_pdf(data, tmp_path / "b.pdf")
    text = pdf_text(pdf)
    assert NASTY in text  # escaped: shown exactly as typed, not obeyed
    assert "bell and form feed" in text  # control characters drawn as spaces, not an error
    assert "Lincoln <i>LCP</i> & partners" in text
    assert pdf_pages(pdf) == 1
    _, tables, notes = pptx_texts(brief_pptx.write_pptx(data, tmp_path / "b.pptx"))
    assert tables[1][0][-1] == "Commentary" and tables[1][1][-1].startswith(NASTY + " tab\there, bell ")
    assert f"Commentary: {NASTY}" in notes


TITLES = [  # real National Indicator titles, short to long
    "Obesity among primary school age children in Reception Year",
    "Emergency hospital admissions caused by unintentional and deliberate injuries to children and young people",
    "First time entrants to the Youth Justice System aged 10-17",
    "Young people within the Youth Justice System receiving a conviction in court who are sentenced to custody",
]


def _crowded(n: int = 16) -> briefs.BriefData:
    """A brief far fuller than today's: n indicators with long real titles, 8 red with long commentary."""
    outcomes = ["Be healthy", "Stay safe", "Enjoy and achieve", "Make a positive contribution",
                "Achieve economic well-being"]
    rows, exceptions = [], []
    for i in range(n):
        title = TITLES[i % len(TITLES)]
        rows.append(briefs.Row(
            indicator_id=f"NI {100 + i}", title=title, ecm_outcome=outcomes[i * 5 // n], unit="rate per 100,000",
            polarity_text="lower is better", period="2024/25", value="1,234.5", interval="1,100.2 to 1,380.9",
            england="999.9", rag="red", rag_text="■ Red", direction_text="▲ Worsening", quartile_text="4 (worst)",
            withheld=False,
        ))
        if i < 8:
            exceptions.append(briefs.ExceptionItem(
                indicator_id=f"NI {100 + i}", title=title, unit="rate per 100,000", period="2024/25",
                value="1,234.5", england="999.9", direction_text="▲ Worsening", quartile_text="4 (worst)",
                worsening=True, commentary="A long analyst's commentary. " * 5,
            ))
    return briefs.BriefData(
        area_code="LCP99", area_name="A Partnership With A Rather Long Name LCP", area_level="partnership",
        release_id="r-" + "x" * 30, built_at=fx.BUILT_AT, methods_version="2026.1", threshold=10,
        period_label="latest period published (2024/25)", rows=rows, exceptions=exceptions[:5],
        more_exceptions=[e.indicator_id for e in exceptions[5:]], has_commentary=True,
        suppliers=["Supplier one", "Supplier two"], map_indicator="NI 100", map_title="NI 100 " + "long " * 12,
        map_reason="chosen for this test", map_key=list(briefs.RAG_KEY) + [briefs.WITHHELD_KEY, briefs.BOUNDARY_KEY],
        map_size=(300, 420), map_png=_map_png(),
    )


@pytest.mark.parametrize("n", [16, 40])
def test_crowded_brief_still_fits_one_page(tmp_path, n):
    """Many indicators with long titles and five commented exceptions: a denser page, still one page and
    one slide, every indicator on it, and everything in the speaker notes in full."""
    data = _crowded(n)
    pdf = brief_pdf.write_pdf(data, tmp_path / "crowded.pdf")
    assert pdf_pages(pdf) == 1
    width, height, words = pdf_words(pdf)
    for x0, y0, x1, y1, word in words:
        assert 0 <= x0 and x1 <= width and 0 <= y0 and y1 <= height, word
    text = pdf_text(pdf)
    assert all(r.indicator_id in text for r in data.rows)
    assert "Also rated red: NI 105, NI 106, NI 107." in text
    assert brief_text.suppression_note(10) in text and flat(config.ATTRIBUTION) in text
    mode = brief_pptx._fit(data)
    assert mode.size >= 7 and mode.split  # two tables side by side
    assert brief_pptx.BODY_TOP + 0.34 + brief_pptx._score_height(data, mode) <= brief_pptx.FOOTER_TOP
    boxes, tables, notes = pptx_texts(brief_pptx.write_pptx(data, tmp_path / "crowded.pptx"))
    shown = [r[0].split(" ")[0] + " " + r[0].split(" ")[1] for t in tables[:2] for r in t[1:] if r[0].startswith("NI ")]
    assert shown == [r.indicator_id for r in data.rows]
    assert any("Rated red (red and worsening first): NI 100 (worsening)" in b for b in boxes)
    assert all(f"- {r.indicator_id} {r.title} (2024/25): 1,234.5" in notes for r in data.rows)
    assert "Commentary: A long analyst's commentary." in notes


def test_too_much_for_one_page_is_a_clear_error(tmp_path):
    data = _crowded(150)
    with pytest.raises(brief_text.BriefError, match="does not fit on one page"):
        brief_pdf.write_pdf(data, tmp_path / "x.pdf")


# ---------------------------------------------------------------- print-ready charts
def test_print_ready_adds_title_subtitle_source_and_footnote():
    fig = go.Figure(go.Bar(x=["a", "b"], y=[1, 2], name="bars", showlegend=True))
    out = charts.print_ready(fig, "A <b>title</b> & more", "Boston LCP, 2023/24", "Source: LCP Scorecard release r1",
                             "Figures for 10 or fewer children are withheld (c). " + config.ATTRIBUTION)
    assert fig.layout.title.text is None  # the original is untouched
    assert out.layout.title.text == "<b>A &lt;b&gt;title&lt;/b&gt; &amp; more</b>"
    assert out.layout.title.subtitle.text == "Boston LCP, 2023/24"
    notes = [a.text for a in out.layout.annotations]
    assert notes[0] == "Source: LCP Scorecard release r1"
    assert flat(*notes[1:]).startswith("Figures for 10 or fewer children are withheld (c).")
    assert flat(*notes[1:]).endswith("Open Government Licence v3.0.")
    assert len(notes) >= 3  # the long footnote wraps onto several lines
    assert (out.layout.width, out.layout.height) == (charts.PRINT_WIDTH, charts.PRINT_HEIGHT)
    # The footer lines sit under the chart, each below the one before, within the bottom margin.
    shifts = [a.yshift for a in out.layout.annotations]
    assert shifts == sorted(shifts, reverse=True) and -shifts[-1] < out.layout.margin.b


def test_to_png_renders_at_print_scale():
    fig = charts.print_ready(go.Figure(go.Bar(x=["a"], y=[1])), "T", "S", "Source: x", "Footnote",
                             width=500, height=300)
    png = charts.to_png(fig, scale=2)
    with Image.open(io.BytesIO(png)) as im:
        assert (im.width, im.height) == (1000, 600)


def test_no_chromium_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("BROWSER_PATH", "/nonexistent/chromium")
    with pytest.raises(charts.ChartExportError, match=r"chart export needs Debian's chromium \(`make chromium`\)"):
        charts.to_png(go.Figure(go.Bar(x=["a"], y=[1])))


# ---------------------------------------------------------------- the command's one-line errors
def _error(capsys, *argv) -> str:
    assert cli.main(["brief", *argv]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def test_cli_unknown_area(fixture_release, capsys, tmp_path):
    err = _error(capsys, "Atlantis", "--out", str(tmp_path / "x.pdf"))
    assert err.startswith("lcp brief: error: unknown area 'Atlantis': choose one of LCP01 (Boston LCP)")
    assert "E10000019 (Lincolnshire)" in err


def test_cli_bad_suffix(fixture_release, capsys, tmp_path):
    err = _error(capsys, "LCP01", "--out", str(tmp_path / "x.docx"))
    assert "unknown brief format '.docx': use one of .pdf, .pptx, .png" in err
    assert not (tmp_path / "x.docx").exists()


def test_cli_no_release(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("LCP_DATA_DIR", str(tmp_path / "empty"))
    err = _error(capsys, "LCP01", "--out", str(tmp_path / "x.pdf"))
    assert "No published release" in err and "lcp build" in err


@pytest.mark.parametrize("argv, message", [
    ((), "give an AREA"),
    (("LCP01", "--all"), "either an AREA or --all"),
    (("LCP01", "--format", "pdf"), "--format goes with --all"),
    (("LCP01", "--period", "1999/00"), "no values for period '1999/00'"),
])
def test_cli_other_errors(fixture_release, capsys, tmp_path, argv, message):
    err = _error(capsys, *argv, "--out", str(tmp_path / "x.pdf"))
    assert message in err


# ---------------------------------------------------------------- the dashboard's buttons
def test_dashboard_offers_brief_and_map_downloads(fixture_release):
    from streamlit.testing.v1 import AppTest

    for script, params, wanted in (
        ("../dashboard/pages/scorecard.py", {"area": "LCP03"},
         {"Download brief (PDF, one page)", "Download brief (PowerPoint slide)"}),
        ("../dashboard/pages/map.py", {"area": "LCP01", "indicator": "NI 55", "period": "2023/24"},
         {"Download map (PNG)"}),
    ):
        at = AppTest.from_file(script, default_timeout=60)
        for k, v in params.items():
            at.query_params[k] = v
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        labels = {e.proto.label for e in at.get("download_button")}
        assert wanted <= labels, labels


# ---------------------------------------------------------------- issue 13: priorities and the local plan
def _plan(n_actions: int = 3) -> "plans.BriefPlan":
    from pipelines import plans

    ratings = [("■ Overdue (due 31/03/2025; rated Green)", "red"), ("◆ On hold", "amber"), ("● Green", "green")]
    return plans.BriefPlan(
        priorities=[plans.BriefPriority("NI 55", "Obesity among primary school age children in Reception Year",
                                        "Local Area Agreement", "2023/24"),
                    plans.BriefPriority("NI 111", "First time entrants to the Youth Justice System aged 10-17",
                                        "Children and Young People's Plan", "2023/24")],
        actions=[plans.BriefAction(
            code=f"LP-{i:02d}", title=(NASTY if i == 1 else "Healthy schools programme across every primary school"),
            indicator_ids="NI 55; NI 111", lead="School nursing team", due="31/03/2025",
            status_text=ratings[i % 3][0], status_rag=ratings[i % 3][1],
            progress="2024/25 Q4: " + ("A long progress note about schools signing up. " * 4),
            working="NI 55 ► No significant change; NI 111 Cannot tell (withheld)") for i in range(1, n_actions + 1)],
        as_at="30/06/2025")


def test_brief_shows_priorities_first_and_the_plan_on_one_page(fixture_release, tmp_path):
    con = open_release(fixture_release)
    try:
        data = briefs.collect(ReleaseReader(con), "LCP03", plan=_plan())
    finally:
        con.close()
    data.map_png, data.map_size = _map_png(), (300, 420)
    pdf = brief_pdf.write_pdf(data, tmp_path / "plan.pdf")
    assert pdf_pages(pdf) == 1
    text = pdf_text(pdf)
    assert text.index("Board priorities") < text.index("Headline scorecard")  # priorities come first
    assert "NI 55 Obesity among primary school age children in Reception Year (Local Area Agreement)" in text
    assert "Local plan: actions and whether they are working" in text
    assert "LP-02" in text and "Overdue (due 31/03/2025; rated Green)" in text
    assert flat(NASTY) in text  # typed text drawn as typed, never obeyed
    width, height, words = pdf_words(pdf)
    margin = brief_pdf.MARGIN - 1
    for x0, y0, x1, y1, word in words:
        assert margin <= x0 and x1 <= width - margin and margin <= y0 and y1 <= height - margin, word
    boxes, _, notes = pptx_texts(brief_pptx.write_pptx(data, tmp_path / "plan.pptx"))
    assert any(b.startswith("Every indicator") and "Priorities: NI 55 (Local Area Agreement)" in b for b in boxes)
    assert "Board priorities:\n- NI 55 Obesity" in notes and f"- LP-01 {NASTY} [NI 55; NI 111]" in notes
    assert "Is it working: NI 55 ► No significant change; NI 111 Cannot tell (withheld)" in notes


@pytest.mark.parametrize("n", [16, 40])
def test_crowded_brief_with_a_long_plan_still_fits_one_page(tmp_path, n):
    data = _crowded(n)
    data.plan = _plan(9)
    pdf = brief_pdf.write_pdf(data, tmp_path / "crowded_plan.pdf")
    assert pdf_pages(pdf) == 1
    text = pdf_text(pdf)
    assert all(r.indicator_id in text for r in data.rows)
    assert "Also in the plan: LP-06, LP-07, LP-08, LP-09." in text
    width, height, words = pdf_words(pdf)
    for x0, y0, x1, y1, word in words:
        assert 0 <= x0 and x1 <= width and 0 <= y0 and y1 <= height, word
    boxes, _, notes = pptx_texts(brief_pptx.write_pptx(data, tmp_path / "crowded_plan.pptx"))
    assert "LP-09" in notes
