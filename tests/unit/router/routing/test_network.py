"""Routes of up to three hops (``max_hops=3``): paths share links, solved on the layered graph.

Seeded random graphs of 2-5 assets (ETH, USDC and up to three of USDT, WBTC, DAI), links drawn
among every pair (so links between two intermediates exist and paths share links), 2-14 venues
of all three kinds. Per order, spend- and receive-sized:

- an independent optimum (cvxpy, Clarabel or SCS, on the same depth curves over the layered
  graph built here from the venues: one variable per segment with its exact concave form, one
  per identity X@1 -> X@2) never beats the plan's dual bound, nor does the exact plan;
- the plan is never worse than the best plan of at most two hops;
- every trade equals a fresh exact quote, executing the trades in order on a fresh copy of the
  market fills exactly those amounts, and every asset balances: what the trades deliver of it
  (plus the order's input) equals what they spend of it plus what is left (residual) or received.
"""

from __future__ import annotations

import warnings
from decimal import Decimal
from pathlib import Path

import cvxpy as cp
import numpy as np
import pytest

from router.app import load_market
from router.model.errors import RouteError
from router.model.orders import LegOrder
from router.routing import MultiHopPlan, plan_multihop
from tests.unit.router.routing.test_multihop import ASSETS, _decimals, venue_flow, venue_lines

EXTRA = ("USDT", "WBTC", "DAI")
PRICES = ASSETS
SEEDS = range(12)


def random_graph(seed: int) -> str:
    """A market TOML over 2-5 assets with links drawn among every pair of assets."""
    rng = np.random.default_rng(seed + 7000)
    n = int(rng.integers(2, 6))
    assets = ["ETH", "USDC", *[str(a) for a in rng.permutation(EXTRA)[: n - 2]]]
    pairs = [(a, b) for i, a in enumerate(assets) for b in assets[i + 1 :]]
    links = [p for p in pairs if p == ("ETH", "USDC") or rng.random() < 0.7]
    mids = assets[2:]
    # at least one link between two intermediates (a three-hop path) when there are two
    if len(mids) >= 2 and not any(a in mids and b in mids for a, b in links):
        links.append((mids[0], mids[1]))
    for x in mids:  # every intermediate linked to both ends: paths through it exist
        for end in ("ETH", "USDC"):
            if (x, end) not in links and (end, x) not in links:
                links.append((end, x))
    count = int(rng.integers(len(links), max(len(links), 14) + 1))
    chosen = links + [links[int(rng.integers(0, len(links)))] for _ in range(count - len(links))]
    lines = ["[assets]"] + [f"{a} = {{ decimals = {PRICES[a][1]} }}" for a in assets]
    for i, (a, b) in enumerate(chosen):
        lines += venue_lines(rng, i, a, b)
    return "\n".join(lines) + "\n"


def _market(tmp_path: Path, seed: int):
    path = tmp_path / f"graph-{seed}.toml"
    path.write_text(random_graph(seed))
    return path, load_market(path)


def layered_optimum(market, source: str, target: str, amount: float, mode: str) -> float | None:
    """cvxpy: the best flow over paths of at most three hops. Nodes A, X@1 (X reached in one
    hop), X@2 (X that goes on to the target), B; every venue appears once per direction its
    link is crossed in (A -> X, X -> Y between intermediates, X -> B, A -> B). None when no
    solver reaches "optimal" (their numerics vary with the BLAS threads: seen once in ~30 runs
    of one seed); the plan is then held to its own certificate and the two-hop plan only."""
    venues = list(market.adapters.values())
    assets = sorted({a for v in venues for a in v.symbol.split("/")})
    mids = [a for a in assets if a not in (source, target)]
    unit = {a: 10000.0 / PRICES[a][0] for a in assets}
    inflow: dict = {}
    outflow: dict = {}
    cons: list = []

    def add(node_src, node_dst, a: str, b: str) -> None:
        for venue in venues:
            base, quote = venue.symbol.split("/")
            if {base, quote} != {a, b}:
                continue
            z, o, c = venue_flow(venue, "sell" if base == a else "buy", unit[a], unit[b])
            cons.extend(c)
            outflow[node_src] = outflow.get(node_src, 0) + z
            inflow[node_dst] = inflow.get(node_dst, 0) + o

    head, tail = (source, 0), (target, 3)
    add(head, tail, source, target)
    for x in mids:
        add(head, (x, 1), source, x)
        add((x, 2), tail, x, target)
        keep = cp.Variable(nonneg=True)
        outflow[(x, 1)] = outflow.get((x, 1), 0) + keep
        inflow[(x, 2)] = inflow.get((x, 2), 0) + keep
        for y in mids:
            if y != x:
                add((x, 1), (y, 2), x, y)
    for node in set(inflow) | set(outflow):
        if node not in (head, tail):
            cons.append(inflow.get(node, 0) >= outflow.get(node, 0))
    if mode == "from":
        cons.append(outflow[head] == amount / unit[source])
        problem = cp.Problem(cp.Maximize(inflow[tail]), cons)
    else:
        cons.append(inflow[tail] >= amount / unit[target])
        problem = cp.Problem(cp.Minimize(outflow[head]), cons)
    # Clarabel at tight tolerances, then at its defaults, then SCS: on a few graphs one of them
    # stops short ("inaccurate") or misjudges the program as unbounded
    attempts = (
        {"solver": cp.CLARABEL, "tol_gap_abs": 1e-10, "tol_gap_rel": 1e-9, "tol_feas": 1e-9},
        {"solver": cp.CLARABEL},
        {"solver": cp.SCS, "eps": 1e-10, "max_iters": 200000},
    )
    for options in attempts:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "may be inaccurate": checked below
            problem.solve(**options)
        if problem.status == cp.OPTIMAL:
            break
    else:
        return None
    return float(problem.value) * unit[target if mode == "from" else source]


async def assert_trades_exact_and_balanced(path: Path, plan: MultiHopPlan) -> None:
    fresh = load_market(path).adapters
    for hop in plan.hops():
        leg = fresh[hop.venue].quote(hop.side, hop.qty)
        paid, got = (
            (leg.quote_amount, leg.qty) if hop.side == "buy" else (leg.qty, leg.quote_amount)
        )
        assert (hop.amount_in, hop.amount_out) == (paid, got), hop
    # every asset balances: delivered + the order's input == spent + residual (+ received)
    balance = {plan.source: plan.amount_in + plan.residual.get(plan.source, Decimal(0))}
    for hop in plan.hops():
        balance[hop.src] = balance.get(hop.src, Decimal(0)) - hop.amount_in
        balance[hop.dst] = balance.get(hop.dst, Decimal(0)) + hop.amount_out
    for asset, left in balance.items():
        if asset == plan.target:
            assert left == plan.amount_out
        else:
            assert left == plan.residual.get(asset, Decimal(0)), (asset, left, plan.residual)
    # a three-hop plan's trades run step by step: none spends what a later one delivers
    if plan.trades:
        steps = [hop.step for hop in plan.hops()]
        assert steps == sorted(steps)
    assert plan.amount_in == sum((p.amount_in for p in plan.paths), Decimal(0))
    assert plan.amount_out == sum((p.amount_out for p in plan.paths), Decimal(0))
    market = load_market(path).adapters
    for n, hop in enumerate(plan.hops()):
        fill = await market[hop.venue].execute(LegOrder(hop.venue, hop.side, hop.qty, f"g-{n}"))
        assert fill.status == "filled", fill.reason
        paid, got = (
            (fill.quote_amount, fill.filled_qty)
            if hop.side == "buy"
            else (fill.filled_qty, fill.quote_amount)
        )
        assert (paid, got) == (hop.amount_in, hop.amount_out)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("mode", ["from", "to"])
async def test_three_hop_plan_is_exact_certified_and_never_worse_than_two_hops(
    tmp_path: Path, seed: int, mode: str
) -> None:
    path, market = _market(tmp_path, seed)
    venues = list(market.adapters.values())
    rng = np.random.default_rng(seed + 8000)
    if mode == "from":
        kwargs = {"amount_in": Decimal(repr(round(float(rng.uniform(1, 40)), 4)))}
    else:
        kwargs = {"amount_out": Decimal(repr(round(float(rng.uniform(3000, 100000)), 2)))}
    plan = plan_multihop(venues, _decimals(market), "ETH", "USDC", max_hops=3, **kwargs)
    two = plan_multihop(venues, _decimals(market), "ETH", "USDC", max_hops=2, **kwargs)
    amount = float(next(iter(kwargs.values())))
    best = layered_optimum(market, "ETH", "USDC", amount, mode)
    # the independent solver is itself accurate to about a ppm (Clarabel/SCS tolerances)
    if mode == "from":
        assert plan.amount_in + plan.residual.get("ETH", Decimal(0)) == kwargs["amount_in"]
        assert plan.amount_out >= two.amount_out  # never worse than two hops
        if plan.trades:  # the flow's certificate bounds every flow of the layered graph
            assert best is None or best <= plan.flow.dual * (1 + 3e-6)
            assert float(plan.amount_out) <= plan.flow.dual * (1 + 1e-12)
    else:
        assert plan.amount_out >= kwargs["amount_out"]
        assert plan.amount_in <= two.amount_in
        if plan.trades:
            assert best is None or best >= plan.flow.dual * (1 - 3e-6)
            assert float(plan.amount_in) >= plan.flow.dual * (1 - 1e-12)
    await assert_trades_exact_and_balanced(path, plan)


def test_max_hops_3_without_a_middle_link_is_the_two_hop_plan() -> None:
    market = load_market(Path(__file__).resolve().parents[4] / "config" / "default.toml")
    for kwargs in ({"amount_in": Decimal("50")}, {"amount_out": Decimal("100000")}):
        three = market.plan_conversion("ETH", "USDC", max_hops=3, **kwargs)
        two = market.plan_conversion("ETH", "USDC", max_hops=2, **kwargs)
        assert three.to_json_dict() == two.to_json_dict()


@pytest.mark.parametrize(
    "source, target, hops, message",
    [
        ("ETH", "USDC", 4, "max_hops=4 is invalid; allowed: an integer in [1, 3]"),
        ("ETH", "USDC", 0, "max_hops=0 is invalid; allowed: an integer in [1, 3]"),
        (
            "DOGE",
            "USDC",
            3,
            "from='DOGE' is invalid; allowed: an asset of the market's spot venues",
        ),
        ("ETH", "ETH", 3, "to='ETH' is invalid; allowed: an asset other than from='ETH'"),
        ("ETH", "LINK", 3, "from='ETH' to='LINK': no path of at most 3 hop(s)"),
    ],
)
def test_bad_three_hop_input_is_one_line_naming_what_exists(
    tmp_path: Path, source: str, target: str, hops: int, message: str
) -> None:
    # LINK trades only against DAI, which no other venue trades: no path from ETH
    text = random_graph(3).replace(
        "[assets]", "[assets]\nLINK = { decimals = 18 }\nDAI2 = { decimals = 18 }"
    )
    text += '\n[[venues]]\nname = "link-pool"\nkind = "amm"\nsymbol = "LINK/DAI2"\nleg_cost = "0"\nfee_pips = 3000\nreserves = ["1000", "15000"]\n'
    path = tmp_path / "island.toml"
    path.write_text(text)
    market = load_market(path)
    with pytest.raises(RouteError) as caught:
        plan_multihop(
            list(market.adapters.values()),
            _decimals(market),
            source,
            target,
            amount_in=Decimal("1"),
            max_hops=hops,
        )
    text = str(caught.value)
    assert message in text and "\n" not in text, text
