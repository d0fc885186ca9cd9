"""The trading page in a real headless Chromium: the order ticket's live preview equals
``crossroute route --json``, orders go out by keyboard and by click, a gtc order shows in working
orders and is amended and cancelled there, errors show inline, and the fill history survives a
reload."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from decimal import Decimal
from pathlib import Path

import pytest

from tests.browser.test_paper_page import ARGS, CHROMIUM

ROOT = Path(__file__).resolve().parents[2]
WAIT_MS = 20_000


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture
def fresh_service(tmp_path):
    """A service at tick 0 (speed 0): its venues hold exactly the config's state."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "router.cli", "paper", "--db", str(tmp_path / "p.db")]
        + ["--port", "0", "--speed", "0", "--no-status"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    assert "listening on" in line, line
    yield line.split("listening on ")[1].split()[0]
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)


def _route_json(*args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "router.cli", "route", *args, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _trim(text: str) -> str:
    """A decimal string as the page shows it: trailing zeros dropped."""
    return format(Decimal(text).normalize(), "f")


def _number(text: str) -> Decimal:
    return Decimal(text.split()[0])


def test_ticket_preview_orders_working_orders_and_fill_history(fresh_service):
    from playwright.sync_api import sync_playwright

    url = fresh_service
    expected = _route_json("--side", "buy", "--qty", "40")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            page.goto(url + "/")
            page.wait_for_selector("body[data-ready='1']", timeout=WAIT_MS)

            # The live preview of buy 40 ETH over every venue equals `crossroute route --json`.
            page.fill("#t-size", "40")
            page.wait_for_selector("table.preview[data-side='buy']", timeout=WAIT_MS)
            shown = json.loads(page.get_attribute("#preview", "data-quote"))
            assert shown == expected
            rows = page.eval_on_selector_all(
                "table.preview tbody tr",
                "trs => trs.map(tr => [tr.dataset.venue, ...['qty', 'avg_price', 'quote_amount']"
                ".map(f => tr.querySelector(`[data-field=${f}]`).textContent)])",
            )
            assert [r[0] for r in rows] == [leg["venue"] for leg in expected["legs"]]
            assert len(expected["legs"]) >= 2  # a real split
            for row, leg in zip(rows, expected["legs"], strict=True):
                assert [_number(x) for x in row[1:]] == [
                    Decimal(leg[k]) for k in ("qty", "avg_price", "quote_amount")
                ]
            summary = page.inner_text("dd[data-key='avg_price']")
            assert _number(summary) == Decimal(expected["avg_price"]) and "USDC/ETH" in summary
            assert "USDC" in page.inner_text("dd[data-key='headroom']")
            assert "USDC" in page.inner_text("dd[data-key='gain']")
            # The default price protection it was planned under, stated; "no limit" lifts it.
            band = expected["protection"]
            assert band["mode"] == "band"
            assert page.inner_text("dd[data-key='protection']") == (
                f"{band['band_bps']} bps band around the arrival mid {_trim(band['arrival_mid'])}"
                f" → limit {_trim(band['limit_price'])} USDC/ETH"
            )
            page.check("#t-no-limit")
            page.wait_for_function(
                "document.querySelector(\"dd[data-key='protection']\")?.textContent === 'none (no limit)'",
                timeout=WAIT_MS,
            )
            assert json.loads(page.get_attribute("#preview", "data-quote")) == _route_json(
                "--side", "buy", "--qty", "40", "--no-limit"
            )
            page.uncheck("#t-no-limit")

            # A malformed size is refused inline, next to the field; nothing is sent.
            page.fill("#t-size", "1e3")
            page.wait_for_function(
                "document.querySelector(\".err[data-for='qty']\").textContent.length > 0",
                timeout=WAIT_MS,
            )
            assert "1e3" in page.inner_text(".err[data-for='qty']")

            # Enter in the size field sends an IOC order; its fill streams into the history.
            page.fill("#t-size", "2")
            page.press("#t-size", "Enter")
            page.wait_for_function(
                "document.querySelector('#t-result').textContent.includes('filled')",
                timeout=WAIT_MS,
            )
            page.wait_for_selector("#fills tbody tr", timeout=WAIT_MS)
            assert _get(url + "/api/status")["orders"] == 1
            assert "protection: 100 bps band around the arrival mid" in page.inner_text("#t-result")

            # A gtc buy far below the market (by click) works, is amended, then cancelled.
            page.fill("#t-size", "1")
            page.fill("#t-limit", "2000")
            page.select_option("#t-tif", "gtc")
            page.click("#t-submit")
            page.wait_for_selector("#working tbody tr[data-order]", timeout=WAIT_MS)
            row = page.locator("#working tbody tr[data-order]")
            client_id = row.get_attribute("data-order")
            assert "open" in row.inner_text() and "2000 USDC/ETH" in row.inner_text()
            row.locator("button.amend").click()
            page.fill(".amend-form input[name='limit']", "2100")
            page.press(".amend-form input[name='limit']", "Enter")
            page.wait_for_function(
                "document.querySelector('#working tbody tr[data-order]')"
                "?.textContent.includes('2100 USDC/ETH')",
                timeout=WAIT_MS,
            )
            page.locator("#working tbody tr[data-order] button.cancel").click()
            page.wait_for_selector("#working tbody tr[data-order]", state="detached")
            assert _get(url + f"/api/orders/{client_id}")["status"] == "cancelled"

            # No internal leg ids in the routes table: order, symbol, side, amounts.
            cells = page.eval_on_selector_all(
                "#routes tbody tr td:nth-child(2)", "tds => tds.map(td => td.textContent)"
            )
            assert cells == ["ETH/USDC"]
            fills = page.eval_on_selector_all(
                "#fills tbody tr", "trs => trs.map(tr => tr.dataset.fill)"
            )

            # The fill history is loaded again on reload, not only streamed.
            page.reload()
            page.wait_for_selector("body[data-ready='1']", timeout=WAIT_MS)
            again = page.eval_on_selector_all(
                "#fills tbody tr", "trs => trs.map(tr => tr.dataset.fill)"
            )
            assert again == fills and len(fills) >= 1
            text = page.inner_text("#fills tbody")
            assert "ETH" in text and "USDC/ETH" in text and "USDC" in text
            # At 1,500 px the fills table fits its panel: no sideways scrolling, there or the page's
            widths = page.evaluate(
                "() => [document.querySelector('#fills').parentElement, document.documentElement]"
                ".map(e => [e.scrollWidth, e.clientWidth])"
            )
            assert all(scroll <= client for scroll, client in widths), widths
        finally:
            browser.close()


def test_a_conversion_previews_its_paths_and_hops(fresh_service, tmp_path):
    """The ticket's "Convert assets" preview is `crossroute route --from --to --json`: every path
    and hop shown, in order, with the plan's own amounts; "Convert" sends it and shows what was
    spent and received."""
    from playwright.sync_api import sync_playwright

    url = fresh_service
    expected = _route_json("--from", "ETH", "--to", "USDC", "--qty", "40")
    assert len(expected["paths"]) >= 2  # a direct path and one through USDT
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            page.goto(url + "/")
            page.wait_for_selector("body[data-ready='1']", timeout=WAIT_MS)
            page.check("input[name='mode'][value='convert']")
            assert page.is_hidden("#t-symbol") and page.is_visible("#t-from")
            page.select_option("#t-from", "ETH")
            page.select_option("#t-to", "USDC")
            page.fill("#t-size", "40")
            page.wait_for_selector("table.paths[data-from='ETH'][data-to='USDC']", timeout=WAIT_MS)
            assert json.loads(page.get_attribute("#preview", "data-quote")) == expected
            shown = page.eval_on_selector_all(
                "table.paths tbody tr",
                "trs => trs.map(tr => tr.classList.contains('path') ? ['path', tr.dataset.path]"
                " : ['hop', tr.dataset.step, tr.dataset.venue,"
                " tr.querySelector('[data-field=amount_in]').textContent,"
                " tr.querySelector('[data-field=amount_out]').textContent])",
            )
            want = []
            for path in expected["paths"]:
                want.append(["path", ">".join(path["assets"])])
                for hop in path["hops"]:
                    want.append(
                        [
                            "hop",
                            str(hop["step"]),
                            hop["venue"],
                            f"{_trim(hop['amount_in'])} {hop['from']}",
                            f"{_trim(hop['amount_out'])} {hop['to']}",
                        ]
                    )
            assert shown == want
            total = page.inner_text("dd[data-key='total']")
            assert total == f"40 ETH → {_trim(expected['amount_out'])} USDC"
            page.select_option("#t-unit", "to_qty")
            assert page.is_disabled("#t-submit")  # a receive-sized conversion is previewed only
            assert _get(url + "/api/status")["orders"] == 0
            # Sized in what it spends, it is sent by click and executed hop by hop.
            page.select_option("#t-unit", "qty")
            page.fill("#t-size", "40")
            assert page.inner_text("#t-submit") == "Convert 40 ETH to USDC"
            page.click("#t-submit")
            page.wait_for_selector("#t-result.ok", timeout=WAIT_MS)
            result = page.inner_text("#t-result")
            assert ": filled" in result and "spent 40 ETH → received " in result, result
            orders = _get(url + "/api/orders?account=desk-a")["orders"]
            assert [o["kind"] for o in orders] == ["conversion"]
            received = Decimal(orders[0]["multihop"]["inventory"]["USDC"])
            assert f"received {_trim(str(received))} USDC" in result
            box = page.evaluate(
                "() => [document.querySelector('#preview').scrollWidth,"
                " document.querySelector('#preview').clientWidth]"
            )
            assert box[0] <= box[1], box  # the paths and hops fit the panel at 1,500 px
            page.screenshot(path=str(tmp_path / "convert.png"), full_page=False)
        finally:
            browser.close()
