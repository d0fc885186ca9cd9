"""`crossroute serve-venue`: wiring the config's venues and accounts into the server."""

from __future__ import annotations

import pytest

from router.app import DEFAULT_CONFIG, load_market
from router.cli import main
from router.server.build import build_server


def test_build_server_serves_every_config_venue_with_the_config_accounts() -> None:
    market = load_market(DEFAULT_CONFIG)
    server = build_server(market)
    assert list(server.engine.by_name) == [v.name for v in market.config.venues]
    # the root view holds the first venue of each symbol; each venue is its own view
    assert server.engine.market("ETHUSDC", "spot").name == market.config.venues[0].name
    # each venue is its own view, under its instrument (the default market's perp book is a perp market)
    assert all(
        server.engine.market(
            venue.symbol.split(":")[0].replace("/", ""), venue.instrument, venue.name
        ).name
        == venue.name
        for venue in market.config.venues
    )
    assert server.engine.market("ETHUSDC", "perp").name == "perp-book"
    account = market.config.accounts[0]
    assert server.auth.account_for_key(account.api_key) == account.name
    assert server.ledger.free(account.name, "USDC") == int(account.balance("USDC").scaleb(6))


@pytest.mark.parametrize(
    "argv, named",
    [
        (["--port", "70000"], "--port"),
        (["--port", "-1"], "--port"),
        (["--port", "0", "--pool-depth-step", "zero"], "--pool-depth-step"),
        (["--port", "0", "--pool-depth-step", "-1"], "--pool-depth-step"),
        (["--port", "0", "--pool-depth-step", "NaN"], "--pool-depth-step"),
        (
            ["--port", "0", "--pool-depth-step", "0.0000000000000000001"],
            "--pool-depth-step",
        ),  # finer than 1 wei
        (["--port", "0", "--weight-per-minute", "0"], "--weight-per-minute"),
        (["--port", "0", "--config", "/nonexistent.toml"], "/nonexistent.toml"),
    ],
)
def test_bad_arguments_exit_2_with_one_line_naming_the_argument(
    argv: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve-venue", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("crossroute: error:") and captured.err.count("\n") == 1
    assert named in captured.err and captured.out == ""
