"""Benchmarks, in named sections (`make bench`, or `python scripts/bench.py --only ingest`).

Each section prints what it measured on one line per figure. A section that needs data makes its own
in a temporary LCP_DATA_DIR, so the bench never touches the real stores.

- ingest: `lcp ingest` of one generated client-level CSV supply of `--rows` rows (default 1,000,000),
  run in a child process so that its peak memory (resource.getrusage RUSAGE_CHILDREN, max RSS) is the
  ingest's own: rows per second and peak memory.

- briefs: `lcp brief --all` (8 one-page briefs, every format: 24 files) on `--release FILE`, else the
  published release in LCP_DATA_DIR, else a demo release built in a temporary folder; the whole
  command's wall time, against the 60-second target (issue 9).

- disclosure: on a demo county (made in a temporary folder): primary and complementary suppression
  of every indicator, period and breakdown (in-process, `disclosure.suppress_with_report`), then the
  LP audit of the published release (`sdc_audit.audit_release`, what `lcp audit` runs); their sum
  against the 60-second target (issue 6), and the information loss by level.

- pipeline: the demo county end to end (`lcp demo`, `lcp ingest`, `lcp build`, each its own
  process): files, rows, values and the share withheld, and each step's wall time.

- pages: time to interactive of every dashboard page (issue 8: target 1 s) on the published release in
  LCP_DATA_DIR (else a demo release built in a temporary folder): `streamlit run` in the background,
  each page opened twice in Debian's Chromium with Playwright (cold = first visit, warm = again), timed
  from navigation until Streamlit has finished the run and nothing is stale. Printed, not asserted.

Add a section by writing `def bench_<name>(args) -> None` and listing it in SECTIONS.
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
import yaml  # noqa: E402

from pipelines import geography  # noqa: E402

AGREEMENT = {
    "supplier": "Lincolnshire Youth Offending Service (bench)",
    "supplier_code": "yos",
    "data_protection_registration": "Z0000000",
    "contact": "bench@example.org",
    "review_date": "2030-03-31",
    "datasets": [{
        "dataset": "yjs_disposals",
        "title": "Youth justice disposals",
        "indicators": ["NI 111", "NI 43"],
        "frequency": "annual",
        "format": "csv",
        "period_basis": "financial_year",
        "event_date_field": "disposal_date",
        "id_field": "young_person_id",
        "fields": [
            {"name": "young_person_id", "type": "string"},
            {"name": "disposal_date", "type": "date"},
            {"name": "disposal_type", "type": "category",
             "values": ["reprimand", "final_warning", "referral_order", "custody"]},
            {"name": "court_disposal", "type": "flag"},
            {"name": "first_time_entrant", "type": "flag"},
        ],
        "metadata": {"description": "bench", "date_provided": "2024-05-01", "refresh_date": "2025-05-01"},
    }],
}


def _rss_mb(ru_maxrss: int) -> float:
    return ru_maxrss / 1024 if sys.platform != "darwin" else ru_maxrss / 1024 / 1024


def write_supply(folder: Path, rows: int, seed: int = 1) -> Path:
    """A valid client-level CSV of `rows` rows (period 2023/24) and its agreement."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "agreement.yaml").write_text(yaml.safe_dump(AGREEMENT, sort_keys=False), encoding="utf-8")
    pcs = geography.postcodes()["postcode"].to_numpy()
    event = np.datetime64("2023-04-01") + rng.integers(0, 366, rows).astype("timedelta64[D]")
    dob = event - (rng.integers(10 * 365, 17 * 365, rows)).astype("timedelta64[D]")
    df = pl.DataFrame({
        "young_person_id": [f"YP{i:08d}" for i in rng.integers(0, rows // 2 + 1, rows)],
        "dob": pl.Series(dob).dt.strftime("%d/%m/%Y"),
        "gender": rng.choice(["M", "F"], rows),
        "postcode": rng.choice(pcs, rows),
        "ethnicity": rng.integers(1, 21, rows).astype(str),
        "disposal_date": pl.Series(event).dt.strftime("%d/%m/%Y"),
        "disposal_type": rng.choice(["reprimand", "final_warning", "referral_order", "custody"], rows),
        "court_disposal": rng.choice(["Y", "N"], rows),
        "first_time_entrant": rng.choice(["Y", "N"], rows),
    })
    path = folder / "yjs_disposals_2023-24.csv"
    df.write_csv(path)
    return path


def bench_ingest(args) -> None:
    with tempfile.TemporaryDirectory(prefix="lcp_bench_") as tmp:
        supplies = Path(tmp) / "supplies"
        t0 = time.perf_counter()
        path = write_supply(supplies / "yos", args.rows)
        size = path.stat().st_size
        print(f"ingest: generated {args.rows:,} rows ({size / 1e6:.0f} MB CSV) in {time.perf_counter() - t0:.1f}s")
        env = dict(os.environ, LCP_DATA_DIR=str(Path(tmp) / "data"))
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "pipelines.cli", "ingest", str(supplies)], cwd=ROOT, env=env,
                              capture_output=True, text=True)
        seconds = time.perf_counter() - t0
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        if proc.returncode != 0:
            raise SystemExit(f"ingest failed:\n{proc.stdout}\n{proc.stderr}")
        if peak <= before:
            peak_text = "peak memory not measured (an earlier child used more)"
        else:
            peak_text = f"peak memory {_rss_mb(peak):,.0f} MB"
        print(f"ingest: {args.rows:,} rows in {seconds:.1f}s = {args.rows / seconds:,.0f} rows/s; {peak_text} "
              f"(whole `lcp ingest` process, file {size / 1e6:.0f} MB)")


def bench_briefs(args) -> None:
    from pipelines import config

    with tempfile.TemporaryDirectory(prefix="lcp_bench_") as tmp:
        release = Path(args.release) if args.release else config.release_path()
        if not release.is_file():  # build a demo release to brief from
            env = dict(os.environ, LCP_DATA_DIR=str(Path(tmp) / "data"))
            t0 = time.perf_counter()
            for cmd in (["demo", "--out", str(Path(tmp) / "supplies")], ["ingest", str(Path(tmp) / "supplies")],
                        ["build"]):
                proc = subprocess.run([sys.executable, "-m", "pipelines.cli", *cmd], cwd=ROOT, env=env,
                                      capture_output=True, text=True)
                if proc.returncode != 0:
                    raise SystemExit(f"lcp {cmd[0]} failed:\n{proc.stdout}\n{proc.stderr}")
            release = Path(tmp) / "data" / "published" / "scorecard.duckdb"
            print(f"briefs: built a demo release in {time.perf_counter() - t0:.1f}s (not counted)")
        for formats in ([], ["--format", "pdf"]):
            out = Path(tmp) / f"briefs{len(formats)}"
            t0 = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "pipelines.cli", "brief", "--all", "--out", str(out),
                                   "--release", str(release), *formats], cwd=ROOT, capture_output=True, text=True)
            seconds = time.perf_counter() - t0
            if proc.returncode != 0:
                raise SystemExit(f"lcp brief --all failed:\n{proc.stdout}\n{proc.stderr}")
            files = sorted(out.iterdir())
            areas = len({f.stem for f in files})
            what = "PDF only" if formats else "PDF, PowerPoint and PNG"
            verdict = "within" if seconds < 60 else "OVER"
            print(f"briefs: {areas} areas, {what} ({len(files)} files) in {seconds:.1f}s "
                  f"(whole `lcp brief --all` process; {verdict} the 60 s target)")


def bench_disclosure(args) -> None:
    """Disclosure control for the whole county demo release: suppression (every indicator, period and
    breakdown), then `lcp audit` over the published file; target: both together under 60 s."""
    from pipelines import build, config, disclosure, geography, measures, sdc_audit
    from pipelines.restricted_store import RestrictedStore
    from pipelines.specs import load_indicators

    with tempfile.TemporaryDirectory(prefix="lcp_bench_") as tmp:
        env = dict(os.environ, LCP_DATA_DIR=str(Path(tmp) / "data"))
        for cmd in (["demo", "--out", str(Path(tmp) / "supplies")], ["ingest", str(Path(tmp) / "supplies")]):
            proc = subprocess.run([sys.executable, "-m", "pipelines.cli", *cmd], cwd=ROOT, env=env,
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                raise SystemExit(f"lcp {cmd[0]} failed:\n{proc.stdout}\n{proc.stderr}")
        previous = os.environ.get("LCP_DATA_DIR")
        os.environ["LCP_DATA_DIR"] = env["LCP_DATA_DIR"]
        try:
            specs = load_indicators()
            with RestrictedStore() as store:
                records = {d: store.scan(d).lazy() for d in store.datasets()}
            hierarchy = geography.hierarchy()
            frames = []
            for spec in specs:
                if spec.dataset not in records:
                    continue
                recs = records[spec.dataset]
                years = sorted(recs.select(measures.period_expr(spec.period_basis)).unique().collect()["period"]
                               .drop_nulls())
                frames.append(measures.indicator_counts(recs, spec, hierarchy, geography.population().lazy(), years))
            counts = pl.concat(frames).collect()
            cells, cell_ind = measures.disclosure_view(counts, build.indicators_table(specs), config.suppression_threshold())
            t0 = time.perf_counter()
            _, rep = disclosure.suppress_with_report(cells, cell_ind, hierarchy, config.suppression_threshold())
            t_suppress = time.perf_counter() - t0
            print(f"disclosure: suppression of {rep.rows:,} counts ({rep.blocks} indicator-years): {rep.primary:,} "
                  f"primary, {rep.complementary:,} complementary ({rep.forced} from the interval check), "
                  f"{rep.lps:,} LPs in {t_suppress:.1f}s")
            t0 = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "pipelines.cli", "build"], cwd=ROOT, env=env,
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                raise SystemExit(f"lcp build failed:\n{proc.stdout}\n{proc.stderr}")
            print(f"disclosure: whole `lcp build` (measures, suppression, assessment, audit, publish) in "
                  f"{time.perf_counter() - t0:.1f}s")
            t0 = time.perf_counter()
            audit = sdc_audit.audit_release(config.release_path())
            t_audit = time.perf_counter() - t0
        finally:
            if previous is None:
                os.environ.pop("LCP_DATA_DIR", None)
            else:
                os.environ["LCP_DATA_DIR"] = previous
        print(f"disclosure: audit of the published release: {audit.counts_checked:,} withheld counts "
              f"({audit.lp_checks:,} distinct, {audit.lps:,} LPs) in {t_audit:.1f}s; "
              f"{'passed' if audit.ok else 'FAILED'}")
        total = t_suppress + t_audit
        verdict = "within" if total < 60 else "OVER"
        print(f"disclosure: suppression + audit {total:.1f}s ({verdict} the 60 s target; {os.cpu_count()} CPUs)")
        for line in audit.loss_lines():
            print(f"disclosure: {line.strip()}")


def _lcp(env: dict, *cmd: str) -> float:
    """Run one `lcp` command in a child process; its wall time in seconds (exits on failure)."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pipelines.cli", *cmd], cwd=ROOT, env=env, capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise SystemExit(f"lcp {cmd[0]} failed:\n{proc.stdout}\n{proc.stderr}")
    return time.perf_counter() - t0


def bench_pipeline(args) -> None:
    """The demo county end to end, each step as its own `lcp` process: demo, ingest, build."""
    import duckdb

    with tempfile.TemporaryDirectory(prefix="lcp_bench_") as tmp:
        env = dict(os.environ, LCP_DATA_DIR=str(Path(tmp) / "data"))
        supplies = Path(tmp) / "supplies"
        t_demo = _lcp(env, "demo", "--out", str(supplies))
        files = [f for f in supplies.rglob("*") if f.suffix in (".csv", ".xlsx")]
        size = sum(f.stat().st_size for f in files)
        print(f"pipeline: lcp demo wrote {len(files)} supply files ({size / 1e6:.0f} MB) in {t_demo:.1f}s")
        t_ingest = _lcp(env, "ingest", str(supplies))
        con = duckdb.connect(str(Path(tmp) / "data" / "restricted" / "store.duckdb"), read_only=True)
        try:
            rows = int(con.execute("SELECT CAST(sum(rows) AS BIGINT) FROM supplies").fetchall()[0][0])
        finally:
            con.close()
        print(f"pipeline: lcp ingest {rows:,} client rows in {t_ingest:.1f}s = {rows / t_ingest:,.0f} rows/s")
        t_build = _lcp(env, "build")
        con = duckdb.connect(str(Path(tmp) / "data" / "published" / "scorecard.duckdb"), read_only=True)
        try:
            n_ind = con.execute("SELECT count(*) FROM indicators").fetchall()[0][0]
            n, withheld = con.execute(
                "SELECT count(*), CAST(sum(CASE WHEN suppressed THEN 1 ELSE 0 END) AS BIGINT) FROM indicator_values"
            ).fetchall()[0]
        finally:
            con.close()
        print(f"pipeline: lcp build {n_ind} indicators, {n:,} values ({withheld / n:.0%} withheld) in {t_build:.1f}s")
        print(f"pipeline: demo + ingest + build {t_demo + t_ingest + t_build:.1f}s ({os.cpu_count()} CPUs)")


PAGE_URLS = {
    "overview": "/?area=LCP02", "map": "/map?area=LCP02&indicator=NI+56&colour=rag",
    "profile": "/profile?area=LCP02", "indicator": "/indicator?indicator=NI+56&area=LCP02",
    "exceptions": "/exceptions", "methods": "/methods", "changes": "/changes",
}


def bench_pages(args) -> None:
    import socket
    import urllib.request

    from playwright.sync_api import sync_playwright

    from pipelines import config

    with tempfile.TemporaryDirectory(prefix="lcp_bench_") as tmp:
        env = dict(os.environ)
        if not config.release_path().is_file():
            env["LCP_DATA_DIR"] = str(Path(tmp) / "data")
            for cmd in (["demo", "--out", str(Path(tmp) / "supplies")], ["ingest", str(Path(tmp) / "supplies")], ["build"]):
                proc = subprocess.run([sys.executable, "-m", "pipelines.cli", *cmd], cwd=ROOT, env=env,
                                      capture_output=True, text=True)
                if proc.returncode != 0:
                    raise SystemExit(f"lcp {cmd[0]} failed:\n{proc.stdout}\n{proc.stderr}")
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        server = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "dashboard/app.py", "--server.port", str(port),
             "--server.headless", "true", "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        settled = ("() => document.querySelector('[data-testid=\"stMain\"]')"
                   " && !document.querySelector('[data-testid=\"stStatusWidget\"]')"
                   " && !document.querySelector('[data-stale=\"true\"]')"
                   " && document.querySelectorAll('[data-testid=\"stMainBlockContainer\"] [data-testid=\"stElementContainer\"]').length > 3")
        try:
            for _ in range(120):
                try:
                    with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
                        if r.read().strip() == b"ok":
                            break
                except OSError:
                    time.sleep(0.5)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(base + "/", wait_until="domcontentloaded")
                page.wait_for_function(settled, timeout=120_000)
                for name, path in PAGE_URLS.items():
                    times = []
                    for _ in range(2):
                        t0 = time.perf_counter()
                        page.goto(base + path, wait_until="domcontentloaded")
                        page.wait_for_timeout(150)  # let the run start before waiting for it to end
                        page.wait_for_function(settled, timeout=120_000)
                        times.append(time.perf_counter() - t0)
                    verdict = "within" if times[1] < 1.0 else "OVER"
                    print(f"pages: {name:<11} cold {times[0]:.2f}s, warm {times[1]:.2f}s ({verdict} the 1 s target, warm)")
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=20)


SECTIONS: dict[str, Callable[[argparse.Namespace], None]] = {
    "pipeline": bench_pipeline,
    "ingest": bench_ingest,
    "briefs": bench_briefs,
    "disclosure": bench_disclosure,
    "pages": bench_pages,
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", choices=sorted(SECTIONS), action="append", help="run only this section (repeatable)")
    p.add_argument("--rows", type=int, default=1_000_000, help="rows in the generated supply (ingest)")
    p.add_argument("--release", help="release file for the briefs section (default: the published one, else a demo)")
    args = p.parse_args(argv)
    for name in args.only or list(SECTIONS):
        SECTIONS[name](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
