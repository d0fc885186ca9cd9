"""The margin report of one subaccount, and the account file it is read from.

Output keys (the `crossroute margin report` contract): quote (the asset every figure is in),
equity, initial_margin, maintenance_margin, headroom, positions (symbol, notional, initial_margin, maintenance_margin,
liquidation_price or null), capital_efficiency (cross_requirement, isolated_requirement), plus
maintenance_equity and per-position mode/size/mark. Numbers are decimal strings.

equity is the initial (weighted) equity of the cross part plus each isolated bucket
(margin + upnl); headroom = equity - initial_margin. Capital efficiency is netting: the
requirement of every exposure margined alone minus the requirement of the net exposure per
underlying (:mod:`router.margin.efficiency`).

The account file: ``quote`` (the margin asset, default USDC); ``[collateral]``;
``[collateral_weights.ASSET]`` with ``initial`` and ``maintenance`` weights and, for spot borrows,
``initial_liability``, ``maintenance_liability``, ``borrow_limit`` and ``borrow_rate`` (a bare
number is the initial weight); ``[marks]``; ``[[positions]]`` with symbol, size, entry, mark, one
rule set (max_leverage, tiers, or the two fractions) and optional funding terms (funding_cap,
funding_interest, funding_band, funding_interval_hours: router/margin/funding.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import partial
from typing import Any

from router.config import TOP_LEVEL, Keys, check_table, read_toml
from router.margin import efficiency
from router.margin.account import ISOLATED
from router.margin.errors import MarginError, MarginInputError
from router.margin.ledger import MarginLedger
from router.margin.liquidation import liquidation_price_units
from router.margin.projection import MARKET
from router.margin.quantities import cents_text, parse_units, to_text
from router.model.errors import ConfigError

_ASSET_NAME = re.compile(r"[A-Z][A-Z0-9]{1,15}")  # the margin asset: USDC, USDT, ...
TOP_KEYS = {"quote", "collateral", "collateral_weights", "marks", "positions"}
# an asset's weights and borrow terms (AssetConfig.parse's arguments, in its order)
WEIGHT_KEYS = (
    "initial",
    "maintenance",
    "initial_liability",
    "maintenance_liability",
    "borrow_limit",
    "borrow_rate",
)
FUNDING_KEYS = ("funding_cap", "funding_interest", "funding_band", "funding_interval_hours")
POSITION_KEYS = {
    "symbol",
    "size",
    "entry",
    "mark",
    "max_leverage",
    "tiers",
    "mode",
    "isolated_margin",
    "leverage",
    "oracle_asset",
    "initial_margin_fraction",
    "maintenance_margin_fraction",
    *FUNDING_KEYS,
}
RULE_KEYS = ("max_leverage", "tiers", "initial_margin_fraction")


def load_account(
    path: str, rules: Mapping[str, Mapping[str, Any]] | None = None
) -> tuple[MarginLedger, str]:
    """Read an account TOML file into a fresh ledger; returns (ledger, subaccount id). ``rules``:
    see :func:`build_account`.

    Any problem raises ConfigError(file, key, value, allowed)."""
    doc = read_toml(path)
    check_table(TOP_LEVEL, doc, Keys((), tuple(sorted(TOP_KEYS))), partial(ConfigError, path))
    try:
        return build_account(path, doc, rules)
    except MarginInputError as exc:
        raise ConfigError(path, exc.field, exc.value, exc.allowed) from None


def _table(path: str, doc: dict[str, Any], key: str) -> dict[str, Any]:
    value = doc.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(path, key, value, "a table")
    return value


def build_account(
    path: str, doc: dict[str, Any], rules: Mapping[str, Mapping[str, Any]] | None = None
) -> tuple[MarginLedger, str]:
    """A fresh ledger holding the account ``doc`` (already read from ``path``); returns (ledger,
    subaccount id). ``rules`` (market name -> position keys: oracle_asset, a rule set, funding
    terms; a venue's rules, ``margin report --rules``) completes each position of those markets
    that gives no rule set of its own (keys the position gives win). Raises ConfigError naming
    ``path`` and the key; MarginInputError from the ledger's own checks is left to
    :func:`load_account` to name."""
    quote_name = doc.get("quote", "USDC")
    if not isinstance(quote_name, str) or not _ASSET_NAME.fullmatch(quote_name):
        raise ConfigError(path, "quote", quote_name, "an asset name such as USDC or USDT")
    ledger = MarginLedger(quote_name)
    quote = ledger.quote_asset
    collateral = _table(path, doc, "collateral")
    weights = _table(path, doc, "collateral_weights")
    marks = _table(path, doc, "marks")
    for asset in sorted(set(collateral) | set(weights)):
        if asset == quote:
            if asset in weights:
                raise ConfigError(
                    path,
                    f"collateral_weights.{asset}",
                    weights[asset],
                    "no weight for the quote asset",
                )
            continue
        w = weights.get(asset, "1")
        if isinstance(w, dict):
            unknown_weights = set(w) - set(WEIGHT_KEYS)
            if unknown_weights:
                raise ConfigError(
                    path,
                    f"collateral_weights.{asset}.{min(unknown_weights)}",
                    w[min(unknown_weights)],
                    f"one of {', '.join(WEIGHT_KEYS)}",
                )
            terms = [w.get(key) for key in WEIGHT_KEYS]
            terms[0] = "1" if terms[0] is None else terms[0]
            terms[-1] = "0" if terms[-1] is None else terms[-1]
            ledger.add_asset(asset, *terms)
        else:
            ledger.add_asset(asset, w)
        if asset not in marks:
            raise ConfigError(
                path, f"marks.{asset}", None, "a mark for every non-quote collateral asset"
            )
        ledger.set_mark(asset, marks[asset])
    sub_id = ledger.open_subaccount("file", "main")
    scen = ledger.projection(sub_id)
    for asset in sorted(collateral):
        units = parse_units(f"collateral.{asset}", collateral[asset])
        scen.add_balance(asset, units)
        ledger.net_deposits[asset] = ledger.net_deposits.get(asset, 0) + units
    ledger.commit(scen)
    positions = doc.get("positions", [])
    if not isinstance(positions, list):
        raise ConfigError(path, "positions", positions, "an array of tables [[positions]]")
    for i, raw in enumerate(positions):
        key = f"positions[{i}]"
        if not isinstance(raw, dict):
            raise ConfigError(path, key, raw, "a table")
        extra = sorted(set(raw) - POSITION_KEYS)
        if extra:
            raise ConfigError(
                path, f"{key}.{extra[0]}", raw[extra[0]], f"one of {sorted(POSITION_KEYS)}"
            )
        for required in ("symbol", "size", "entry", "mark"):
            if required not in raw:
                raise ConfigError(path, f"{key}.{required}", None, "present")
        symbol = raw["symbol"]
        if not isinstance(symbol, str) or symbol in ledger.markets or symbol in ledger.assets:
            raise ConfigError(path, f"{key}.symbol", symbol, "a string naming one new perp symbol")
        if rules is not None and symbol in rules and not any(k in raw for k in RULE_KEYS):
            raw = {**rules[symbol], **raw}
        mode = raw.get("mode", "cross")
        if mode not in ("cross", "isolated"):
            raise ConfigError(path, f"{key}.mode", mode, "cross or isolated")
        if ("isolated_margin" in raw) != (mode == "isolated"):
            raise ConfigError(
                path,
                f"{key}.isolated_margin",
                raw.get("isolated_margin"),
                'present exactly when mode = "isolated"',
            )
        if sum(k in raw for k in RULE_KEYS) != 1:
            raise ConfigError(
                path,
                f"{key}.max_leverage",
                raw.get("max_leverage"),
                "exactly one rule set: max_leverage, tiers, or initial_margin_fraction with "
                "maintenance_margin_fraction"
                + ("" if rules is None else f", or none and a symbol of the rules {sorted(rules)}"),
            )
        try:
            ledger.add_market(
                symbol,
                raw.get("oracle_asset", symbol.split("-")[0]),
                max_leverage=raw.get("max_leverage"),
                tiers=raw.get("tiers"),
                initial_margin_fraction=raw.get("initial_margin_fraction"),
                maintenance_margin_fraction=raw.get("maintenance_margin_fraction"),
                **{key: raw[key] for key in FUNDING_KEYS if key in raw},
            )
            ledger.set_mark(symbol, raw["mark"])
            size = parse_units("size", raw["size"])
            entry = parse_units("entry", raw["entry"], positive=True)
            margin = (
                None
                if mode == "cross"
                else parse_units("isolated_margin", raw["isolated_margin"], minimum=0)
            )
            if "leverage" in raw:
                ledger.set_leverage(sub_id, symbol, raw["leverage"])
        except MarginInputError as exc:
            raise ConfigError(path, f"{key}.{exc.field}", exc.value, exc.allowed) from None
        if size == 0:
            raise ConfigError(path, f"{key}.size", raw["size"], "a non-zero signed size")
        if margin is not None and margin > scen.balance(quote):
            raise ConfigError(
                path,
                f"{key}.isolated_margin",
                raw["isolated_margin"],
                f"<= the {quote} collateral left ({to_text(scen.balance(quote))})",
            )
        scen = ledger.projection(sub_id)
        scen.trade_perp(symbol, size, entry, 0, margin, MARKET)
        ledger.commit(scen)
    return ledger, sub_id


def margin_report(ledger: MarginLedger, sub_id: str) -> dict[str, Any]:
    """The report dict of one subaccount (decimal strings; see the module docstring)."""
    sub = ledger.subaccount(sub_id)
    scen = ledger.projection(sub_id)
    rows = []
    iso_equity = iso_im = iso_mm = 0
    cross_im = scen.initial_margin
    for symbol in sorted(sub.positions):
        pos = sub.positions[symbol]
        _n16, upnl, fund, im, mm, notional = sub.pos_vals[symbol]
        if pos.mode == ISOLATED:
            iso_equity += pos.isolated_margin_units + upnl + fund
            iso_im += im
            iso_mm += mm
        liq = liquidation_price_units(ledger, sub_id, symbol)
        rows.append(
            {
                "symbol": symbol,
                "mode": pos.mode,
                "size": to_text(pos.size_units),
                "entry": format(pos.entry_price, "f"),
                "mark": to_text(ledger.mark_units(symbol)),
                "notional": to_text(notional),
                "initial_margin": to_text(im),
                "maintenance_margin": to_text(mm),
                "liquidation_price": None if liq is None else cents_text(liq),
            }
        )
    equity = scen.equity_initial + iso_equity
    maint_equity = scen.equity_maintenance + iso_equity
    im_total = cross_im + iso_im
    mm_total = scen.maintenance_margin + iso_mm
    cross_req, isolated_req = efficiency.requirements(ledger, sub_id)
    return {
        "quote": ledger.quote_asset,
        "equity": to_text(equity),
        "maintenance_equity": to_text(maint_equity),
        "initial_margin": to_text(im_total),
        "maintenance_margin": to_text(mm_total),
        "headroom": to_text(equity - im_total),
        "positions": rows,
        "capital_efficiency": {
            "cross_requirement": to_text(cross_req),
            "isolated_requirement": to_text(isolated_req),
            "saving": to_text(isolated_req - cross_req),
        },
    }


def report_from_file(
    path: str, rules: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """Load ``path`` (positions completed by ``rules``: :func:`build_account`) and report its
    subaccount. ConfigError for a bad file."""
    ledger, sub_id = load_account(path, rules)
    try:
        return margin_report(ledger, sub_id)
    except MarginError as exc:  # e.g. a price the file cannot support
        raise ConfigError(path, "account", str(exc), "a consistent account") from None
