"""Multi-hop routing on seeded random markets of real venues (v2 pools, v3 pools, order books).

Each market: 2-4 assets (ETH, USDC and up to two of USDT, WBTC), 2-12 venues of all three kinds
on shared links. Checks, per order:

- the exact plan's output (spend-sized) or spend (receive-sized) is within 1 ppm of an
  independent optimum: cvxpy (Clarabel) on the same depth curves, one variable per segment with
  its exact concave form (a v2/v3 range as out = y - x·y/(x + g·in), a book level linear);
- that independent optimum never beats the plan's dual bound (the certificate is valid) and
  the reported duality gap is tiny;
- the plan is never worse than the best single path or the best direct venue;
- every hop's amounts equal a fresh exact quote; executing the hops in order through the adapters
  on a fresh copy of the market fills exactly those amounts; each step's outputs feed the next
  step's inputs exactly (less the reported residual).
"""

from __future__ import annotations

import math
from decimal import Decimal
from itertools import combinations
from pathlib import Path

import cvxpy as cp
import numpy as np
import pytest

from router.app import load_market
from router.model.depth import FlatSegment
from router.model.errors import RouteError
from router.model.orders import LegOrder
from router.routing import MultiHopPlan, plan_multihop

# reference prices in USDC and decimals of the assets a random market may hold
ASSETS = {
    "ETH": (3000.0, 18),
    "USDC": (1.0, 6),
    "USDT": (1.0, 6),
    "WBTC": (60000.0, 8),
    "DAI": (1.0, 18),
}
SEEDS = range(14)


def _symbol(a: str, b: str) -> tuple[str, str]:
    """(base, quote): the dearer asset is the base (USDT/USDC for the stable pair)."""
    pa, pb = ASSETS[a][0], ASSETS[b][0]
    return (a, b) if (pa, a) > (pb, b) else (b, a)


def _tick(price: float) -> Decimal:
    return Decimal(1).scaleb(math.floor(math.log10(price)) - 5)


def random_config(seed: int) -> str:
    """A market TOML: venues on the links ETH-USDC, ETH-X, X-USDC (shared by several venues)."""
    rng = np.random.default_rng(seed)
    extra = [a for a in ("USDT", "WBTC") if rng.random() < 0.6][: int(rng.integers(0, 3))]
    assets = ["ETH", "USDC", *extra]
    links = [("ETH", "USDC")] + [(x, y) for x in extra for y in ("ETH", "USDC")]
    n = int(rng.integers(max(2, len(links)), 13))
    chosen = list(links) + [links[int(rng.integers(0, len(links)))] for _ in range(n - len(links))]
    lines = ["[assets]"] + [f"{a} = {{ decimals = {ASSETS[a][1]} }}" for a in assets]
    for i, (a, b) in enumerate(chosen):
        lines += venue_lines(rng, i, a, b)
    return "\n".join(lines) + "\n"


def venue_lines(rng: np.random.Generator, i: int, a: str, b: str) -> list[str]:
    """One random venue (v2 pool, v3 pool or order book) on the link a-b, as TOML lines."""
    base, quote = _symbol(a, b)
    price = ASSETS[base][0] / ASSETS[quote][0] * (1 + float(rng.normal(0, 0.0008)))
    kind = str(rng.choice(["amm", "clmm", "orderbook"]))
    head = [
        "",
        "[[venues]]",
        f'name = "v{i}-{kind}"',
        f'kind = "{kind}"',
        f'symbol = "{base}/{quote}"',
        'leg_cost = "0"',
    ]
    depth_base = float(rng.uniform(20, 400)) * 3000 / ASSETS[base][0]  # base units
    if kind == "amm":
        head += [
            f"fee_pips = {int(rng.choice([500, 3000]))}",
            f'reserves = ["{depth_base:.6f}", "{depth_base * price:.6f}"]',
        ]
    elif kind == "clmm":
        db, dq = ASSETS[base][1], ASSETS[quote][1]
        fee, spacing = [(500, 10), (3000, 60), (100, 1)][int(rng.integers(0, 3))]
        tick = _tick(price)
        p = Decimal(repr(price)).quantize(tick)
        positions = []
        for width in (0.01, 0.05, 0.3):
            lower = (p * Decimal(repr(1 - width))).quantize(tick)
            upper = (p * Decimal(repr(1 + width))).quantize(tick)
            virtual = depth_base * float(rng.uniform(0.3, 1.5))
            liquidity = int(virtual * 10 ** ((db + dq) / 2) * math.sqrt(float(p)))
            positions.append(
                f'{{ lower = "{lower:f}", upper = "{upper:f}", liquidity = "{liquidity}" }}'
            )
        head += [
            f"fee_pips = {fee}",
            f"tick_spacing = {spacing}",
            f'price = "{p:f}"',
            f"positions = [{', '.join(positions)}]",
        ]
    else:
        tick = _tick(price)
        lot = Decimal(1).scaleb(math.floor(math.log10(depth_base)) - 4)
        asks, bids = [], []
        ask, bid = price * 1.0001, price * 0.9999
        for _ in range(25):
            size = Decimal(repr(depth_base * float(rng.uniform(0.005, 0.04)))).quantize(lot)
            asks.append(f'["{Decimal(repr(ask)).quantize(tick):f}", "{size:f}"]')
            size = Decimal(repr(depth_base * float(rng.uniform(0.005, 0.04)))).quantize(lot)
            bids.append(f'["{Decimal(repr(bid)).quantize(tick):f}", "{size:f}"]')
            ask *= 1 + float(rng.uniform(0.0002, 0.002))
            bid *= 1 - float(rng.uniform(0.0002, 0.002))
        head += [
            f'tick_size = "{tick:f}"',
            f'lot_size = "{lot:f}"',
            f"taker_fee_pips = {int(rng.choice([0, 500, 1000]))}",
            "maker_fee_pips = 0",
            f"asks = [{', '.join(asks)}]",
            f"bids = [{', '.join(bids)}]",
        ]
    return head


def _market(tmp_path: Path, seed: int):
    path = tmp_path / f"market-{seed}.toml"
    path.write_text(random_config(seed))
    return path, load_market(path)


def _decimals(market) -> dict[str, int]:
    return {name: asset.decimals for name, asset in market.assets.items()}


def venue_flow(venue, side: str, unit_src: float, unit_dst: float):
    """(input, output, constraints) of one venue crossed as taker ``side``, for cvxpy: one
    variable per segment with its exact concave form (a v2/v3 range out = y - y/(1 + g·w), a book
    level linear), amounts in ``unit_src`` / ``unit_dst`` (about 10,000 USDC of each asset: a
    well-scaled cone program)."""
    z, outs, cons = 0, 0, []
    for seg in venue.depth_curve(side).segments:
        if seg.qty <= 0:
            continue
        w = cp.Variable(nonneg=True)  # the segment's input, in units of `scale`
        if isinstance(seg, FlatSegment):
            scale = seg.qty if side == "sell" else seg.qty * seg.price
            out = w * scale * (seg.price if side == "sell" else 1 / seg.price)
            top = 1.0
        else:
            x, y, g = seg.base_reserve, seg.quote_reserve, 1 - seg.fee
            if side == "sell":  # base in z = x·w, quote out y·(1 - 1/(1 + g·w))
                scale, top = x, seg.qty / x
                out = y - y * cp.inv_pos(1 + g * w)
            else:  # quote in z = y·w, base out x·(1 - 1/(1 + g·w))
                scale, top = y, seg.cost(seg.qty, "buy") / y
                out = x - x * cp.inv_pos(1 + g * w)
        cons.append(w <= top)
        z = z + scale * w / unit_src
        outs = outs + out / unit_dst
    return z, outs, cons


def independent_optimum(market, source: str, target: str, amount: float, mode: str) -> float:
    """cvxpy on the venues' depth curves: the best "spend exactly amount of source" (target
    received, mode "from") or "receive exactly amount of target" (source spent, mode "to") over
    the direct link and every two-hop path, each link crossed in the order's direction."""
    venues = list(market.adapters.values())
    assets = sorted({a for v in venues for a in v.symbol.split("/")})
    mids = [a for a in assets if a not in (source, target)]
    layers = [(source, target)] + [(source, m) for m in mids] + [(m, target) for m in mids]
    unit = {a: 10000.0 / ASSETS[a][0] for a in assets}
    inflow = {a: 0 for a in assets}  # asset -> expression received
    outflow = {a: 0 for a in assets}  # asset -> expression spent
    constraints = []
    for src, dst in layers:
        for venue in venues:
            base, quote = venue.symbol.split("/")
            if {base, quote} != {src, dst}:
                continue
            side = "sell" if base == src else "buy"
            z, out, cons = venue_flow(venue, side, unit[src], unit[dst])
            constraints.extend(cons)
            outflow[src] = outflow[src] + z
            inflow[dst] = inflow[dst] + out
    for m in mids:
        constraints.append(inflow[m] >= outflow[m])
    if mode == "from":
        constraints.append(outflow[source] == amount / unit[source])
        problem = cp.Problem(cp.Maximize(inflow[target]), constraints)
    else:
        constraints.append(inflow[target] >= amount / unit[target])
        problem = cp.Problem(cp.Minimize(outflow[source]), constraints)
    problem.solve(solver=cp.CLARABEL, tol_gap_abs=1e-10, tol_gap_rel=1e-9, tol_feas=1e-9)
    assert problem.status == cp.OPTIMAL, problem.status
    return float(problem.value) * unit[target if mode == "from" else source]


async def assert_exact_and_executes(path: Path, plan: MultiHopPlan) -> None:
    fresh = load_market(path).adapters
    for hop in plan.hops():
        leg = fresh[hop.venue].quote(hop.side, hop.qty)
        paid, got = (
            (leg.quote_amount, leg.qty) if hop.side == "buy" else (leg.qty, leg.quote_amount)
        )
        assert (hop.amount_in, hop.amount_out) == (paid, got), hop
    for path_plan in plan.paths:
        steps = sorted({h.step for h in path_plan.hops})
        for k in steps[:-1]:
            out = sum(h.amount_out for h in path_plan.hops if h.step == k)
            nxt = sum(h.amount_in for h in path_plan.hops if h.step == k + 1)
            mid = path_plan.assets[k]
            assert out == nxt + path_plan.residual.get(mid, Decimal(0))
    market = load_market(path).adapters
    for n, hop in enumerate(plan.hops()):
        fill = await market[hop.venue].execute(LegOrder(hop.venue, hop.side, hop.qty, f"mh-{n}"))
        assert fill.status == "filled", fill.reason
        paid, got = (
            (fill.quote_amount, fill.filled_qty)
            if hop.side == "buy"
            else (fill.filled_qty, fill.quote_amount)
        )
        assert (paid, got) == (hop.amount_in, hop.amount_out)
    assert plan.amount_in == sum((p.amount_in for p in plan.paths), Decimal(0))
    assert plan.amount_out == sum((p.amount_out for p in plan.paths), Decimal(0))


@pytest.mark.parametrize("seed", SEEDS)
async def test_spend_sized_plan_is_within_one_ppm_of_an_independent_optimum(
    tmp_path: Path, seed: int
) -> None:
    path, market = _market(tmp_path, seed)
    rng = np.random.default_rng(seed + 1000)
    qty = Decimal(repr(round(float(rng.uniform(1, 60)), 4)))
    plan = plan_multihop(
        list(market.adapters.values()), _decimals(market), "ETH", "USDC", amount_in=qty
    )
    # a quote budget may leave less than one base quantum's worth unspent: reported, not hidden
    assert plan.amount_in + plan.residual.get("ETH", Decimal(0)) == qty
    assert plan.residual.get("ETH", Decimal(0)) <= qty * Decimal("1e-6")
    best = independent_optimum(market, "ETH", "USDC", float(qty), "from")
    got = float(plan.amount_out)
    residual_value = float(plan.residual.get("USDT", 0)) + float(plan.residual.get("USDC", 0))
    assert got + residual_value >= best * (1 - 1e-6), ((got / best - 1) * 1e6, plan.notes)
    assert best <= plan.flow.dual * (1 + 1e-7)  # the certificate bounds every flow
    assert plan.duality_gap <= 1e-9
    if plan.best_single_path is not None:
        assert plan.amount_out >= plan.best_single_path[2]
    if plan.best_direct_venue is not None:
        assert plan.amount_out >= plan.best_direct_venue[2]
    await assert_exact_and_executes(path, plan)


@pytest.mark.parametrize("seed", SEEDS)
async def test_receive_sized_plan_is_within_one_ppm_of_an_independent_optimum(
    tmp_path: Path, seed: int
) -> None:
    path, market = _market(tmp_path, seed)
    rng = np.random.default_rng(seed + 2000)
    target = Decimal(repr(round(float(rng.uniform(3000, 150000)), 2)))
    plan = plan_multihop(
        list(market.adapters.values()), _decimals(market), "ETH", "USDC", amount_out=target
    )
    assert plan.amount_out >= target
    best = independent_optimum(market, "ETH", "USDC", float(target), "to")
    spent = float(plan.amount_in)
    assert spent <= best * (1 + 1e-6), ((spent / best - 1) * 1e6, plan.notes)
    assert best >= plan.flow.dual * (1 - 1e-7)
    if plan.best_single_path is not None:
        assert plan.amount_in <= plan.best_single_path[1]
    if plan.best_direct_venue is not None:
        assert plan.amount_in <= plan.best_direct_venue[1]
    await assert_exact_and_executes(path, plan)


def test_perpetuals_are_no_edge_of_the_asset_graph() -> None:
    from router.routing import AssetGraph

    market = load_market(Path(__file__).resolve().parents[4] / "config" / "default.toml")
    graph = AssetGraph(list(market.adapters.values()))
    assert graph.assets == ["ETH", "USDC", "USDT", "WBTC"]
    assert graph.pairs() == ["ETH-USDC", "ETH-USDT", "ETH-WBTC", "USDC-USDT", "USDC-WBTC"]
    assert "perp-book" not in graph.link("ETH", "USDC").venue_names()


def _with_leg_costs(text: str, seed: int) -> str:
    """The same market with a fixed cost per venue leg: 2-40 USDC worth in the symbol's quote."""
    rng = np.random.default_rng(seed + 3000)
    lines, quote = [], "USDC"
    for line in text.splitlines():
        if line.startswith("symbol = "):
            quote = line.split('"')[1].split("/")[1]
        if line == 'leg_cost = "0"':
            usd = float(rng.uniform(2, 40))
            line = (
                f'leg_cost = "{Decimal(repr(usd / ASSETS[quote][0])).quantize(Decimal("1e-6")):f}"'
            )
        lines.append(line)
    return "\n".join(lines) + "\n"


# seeds whose market has three paths ETH -> USDC (direct, via USDT, via WBTC)
@pytest.mark.parametrize("seed", [6, 16, 20, 22, 24, 33, 35, 39])
@pytest.mark.parametrize("mode", ["from", "to"])
def test_with_leg_costs_no_subset_of_paths_beats_the_plan_and_the_bound_holds(
    tmp_path: Path, seed: int, mode: str
) -> None:
    path = tmp_path / f"costly-{seed}.toml"
    path.write_text(_with_leg_costs(random_config(seed), seed))
    market = load_market(path)
    venues = list(market.adapters.values())
    rng = np.random.default_rng(seed + 4000)
    if mode == "from":
        kwargs = {"amount_in": Decimal(repr(round(float(rng.uniform(0.5, 40)), 3)))}
    else:
        kwargs = {"amount_out": Decimal(repr(round(float(rng.uniform(1000, 100000)), 2)))}
    plan = plan_multihop(venues, _decimals(market), "ETH", "USDC", **kwargs)
    search = plan.path_search
    assert search is not None
    assert search.method == ("exhaustive" if search.paths <= 4 else "drop-smallest")
    # no exact plan over any set of paths can beat the relaxation's certified bound
    if mode == "from":
        assert float(plan.amount_out) <= search.bound * (1 + 1e-12)
        assert search.bound_gap == pytest.approx(1 - float(plan.amount_out) / search.bound)
    else:
        assert float(plan.amount_in) >= search.bound * (1 - 1e-12)
    # independently: the market cut down to the links of any subset of paths (two-hop paths
    # share no link) routes no better than the plan
    from router.routing import AssetGraph

    branches = AssetGraph(venues).branches("ETH", "USDC", 2)
    assert len(branches) == search.paths == 3
    for size in range(1, len(branches)):
        for subset in combinations(branches, size):
            links = {link.assets for branch in subset for link in branch.links}
            kept = [v for v in venues if frozenset(v.symbol.split("/")) in links]
            try:
                sub = plan_multihop(kept, _decimals(market), "ETH", "USDC", **kwargs)
            except RouteError:
                continue  # those paths alone cannot carry the order
            if mode == "from":
                assert sub.amount_out <= plan.amount_out, (subset, sub.amount_out)
            else:
                assert sub.amount_in >= plan.amount_in, (subset, sub.amount_in)
