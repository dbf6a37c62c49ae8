"""`lcp plan import FILE`, `lcp plan export AREA --out FILE`, `lcp plan list AREA`: priorities and local plans.

The plan is partnership working data (`pipelines.plans`, working store), not part of the release. Import
checks every row of the contract's CSV (docs/contract.md, "Local plans") and loads all of it or nothing,
naming every problem by row and field. Export writes an area's priorities and plan, with each action's
derived status (overdue as at the published release's date), as .csv or .xlsx. See docs/plans.md.
"""
from __future__ import annotations

import getpass
import sys
from pathlib import Path

from pipelines.plans import PlanError

USER_ERRORS = (PlanError,)


def _release_bits():
    """(release info, indicator ids, partnership code -> name) from the published release; ({}, specs'
    indicators, geography's partnerships) when there is none."""
    from pipelines import config, geography
    from pipelines.release import ReleaseMissing, ReleaseReader, open_release

    names = dict(geography.partnerships().select("partnership_code", "partnership_name").iter_rows())
    if config.release_path().is_file():
        try:
            con = open_release()
        except ReleaseMissing:
            con = None
        if con is not None:
            try:
                reader = ReleaseReader(con)
                return reader.release_info(), reader.indicators()["indicator_id"].to_list(), names
            finally:
                con.close()
    from pipelines.specs import load_indicators

    return {}, [i.id for i in load_indicators()], names


def _area(text: str, names: dict[str, str]) -> str:
    wanted = str(text or "").strip().casefold()
    for code, name in names.items():
        if wanted in (code.casefold(), str(name).casefold()):
            return code
    listing = ", ".join(f"{c} ({n})" for c, n in names.items())
    raise PlanError(f"unknown partnership area {text!r}: choose one of {listing}")


def _import(args) -> int:
    from pipelines import plans

    path = Path(args.file)
    if not path.is_file():
        raise PlanError(f"{path}: no such file")
    _, indicators, names = _release_bits()
    try:
        counts = plans.import_csv(path, args.actor or getpass.getuser(), areas=names, indicators=indicators)
    except plans.PlanImportError as e:
        print(f"lcp plan import: {path}: {len(e.problems)} problem(s); nothing was imported:", file=sys.stderr)
        for p in e.problems:
            print(f"  {path}: {p}", file=sys.stderr)
        return 1
    print(f"imported {path}: {counts['added']} action(s) added, {counts['updated']} updated, "
          f"{counts['unchanged']} unchanged, {counts['progress']} progress note(s)")
    return 0


def _export(args) -> int:
    from pipelines import plans

    info, _, names = _release_bits()
    code = _area(args.area, names)
    out = plans.export(code, Path(args.out), area_name=names[code], release_info=info)
    n = plans.actions(code).height
    print(f"wrote the priorities and local plan of {names[code]} ({n} action(s)) to {out}")
    return 0


def _list(args) -> int:
    from pipelines import plans

    info, _, names = _release_bits()
    code = _area(args.area, names)
    when = plans.release_date(info)
    pri = plans.priorities(code)
    print(f"{names[code]} ({code}): overdue judged at {when or 'no release'}")
    print("Priorities:" if pri.height else "Priorities: none chosen")
    for r in pri.iter_rows(named=True):
        print(f"  {r['indicator_id']} ({r['plan_name']}, {r['period']})")
    table = plans.plan_table(code, when)
    print("Actions:" if table.height else "Actions: none")
    for r in table.iter_rows(named=True):
        print(f"  {r['code']}: {r['title']} [{r['indicator_ids']}] lead {r['lead']}, due {r['due_date']}: {r['status']}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("plan", help="priorities and local plans (partnership working data): import, export, list",
                       description="Priorities and local plans, kept apart from the release (docs/plans.md).")
    ps = p.add_subparsers(dest="plan_command", required=True)
    i = ps.add_parser("import", help="load actions from a CSV (docs/contract.md, Local plans): all or nothing")
    i.add_argument("file")
    i.add_argument("--actor", help="who is making the change (default: your login name)")
    i.set_defaults(func=_import)
    e = ps.add_parser("export", help="write an area's priorities and local plan (.csv or .xlsx by suffix)")
    e.add_argument("area", help="LCP01-LCP07 or a partnership name")
    e.add_argument("--out", required=True, help="FILE.csv or FILE.xlsx")
    e.set_defaults(func=_export)
    li = ps.add_parser("list", help="print an area's priorities and actions with their status")
    li.add_argument("area", help="LCP01-LCP07 or a partnership name")
    li.set_defaults(func=_list)
