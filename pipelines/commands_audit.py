"""`lcp audit [RELEASE]`: check a published release (contract, consistency, disclosure).

Exit status 0 when the release passes, 1 (with the findings listed) when it does not.
"""
from __future__ import annotations

import argparse
from pathlib import Path


def _audit(args: argparse.Namespace) -> int:
    from pipelines.sdc_audit import audit_release  # noqa: PLC0415 (keeps `lcp --help` fast)

    report = audit_release(Path(args.release) if args.release else None, exact=args.exact)
    for line in report.summary_lines():
        print(line)
    if args.intervals:
        for (ind, period, area, breakdown, system), (lo, hi) in sorted(report.failing.items()):
            print(f"{ind}\t{period}\t{area}\t{breakdown}\t{system}\t{lo:g}\t{hi:g}")
    return 0 if report.ok else 1


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "audit", help="check a release: contract, internal consistency, and that no withheld count can be recovered"
    )
    p.add_argument("release", nargs="?", help="release file (default: the published release)")
    p.add_argument("--exact", action="store_true",
                   help="compute the exact interval of every withheld count (slower; default: certify each one)")
    p.add_argument("--intervals", action="store_true", help="list the interval of every failing count")
    p.set_defaults(func=_audit)


def __getattr__(name: str):
    """USER_ERRORS, imported only when an error is being reported (keeps `lcp --help` light): a
    block disclosure control cannot protect (inconsistent counts) is one line, not a traceback. A
    missing release is pipelines.release.ReleaseMissing, already a user error."""
    if name == "USER_ERRORS":
        from pipelines.disclosure import DisclosureError  # noqa: PLC0415

        return (DisclosureError,)
    raise AttributeError(name)
