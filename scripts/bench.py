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
import json
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
    "exceptions": "/exceptions", "plan": "/plan?area=LCP02", "methods": "/methods", "changes": "/changes",
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
                # Moving between pages as a user does (the sidebar menu, one session, no reload): the click
                # until the new page has finished running; three rounds through the menu, the median.
                import yaml

                titles = [p_["title"] for p_ in yaml.safe_load((ROOT / "dashboard" / "pages.yaml").read_text())]
                page.goto(base + "/?area=LCP02", wait_until="domcontentloaded")
                page.wait_for_function(settled, timeout=120_000)
                clicks: dict[str, list[float]] = {t: [] for t in titles}
                for _ in range(3):
                    for title in titles:
                        t0 = time.perf_counter()
                        page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title).click()
                        page.get_by_role("heading", name=title).first.wait_for(timeout=120_000)
                        page.wait_for_function(settled, timeout=120_000)
                        clicks[title].append(time.perf_counter() - t0)
                for title, ts in clicks.items():
                    med = sorted(ts)[len(ts) // 2]
                    verdict = "within" if med < 1.0 else "OVER"
                    print(f"pages: menu -> {title:<24} median {med:.2f}s of {len(ts)} ({verdict} the 1 s target)")
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=20)


# ---------------------------------------------------------------- scale (issue 10)
#: each step in a child process that reports its own peak memory (max RSS of itself and of its largest
#: worker process: the build's suppression workers are its children)
_STEP = """
import json, os, resource, sys, threading, time
from pipelines.cli import main

peak = {"workers": 0, "total": 0}


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))
    except (OSError, StopIteration):
        return 0


def children(pid):
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                out += [int(c) for c in fh.read().split()]
    except OSError:
        pass
    return out + [g for c in out for g in children(c)]


def sample():  # worker processes' memory, summed (ru_maxrss of children counts a fork's copy of us)
    while True:
        kids = sum(rss_kb(c) for c in children(os.getpid()))
        peak["workers"] = max(peak["workers"], kids)
        peak["total"] = max(peak["total"], kids + rss_kb(os.getpid()))
        time.sleep(0.25)


threading.Thread(target=sample, daemon=True).start()
rc = main(sys.argv[2:])
s = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
open(sys.argv[1], "w").write(json.dumps({"self": s, "workers": peak["workers"], "total": max(peak["total"], s)}))
sys.exit(rc)
"""


def _step(env: dict, log: Path, *cmd: str) -> tuple[float, float, float]:
    """`lcp CMD` in a child process: wall seconds, its peak RSS (MB) and the peak of its RSS plus its
    worker processes' (MB, sampled every 0.25 s: the whole process tree)."""
    out = log.with_suffix(".rss.json")
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.run([sys.executable, "-c", _STEP, str(out), *cmd], cwd=ROOT, env=env, stdout=fh,
                              stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"lcp {cmd[0]} failed; see {log}:\n{log.read_text()[-3000:]}")
    rss = json.loads(out.read_text())
    return seconds, _rss_mb(rss["self"]), _rss_mb(rss["total"])


_FLOOR = """
import duckdb, sys, time
con = duckdb.connect(sys.argv[1], read_only=True)
t0 = time.perf_counter()
tables = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables WHERE table_name LIKE 'ds_%'").fetchall()]
parts = []
for t in tables:
    cols = {r[0] for r in con.execute("SELECT column_name FROM information_schema.columns WHERE table_name = ?", [t]).fetchall()}
    parts.append(f"SELECT {'ward_code' if 'ward_code' in cols else 'area_code'} AS ward_code FROM {t}")
rows = con.execute(f"SELECT ward_code, count(*) FROM ({' UNION ALL '.join(parts)}) GROUP BY ward_code").fetchall()
print(time.perf_counter() - t0, sum(n for _, n in rows), len(rows))
"""


def _load_steps(work: Path) -> dict[str, list[float]]:
    path = work / "steps.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.array(xs), q)) if xs else float("nan")


def page_queries(release: Path, reps: int = 20, seed: int = 7) -> dict[str, list[float]]:
    """The ReleaseReader calls each dashboard page makes (dashboard/pages/*.py through dashboard.common),
    `reps` page loads each with a random area (partnership, district or ward), indicator and period; the
    seconds of every call, by page. One read-only connection, as the dashboard keeps (cold caches: no
    Streamlit result cache in between)."""
    from pipelines.release import ReleaseReader, open_release

    con = open_release(release)
    r = ReleaseReader(con)
    rng = np.random.default_rng(seed)
    areas = r.areas()
    top = areas.filter(pl.col("area_level") == "county")["area_code"][0]
    by_level = {lvl: areas.filter(pl.col("area_level") == lvl)["area_code"].to_list()
                for lvl in ("partnership", "district", "ward")}
    inds = r.indicators()["indicator_id"].to_list()

    def pick(xs):
        return xs[int(rng.integers(len(xs)))]

    pages: dict[str, Callable] = {
        "overview": lambda a, i, p, t: [lambda: r.release_info(), lambda: r.areas("partnership"), lambda: r.indicators(),
                                        lambda: r.scorecard(a), lambda: r.series(a), lambda: r.summary_counts(a)],
        "map": lambda a, i, p, t: [lambda: r.indicators(), lambda: r.periods(i), lambda: r.area_lookup(),
                                   lambda: r.map_values(i, p, "ward"), lambda: r.map_values(i, p, "partnership")],
        "profile": lambda a, i, p, t: [lambda: r.areas(), lambda: r.area_lookup(), lambda: r.profile(a),
                                       lambda: r.series(a), lambda: r.neighbours(a)],
        "indicator": lambda a, i, p, t: [lambda: r.periods(i), lambda: r.series(a, i), lambda: r.series(t, i),
                                         lambda: r.scorecard(t, p), lambda: r.level_values(i, p, "district"),
                                         lambda: r.breakdowns(i, p, a), lambda: r.funnel(i, p, "district"),
                                         lambda: r.sources()],
        "exceptions": lambda a, i, p, t: [lambda: r.exceptions(a), lambda: r.exceptions(None, levels=("county", "partnership"))],
        "methods": lambda a, i, p, t: [lambda: r.indicators(), lambda: r.release_info(), lambda: r.sources()],
        "changes": lambda a, i, p, t: [lambda: r.areas(), lambda: r.indicators(), lambda: r.changes(),
                                       lambda: r.corrections()],
    }
    times: dict[str, list[float]] = {name: [] for name in pages}
    totals: dict[str, list[float]] = {name: [] for name in pages}
    for _ in range(reps):
        area = pick(by_level[pick(["partnership", "district", "ward"])])
        ind = pick(inds)
        periods = r.periods(ind) or [None]
        period = pick(periods)
        for name, calls in pages.items():
            total = 0.0
            for call in calls(area, ind, period, top):
                t0 = time.perf_counter()
                call()
                dt_ = time.perf_counter() - t0
                times[name].append(dt_)
                total += dt_
            totals[name].append(total)
    con.close()
    return {"calls": times, "loads": totals}


def bench_scale(args) -> None:
    """Issue 10: `lcp demo --scale S`, ingest and build, each its own process, then the figures: ingest
    rows/s, build against the floor (a bare DuckDB query reading the stored records once, counting by
    ward), peak memory, release size, every page's queries (p50, p95) and `lcp brief --all`."""
    import duckdb

    keep = Path(args.workdir) if args.workdir else None
    tmp = tempfile.TemporaryDirectory(prefix="lcp_bench_scale_") if keep is None else None
    work = keep or Path(tmp.name)
    work.mkdir(parents=True, exist_ok=True)
    data, supplies = work / "data", work / "supplies"
    env = dict(os.environ, LCP_DATA_DIR=str(data))
    env.pop("LCP_GEO_DIR", None)
    s = args.scale
    try:
        mem = {}
        done = _load_steps(work) if args.reuse else {}

        def step(name: str, *cmd: str) -> tuple[float, float, float]:
            """One step, or its recorded figures when --reuse finds it already done in this workdir."""
            if name in done:
                print(f"scale {s}: {name}: reusing the run recorded in {work / 'steps.json'}")
                return tuple(done[name])
            result = _step(env, work / f"{name}.log", *cmd)
            done[name] = list(result)
            (work / "steps.json").write_text(json.dumps(done))
            return result

        t_demo, mem["demo"], _ = step("demo", "demo", "--scale", s, "--out", str(supplies))
        files = [f for f in supplies.rglob("*") if f.suffix in (".csv", ".xlsx")]
        size = sum(f.stat().st_size for f in files)
        shape = "; ".join((work / "demo.log").read_text().strip().splitlines())
        print(f"scale {s}: lcp demo: {shape}; {size / 1e6:,.0f} MB in {t_demo:.1f}s")
        t_ingest, mem["ingest"], _ = step("ingest", "ingest", str(supplies))
        store = data / "restricted" / "store.duckdb"
        con = duckdb.connect(str(store), read_only=True)
        try:
            rows = int(con.execute("SELECT CAST(sum(rows) AS BIGINT) FROM supplies").fetchall()[0][0])
        finally:
            con.close()
        print(f"scale {s}: ingest {rows:,} rows in {t_ingest:.1f}s = {rows / t_ingest:,.0f} rows/s "
              f"(store {store.stat().st_size / 1e6:,.0f} MB)")
        if args.stop_after == "ingest":
            print(f"scale {s}: stopped after ingest (--stop-after ingest); the store is in {store.parent}")
            return
        done.pop("build", None)  # the build is what is measured: always run again
        t_build, mem["build"], mem["build with its workers"] = step("build", "build")
        proc = subprocess.run([sys.executable, "-c", _FLOOR, str(store)], cwd=ROOT, env=env, capture_output=True,
                              text=True, check=True)
        floor, floor_rows, floor_wards = proc.stdout.split()
        floor = float(floor)
        goal = "within" if t_build <= 3 * floor else "OVER"
        print(f"scale {s}: build {t_build:.1f}s; floor (bare DuckDB: read the {int(floor_rows):,} stored rows once, "
              f"count by ward, {int(floor_wards):,} wards) {floor:.2f}s; ratio {t_build / floor:,.0f}x "
              f"({goal} the 3x goal)")
        for line in (work / "build.log").read_text().splitlines():
            if line.startswith(("release ", "disclosure:", "audit of")):
                print(f"scale {s}:   {line[:220]}")
        peak = max(mem.values())
        print(f"scale {s}: peak memory (max RSS) " + ", ".join(f"{k} {v:,.0f} MB" for k, v in mem.items())
              + f"; {'within' if peak < 4096 else 'OVER'} the 4 GB goal")
        release = data / "published" / "scorecard.duckdb"
        con = duckdb.connect(str(release), read_only=True)
        try:
            n_values = con.execute("SELECT count(*) FROM indicator_values").fetchall()[0][0]
            n_areas = con.execute("SELECT count(*) FROM areas").fetchall()[0][0]
        finally:
            con.close()
        print(f"scale {s}: release {release.stat().st_size / 1e6:,.1f} MB ({n_values:,} values, {n_areas:,} areas)")
        q = page_queries(release, reps=args.reps)
        for name, xs in q["calls"].items():
            p95 = _pct(xs, 95) * 1000
            print(f"scale {s}: page {name:<11} queries p50 {_pct(xs, 50) * 1000:6.1f} ms, p95 {p95:6.1f} ms "
                  f"({len(xs)} calls; whole page p95 {_pct(q['loads'][name], 95) * 1000:,.0f} ms); "
                  f"{'within' if p95 < 200 else 'OVER'} the 200 ms goal")
        if args.skip_briefs:
            print(f"scale {s}: briefs skipped (--skip-briefs)")
        else:
            out = work / "briefs"
            t0 = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "pipelines.cli", "brief", "--all", "--out", str(out),
                                   "--release", str(release)], cwd=ROOT, env=env, capture_output=True, text=True)
            seconds = time.perf_counter() - t0
            if proc.returncode != 0:
                raise SystemExit(f"lcp brief --all failed:\n{proc.stdout}\n{proc.stderr[-3000:]}")
            made = sorted(out.iterdir())
            n = len({f.stem for f in made})
            print(f"scale {s}: lcp brief --all: {n} areas, {len(made)} files (PDF, PowerPoint, PNG) in {seconds:.1f}s "
                  f"({seconds / max(n, 1):.2f}s a brief)")
        print(f"scale {s}: demo + ingest + build {t_demo + t_ingest + t_build:.1f}s ({os.cpu_count()} CPUs)")
    finally:
        if tmp is not None:
            tmp.cleanup()


SECTIONS: dict[str, Callable[[argparse.Namespace], None]] = {
    "pipeline": bench_pipeline,
    "ingest": bench_ingest,
    "briefs": bench_briefs,
    "disclosure": bench_disclosure,
    "pages": bench_pages,
    "scale": bench_scale,
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", choices=sorted(SECTIONS), action="append", help="run only this section (repeatable)")
    p.add_argument("--rows", type=int, default=1_000_000, help="rows in the generated supply (ingest)")
    p.add_argument("--release", help="release file for the briefs section (default: the published one, else a demo)")
    p.add_argument("--scale", choices=["county", "10x", "national"], default="county",
                   help="scale section: the demo county, 10x its wards, or England-size (7,000 wards; hours)")
    p.add_argument("--workdir", help="scale section: keep the supplies, stores and release here (default: a temp folder)")
    p.add_argument("--reps", type=int, default=20, help="scale section: page loads timed per page")
    p.add_argument("--reuse", action="store_true",
                   help="scale section: reuse the demo and ingest already done in --workdir (their recorded figures)")
    p.add_argument("--stop-after", choices=["ingest"], help="scale section: stop after this step")
    p.add_argument("--skip-briefs", action="store_true", help="scale section: do not time `lcp brief --all`")
    args = p.parse_args(argv)
    for name in args.only or list(SECTIONS):
        SECTIONS[name](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
