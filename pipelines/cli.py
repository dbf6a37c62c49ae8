"""The `lcp` command. Each user error is one clear line on stderr and a non-zero exit, no traceback."""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from pipelines import config


class UserError(Exception):
    """A problem the user can fix; printed as one line."""


def _demo(args) -> int:
    from pipelines.demo import write_demo

    if args.scale == "county" and (config.geo_dir() / "synthetic.json").is_file():
        raise UserError(f"{config.geo_dir()} is a synthetic geography (an earlier `lcp demo --scale ...`): use another "
                        f"LCP_DATA_DIR for the county, or delete that folder")
    summary = write_demo(Path(args.out), seed=args.seed, scale=args.scale)
    print(
        f"wrote {summary['files']} supply files ({summary['rows']:,} rows) from {summary['suppliers']} suppliers "
        f"to {summary['out']}"
    )
    if "geo" in summary:
        print(f"synthetic geography: {summary['geo_wards']:,} wards in {summary['geo_districts']} districts in "
              f"{summary['geo_counties']} counties, top area England, in {summary['geo']} (read by ingest and build)")
    return 0


def _ingest(args) -> int:
    from pipelines.ingest import ingest_dir

    path = Path(args.dir)
    if not path.exists():
        raise UserError(f"{path}: no such directory")
    results = ingest_dir(path)
    if not results:
        raise UserError(f"{path}: no supplier folders with an agreement.yaml and supply files found")
    rejected = 0
    for r in results:
        if r.outcome == "loaded":
            warn = f", {len(r.warnings)} warning(s)" if r.warnings else ""
            print(f"loaded   {r.file}: {r.rows:,} rows ({r.dataset} {r.period}){warn}; report {r.report_path}")
        else:
            rejected += 1
            print(f"rejected {r.error()}", file=sys.stderr)
            if len(r.errors) > 1:
                for p in r.errors[:20]:
                    print(f"  {p.file}: {p}", file=sys.stderr)
                if len(r.errors) > 20:
                    print(f"  ... and {len(r.errors) - 20} more", file=sys.stderr)
            print(f"  report for the supplier: {r.report_path}", file=sys.stderr)
    if rejected:
        print(f"lcp ingest: {rejected} of {len(results)} supplies rejected; they changed nothing", file=sys.stderr)
        return 1
    return 0


def _build(args) -> int:
    from pipelines.build import build

    report = build(draft=args.draft)
    print(report.summary())
    if args.draft:
        print(f"draft release (not published): analysts see it in the dashboard with 'Show draft release'; "
              f"the live release {config.release_path()} is unchanged")
    return 0


def _serve(args) -> int:
    login = args.login or config.login_required()
    if not config.release_path().exists():
        raise UserError(f"no published release at {config.release_path()}: run `lcp build` (or `make run`)")
    env = dict(os.environ, LCP_DATA_DIR=str(config.data_dir()), LCP_LOGIN="1" if login else "0")
    access = "open: published figures only, no login"
    if login:
        accounts = _dashboard_accounts()
        access = f"behind the partner login (accounts in {accounts})"
        env["LCP_AUTH_FILE"] = str(accounts)
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(config.DASHBOARD_DIR / "app.py"),
        "--server.port", str(args.port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
    ]
    print(f"serving the LCP scorecard on http://localhost:{args.port} (release {config.release_path()}; {access})")
    return subprocess.call(cmd, cwd=config.ROOT, env=env)


def _dashboard_accounts() -> Path:
    """The credentials file, if it holds a viewer or analyst account; else a one-line UserError."""
    from pipelines import auth

    path = auth.auth_file()
    fix = "add one with `lcp users add NAME --role analyst` (or --role viewer)"
    if not path.exists():
        raise UserError(f"--login: no credentials file at {path}: {fix}")
    try:
        users = auth.load_users(path)
    except auth.AuthError as e:
        raise UserError(f"--login: {e}") from None
    if not any(u.role in ("viewer", "analyst") for u in users.values()):
        raise UserError(f"--login: no viewer or analyst account in {path}: {fix}")
    return path


#: Modules that add their own subcommands: every `pipelines/commands_<group>.py` defines
#: `register(subparsers)` (setting `func` on its parsers) and may list `USER_ERRORS`. They are found by
#: name, so a new command group is a new file and this one stays small.
COMMAND_MODULES: tuple[str, ...] = tuple(
    f"pipelines.{p.stem}" for p in sorted((config.ROOT / "pipelines").glob("commands_*.py"))
)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lcp", description="LCP Scorecard: supplies in, published scorecard out.")
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="write realistic synthetic supplies with their agreements")
    d.add_argument("--scale", choices=["county", "10x", "national"], default="county",
                   help="10x / national: a synthetic England-shaped geography (1,550 / 7,000 wards; written to "
                        "LCP_DATA_DIR/geo) and its supplies, as CSV")
    d.add_argument("--seed", type=int, default=2026)
    d.add_argument("--out", default=str(config.data_dir() / "demo_supplies"))
    d.set_defaults(func=_demo)
    i = sub.add_parser("ingest", help="validate, pseudonymise and load every supply in DIR (or an encrypted zip)")
    i.add_argument("dir", help="a folder of supplier folders, one supplier folder, or an AES-256 zip of them")
    i.set_defaults(func=_ingest)
    b = sub.add_parser("build", help="compute, protect, assess and publish a new release")
    b.add_argument("--draft", action="store_true",
                   help="write a release candidate to published/draft.duckdb (for analysts); the live release is untouched")
    b.set_defaults(func=_build)
    s = sub.add_parser("serve", help="start the dashboard on the published release")
    s.add_argument("--port", type=int, default=8501)
    s.add_argument("--login", action="store_true",
                   help="behind the partner login (viewer and analyst accounts: `lcp users add`); also LCP_LOGIN=1")
    s.set_defaults(func=_serve)
    for name in COMMAND_MODULES:
        __import__(name, fromlist=["register"]).register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # user-facing errors: one line, no traceback
        known = _known_errors()
        if isinstance(e, known):
            print(f"lcp {args.command}: error: {e}", file=sys.stderr)
            return 1
        raise


def _known_errors() -> tuple[type[BaseException], ...]:
    """User-facing error classes. Only modules already imported are consulted: an error class of a
    module that was never imported cannot have been raised, and importing it here (e.g. the build,
    which loads scipy) would add seconds to every error message."""
    errors: list[type[BaseException]] = [UserError, FileNotFoundError, PermissionError]
    for mod, name in (("pipelines.specs", "SpecError"), ("pipelines.ingest", "IngestError"),
                      ("pipelines.build", "BuildError"), ("pipelines.release", "ReleaseMissing"),
                      ("pipelines.restricted_store", "StoreError"), ("pipelines.publish", "ReleaseContractError")):
        cls = getattr(sys.modules.get(mod), name, None)
        if cls is not None:
            errors.append(cls)
    for name in COMMAND_MODULES:  # a command module may declare its own user-facing errors
        errors.extend(getattr(sys.modules.get(name), "USER_ERRORS", ()))
    return tuple(errors)


if __name__ == "__main__":
    sys.exit(main())
