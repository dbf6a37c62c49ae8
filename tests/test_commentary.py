"""Analysts' commentary per indicator, area and period, in the working store (issue 7)."""
from __future__ import annotations

import ast
from pathlib import Path

import polars as pl
import pytest

from pipelines import commentary
from pipelines.working_store import WorkingStore


@pytest.fixture()
def store_path(tmp_path) -> Path:
    return tmp_path / "working" / "working.duckdb"


def test_reading_without_a_store_gives_an_empty_frame_and_creates_nothing(store_path):
    out = commentary.current(path=store_path)
    assert out.height == 0 and out.schema == pl.Schema(commentary.CURRENT_SCHEMA)
    assert commentary.current("LCP01", path=store_path).height == 0
    assert commentary.history("NI 55", "LCP01", "2024/25", path=store_path).height == 0
    assert not store_path.exists() and not store_path.parent.exists()


def test_save_update_and_clear_keep_one_current_comment_and_the_history(store_path):
    commentary.save("NI 55", "LCP01", "2024/25", "Rise follows a change of measurement team.", "ana", store_path)
    commentary.save("NI 56", "LCP01", "2024/25", "On track.", "ana", store_path)
    commentary.save("NI 55", "LCP02", "2024/25", "Other area.", "bob", store_path)
    cur = commentary.current("LCP01", path=store_path)
    assert cur.columns == ["indicator_id", "area_code", "period", "text", "updated_by", "updated_at"]
    assert cur.select("indicator_id", "text").rows() == [
        ("NI 55", "Rise follows a change of measurement team."), ("NI 56", "On track.")]
    # saving again updates the one comment (no second row)
    commentary.save("NI 55", "LCP01", "2024/25", "Checked with LCHS: a real rise.", "bob", store_path)
    cur = commentary.current("LCP01", path=store_path)
    assert cur.height == 2
    row = cur.filter(pl.col("indicator_id") == "NI 55").row(0, named=True)
    assert row["text"] == "Checked with LCHS: a real rise." and row["updated_by"] == "bob"
    # a different period is a different comment
    commentary.save("NI 55", "LCP01", "2023/24", "Last year.", "ana", store_path)
    assert commentary.current("LCP01", path=store_path).height == 3
    # empty text clears it; the history keeps every version
    commentary.save("NI 55", "LCP01", "2024/25", "", "cy", store_path)
    assert commentary.current("LCP01", path=store_path).filter(
        (pl.col("indicator_id") == "NI 55") & (pl.col("period") == "2024/25")).height == 0
    hist = commentary.history("NI 55", "LCP01", "2024/25", path=store_path)
    assert hist.select("action", "actor", "text").rows() == [
        ("add", "ana", "Rise follows a change of measurement team."),
        ("update", "bob", "Checked with LCHS: a real rise."),
        ("clear", "cy", ""),
    ]
    # clearing again, or clearing what was never written, changes nothing
    commentary.save("NI 55", "LCP01", "2024/25", "   ", "cy", store_path)
    commentary.save("NI 99", "LCP01", "2024/25", "", "cy", store_path)
    assert commentary.history("NI 55", "LCP01", "2024/25", path=store_path).height == 3
    assert commentary.history("NI 99", "LCP01", "2024/25", path=store_path).height == 0
    # writing after a clear brings it back, as a new version of the same comment
    commentary.save("NI 55", "LCP01", "2024/25", "Back.", "ana", store_path)
    assert commentary.history("NI 55", "LCP01", "2024/25", path=store_path)["action"].to_list()[-1] == "update"
    assert commentary.current(path=store_path).height == 4  # all areas


def test_text_is_stored_as_typed_and_limited(store_path):
    typed = "  =SUM(A1:A9) <b>not bold</b>\n'; DROP TABLE commentary; --  "
    commentary.save("NI 55", "LCP01", "2024/25", typed, "ana", store_path)
    assert commentary.current(path=store_path)["text"][0] == typed
    longest = "x" * commentary.MAX_LENGTH
    commentary.save("NI 56", "LCP01", "2024/25", longest, "ana", store_path)
    with pytest.raises(commentary.CommentaryError, match="at most 2,000 characters"):
        commentary.save("NI 56", "LCP01", "2024/25", longest + "y", "ana", store_path)
    assert commentary.current(path=store_path).filter(pl.col("indicator_id") == "NI 56")["text"][0] == longest
    for bad in (("", "LCP01", "2024/25", "ana"), ("NI 55", "", "2024/25", "ana"), ("NI 55", "LCP01", "", "ana"),
                ("NI 55", "LCP01", "2024/25", "")):
        with pytest.raises(commentary.CommentaryError):
            commentary.save(bad[0], bad[1], bad[2], "text", bad[3], store_path)


def test_commentary_lives_in_the_working_store_outside_the_release(store_path):
    commentary.save("NI 55", "LCP01", "2024/25", "Kept out of the release.", "ana", store_path)
    with WorkingStore(store_path, read_only=True) as ws:
        items = ws.items(commentary.COMMENTARY)
        events = ws.history(commentary.COMMENTARY)
    assert items.height == 1 and events.height == 1 and events["kind"][0] == "commentary"
    rows = pl.DataFrame({"indicator_id": ["NI 55", "NI 56"], "area_code": ["LCP01", "LCP01"],
                         "period": ["2024/25", "2024/25"]})
    joined = commentary.for_release_rows(rows, path=store_path)
    assert joined["commentary"].to_list() == ["Kept out of the release.", None]


def test_commentary_does_not_import_streamlit():
    source = Path(commentary.__file__).read_text()
    imported = {n.names[0].name if isinstance(n, ast.Import) else n.module
                for n in ast.walk(ast.parse(source)) if isinstance(n, (ast.Import, ast.ImportFrom))}
    assert not any(m and m.split(".")[0] in {"streamlit", "dashboard"} for m in imported)


def test_commentary_for_briefs_matches_the_period_each_brief_shows(store_path, tmp_path):
    import fixture_release as fx

    from pipelines.release import ReleaseReader, open_release

    release = fx.write_fixture_release(tmp_path / "scorecard.duckdb")
    commentary.save("NI 55", "LCP01", "2023/24", "Shown: the brief's period.", "ana", store_path)
    commentary.save("NI 111", "LCP01", "2022/23", "Not shown: an older period.", "ana", store_path)
    commentary.save("NI 55", "LCP03", "2023/24", "Lincoln.", "ana", store_path)
    con = open_release(release)
    try:
        mapping = commentary.briefs_mapping(ReleaseReader(con), ["LCP01", "LCP03"], path=store_path)
        older = commentary.briefs_mapping(ReleaseReader(con), ["LCP01"], period="2022/23", path=store_path)
        assert commentary.briefs_mapping(ReleaseReader(con), ["LCP01"], path=tmp_path / "none.duckdb") == {}
    finally:
        con.close()
    assert mapping == {"LCP01": {"NI 55": "Shown: the brief's period."}, "LCP03": {"NI 55": "Lincoln."}}
    assert older == {"LCP01": {"NI 111": "Not shown: an older period."}}
