"""The paper service's web page in a real headless Chromium (Debian's /usr/bin/chromium)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError(
            f"{CHROMIUM} is missing and CI is set: `make test` installs Debian's chromium"
        )
    pytest.skip(f"{CHROMIUM} is not installed", allow_module_level=True)


def _post(url: str, body: dict) -> dict:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture
def service_url(tmp_path):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "router.cli",
            "paper",
            "--db",
            str(tmp_path / "p.db"),
            "--port",
            "0",
            "--speed",
            "0",
            "--no-status",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    assert "listening on" in line, line
    url = line.split("listening on ")[1].split()[0]
    # Trades and time, so that the page has positions, routes and a PnL curve to draw.
    for i in range(6):
        _post(url + "/api/market/step", {"ticks": 15})
        _post(
            url + "/api/orders",
            {
                "client_id": f"s{i}",
                "account": "desk-a",
                "symbol": "ETH/USDC",
                "side": "buy" if i % 2 else "sell",
                "qty": "20",
            },
        )
    _post(
        url + "/api/orders",
        {
            "client_id": "perp",
            "account": "desk-a",
            "symbol": "ETH/USDC:USDC",
            "side": "sell",
            "qty": "30",
        },
    )
    _post(url + "/api/market/step", {"ticks": 30})
    yield url
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)


def test_page_shows_depth_routes_positions_headroom_and_pnl(service_url, tmp_path):
    from matplotlib import image
    from playwright.sync_api import sync_playwright

    shot = tmp_path / "paper.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 1400})
            page.goto(service_url + "/")
            page.wait_for_selector("body[data-ready='1']", timeout=20_000)
            page.wait_for_function(
                "document.querySelectorAll('#venues canvas').length >= 5", timeout=20_000
            )
            page.wait_for_function(
                "document.querySelector('#pnl polyline') !== null", timeout=20_000
            )
            text = page.inner_text("main")
            for needle in (
                "uni-v2",
                "uni-v3-5",
                "uni-v3-30",
                "binance-book",
                "perp-book",
                "unified ETH/USDC",
                "headroom",
                "ETH-PERP",
                "desk-a",
                "s5",
            ):
                assert needle in text, needle
            liq = page.eval_on_selector_all(
                "table.positions td.liq", "tds => tds.map(td => td.textContent)"
            )
            # a numeric liquidation price with its unit, and the distance to it
            assert any(cell.split()[0].replace(".", "").isdigit() for cell in liq), liq
            assert all(cell.endswith(" USDC/ETH") for cell in liq), liq
            distance = page.inner_text("table.positions td.distance")
            assert "% of mark" in distance, distance
            points = page.get_attribute("#pnl polyline", "points")
            assert len(points.split()) >= 10
            # every depth canvas has drawn something besides its background
            painted = page.evaluate("""() => [...document.querySelectorAll('canvas')].map(c => {
                const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] !== 0x16 || d[i+1] !== 0x1d) n++;
                return n; })""")
            assert all(n > 100 for n in painted), painted
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    pixels = image.imread(str(shot))
    assert pixels.shape[0] > 500 and pixels.shape[1] > 1000
    assert float(pixels[..., :3].std()) > 0.05  # not a blank page
