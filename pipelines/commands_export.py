"""`lcp export [--format parquet|csv] --out DIR [--release FILE]`: a release as open data."""
from __future__ import annotations

from pathlib import Path


def _export(args) -> int:
    from pipelines.export import export_release

    meta = export_release(Path(args.out), args.format, Path(args.release) if args.release else None)
    rows = ", ".join(f"{name} {t['rows']:,}" for name, t in meta["tables"].items())
    print(f"wrote release {meta['release_id']} as {args.format} to {args.out}: {rows}, metadata.json")
    return 0


def register(sub) -> None:
    e = sub.add_parser("export", help="write a release as open data (Parquet or CSV, with metadata.json)")
    e.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    e.add_argument("--out", required=True)
    e.add_argument("--release", help="a release file (default: the published release)")
    e.set_defaults(func=_export)
