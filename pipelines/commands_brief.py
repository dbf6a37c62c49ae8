"""`lcp brief AREA --out FILE` and `lcp brief --all --out DIR`: one-page briefs from the published release.

AREA: a partnership code (LCP01-LCP07) or name, or the county (E10000019 / Lincolnshire). FILE's
suffix picks the format: .pdf, .pptx or .png. `--all` writes brief_<code>.<ext> for every area, in
every format or the one `--format` names. See docs/briefs.md.
"""
from __future__ import annotations

import time
from pathlib import Path

from pipelines.brief_text import FORMATS, BriefError

USER_ERRORS = (BriefError,)


def _brief(args) -> int:
    from pipelines import briefs

    if args.all and args.area:
        raise BriefError("give either an AREA or --all, not both")
    if not args.all and not args.area:
        raise BriefError("give an AREA (e.g. LCP01 or Lincolnshire) or --all")
    release = Path(args.release) if args.release else None
    started = time.perf_counter()
    notes = _commentary(release, args.period, None if args.all else args.area)
    plans = _plans(release, None if args.all else args.area)
    if args.all:
        formats = [f".{args.format}"] if args.format else list(FORMATS)
        written = briefs.write_all(Path(args.out), formats, release=release, period=args.period, commentary=notes,
                                   plans=plans)
        areas = len({p.stem for p in written})
        print(f"wrote {len(written)} files ({', '.join(formats)}) for {areas} areas to {args.out} "
              f"in {time.perf_counter() - started:.1f} s")
        return 0
    if args.format:
        raise BriefError("--format goes with --all; a single brief takes its format from --out's suffix")
    briefs.check_suffix(args.out)
    path = briefs.write_brief(args.area, Path(args.out), release=release, period=args.period,
                              map_indicator=args.map_indicator, commentary=next(iter(notes.values()), None),
                              plan=next(iter(plans.values()), None))
    print(f"wrote the brief for {args.area} to {path} in {time.perf_counter() - started:.1f} s")
    return 0


def _commentary(release: Path | None, period: str | None, area: str | None) -> dict[str, dict[str, str]]:
    """Analysts' commentary from the working store (issue 7): area_code -> (indicator_id -> text), matched
    to the period each brief shows; {} when there is no working store or the area is not valid."""
    from pipelines import commentary

    return _for_brief_areas(release, area, lambda reader, codes: commentary.briefs_mapping(reader, codes, period))


def _plans(release: Path | None, area: str | None) -> dict:
    """Priorities and local plans from the working store (issue 13): area_code -> plans.BriefPlan; {} when
    there is no working store, no release or the area is not valid."""
    from pipelines import plans

    return _for_brief_areas(release, area, plans.briefs_mapping)


def _for_brief_areas(release: Path | None, area: str | None, mapping) -> dict:
    """`mapping(reader, area codes)` for the briefs' areas (`area`, or every valid one with --all);
    {} when there is no working store, no release (the brief itself says so) or the area is not valid."""
    from pipelines import briefs
    from pipelines.release import ReleaseMissing, ReleaseReader, open_release
    from pipelines.working_store import WorkingStore

    if not WorkingStore.exists():
        return {}
    try:
        con = open_release(release)
    except ReleaseMissing:
        return {}
    try:
        reader = ReleaseReader(con)
        if area is None:
            codes = briefs.valid_areas(reader)["area_code"].to_list()
        else:
            try:
                codes = [briefs.resolve_area(reader, area)[0]]
            except BriefError:
                return {}
        return mapping(reader, codes)
    finally:
        con.close()


def register(sub) -> None:
    b = sub.add_parser(
        "brief", help="write a one-page brief for an area (.pdf, .pptx or .png by suffix), or --all areas",
        description="A one-page brief from the published release: scorecard, map, exceptions, legend, notes.",
    )
    b.add_argument("area", nargs="?", help="LCP01-LCP07 or a partnership name, or E10000019 / Lincolnshire")
    b.add_argument("--all", action="store_true", help="every partnership area and the county")
    b.add_argument("--out", required=True, help="FILE (.pdf, .pptx, .png), or DIR with --all")
    b.add_argument("--format", choices=[f.lstrip(".") for f in FORMATS], help="with --all: only this format")
    b.add_argument("--period", help="one period for every indicator (default: each indicator's latest)")
    b.add_argument("--map-indicator", help="the indicator to map (default: chosen from the exceptions)")
    b.add_argument("--release", help="a release file (default: the published release)")
    b.set_defaults(func=_brief)
