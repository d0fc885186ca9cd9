"""Benchmark: first render of the paper trading page in headless Chromium, 1,000 fills in history.

A paper database is filled in process (routed spot and perp orders with ticks between them, until
the history holds ``--fills`` fills), snapshotted, and served by ``crossroute paper`` (speed 0:
the market stands still). The baseline is the same page on an empty database, served the same
way, in the same run. Each load is a fresh browser page; "first render" is the page's own
``performance.now()`` (milliseconds since navigation start) when every panel has drawn from its
first data: market, depth charts, accounts, working orders, routes, the whole fill history and
the PnL chart (``body[data-ready]``); "first paint" is the same clock once that frame has been
laid out and painted (the next animation frame, then a task: the fills table's layout is in it).
Medians of ``--loads`` loads per database, with the fastest and slowest load.

    .venv/bin/python benchmarks/bench_paper_page.py [--fills 1000] [--loads 7] \
        [--screenshot docs/img/paper-page.png]

``--screenshot`` also saves the page of the filled database with a 40 ETH buy in the ticket.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from router.paper.api import create_paper_app  # noqa: E402
from router.paper.service import PaperService  # noqa: E402

CONFIG = str(ROOT / "config" / "default.toml")
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
SIZES = ("0.5", "1.5", "4", "12", "20")


async def fill_database(db: str, fills: int) -> int:
    service = PaperService(CONFIG, db=db)
    create_paper_app(service)  # as `crossroute paper` builds it: the venue server's state joins
    await service.open()
    i = 0
    while service.desk.state.next_fill_id - 1 < fills:
        symbol = "ETH/USDC:USDC" if i % 7 == 3 else "ETH/USDC"
        order = {
            "client_id": f"h{i}",
            "account": "desk-a",
            "symbol": symbol,
            "side": "buy" if i % 2 else "sell",
            "qty": SIZES[i % len(SIZES)],
        }
        await service.command("order", order)
        await service.command("step", {"ticks": 2})
        i += 1
    perp = {"client_id": "hedge", "account": "desk-a", "symbol": "ETH/USDC:USDC", "side": "sell"}
    await service.command("order", {**perp, "qty": "30"})  # a position with a liquidation price
    gtc = {"client_id": "bid", "account": "desk-a", "symbol": "ETH/USDC", "side": "buy"}
    await service.command("order", {**gtc, "qty": "5", "limit": "2600", "tif": "gtc"})
    count = service.desk.state.next_fill_id - 1
    service.snapshot()
    service.close()
    return count


def serve(db: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "router.cli", "paper", "--db", db, "--port", "0"]
        + ["--speed", "0", "--no-status"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    if "listening on" not in line:
        raise SystemExit(f"the service did not start: {line} {proc.stderr.read()}")
    return proc, line.split("listening on ")[1].split()[0]


def first_renders(browser, url: str, loads: int) -> tuple[list[float], list[float]]:
    """(every panel drawn from its first data, that frame laid out and painted) per load, ms
    since navigation start."""
    drawn, painted = [], []
    for _ in range(loads):
        page = browser.new_page(viewport={"width": 1500, "height": 1100})
        page.goto(url + "/")
        page.wait_for_selector("body[data-first-paint-ms]", timeout=60_000)
        drawn.append(float(page.get_attribute("body", "data-first-render-ms")))
        painted.append(float(page.get_attribute("body", "data-first-paint-ms")))
        page.close()
    return drawn, painted


def main(args: argparse.Namespace) -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as directory:
        full, empty = f"{directory}/full.db", f"{directory}/empty.db"
        count = asyncio.run(fill_database(full, args.fills))
        asyncio.run(fill_database(empty, 0))
        services = {"empty history (baseline)": serve(empty), f"{count} fills": serve(full)}
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                rows = []
                for label, (_, url) in services.items():
                    drawn, painted = first_renders(browser, url, args.loads)
                    for what, times in (("first render", drawn), ("first paint", painted)):
                        rows.append(
                            f"| {what}, {label} | {statistics.median(times):.0f} ms "
                            f"| {min(times):.0f} ms | {max(times):.0f} ms |"
                        )
                shown = len(first_rows(browser, services[f"{count} fills"][1]))
                if args.screenshot:
                    shot(browser, services[f"{count} fills"][1], args.screenshot)
                browser.close()
        finally:
            for proc, _ in services.values():
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=60)
    print(f"fills rendered on the full page: {shown}")
    print("| workload | median | min | max |\n|---|---|---|---|")
    print("\n".join(rows))


def first_rows(browser, url: str) -> list[str]:
    page = browser.new_page()
    page.goto(url + "/")
    page.wait_for_selector("body[data-ready='1']", timeout=60_000)
    rows = page.eval_on_selector_all("#fills tbody tr", "trs => trs.map(tr => tr.dataset.fill)")
    page.close()
    return rows


def shot(browser, url: str, path: str) -> None:
    page = browser.new_page(viewport={"width": 1500, "height": 1100})
    page.goto(url + "/")
    page.wait_for_selector("body[data-ready='1']", timeout=60_000)
    page.fill("#t-size", "40")
    page.wait_for_selector("table.preview", timeout=60_000)
    page.wait_for_timeout(1500)  # one poll of the market and the accounts after the preview
    page.screenshot(path=path, full_page=True)
    page.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fills", type=int, default=1000, help="fills in the history")
    parser.add_argument("--loads", type=int, default=7, help="page loads per database")
    parser.add_argument("--screenshot", default="", help="save a screenshot of the full page")
    main(parser.parse_args())
