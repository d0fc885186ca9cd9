"""Stress scenarios: price shocks and paths per asset, oracle faults, funding spikes, thin venues,
and a seeded Monte Carlo model with fat tails and correlation.

A scenario is a path of steps; each step gives, per asset, the cumulative relative move of the
*external* price from the account's starting mark (``-0.2`` = 20% down; an instantaneous shock is
a one-step path). Moves are exact ``Decimal`` and must be > -1 (a price cannot reach zero).
Liquidations on top of that move the venues, and the engine multiplies the venue impact in.

Monte Carlo: per step, log returns ``r = vol x sqrt((df-2)/df) x z / sqrt(w / df)`` with ``z``
correlated normals (Cholesky of the correlation matrix) and ``w ~ chi2(df)`` shared by all assets
of a step (a multivariate Student-t: fat tails and tail dependence, unit variance before ``vol``).
numpy float64 with a seeded ``Generator``; the paths are moves in float, rounded once to the
ledger's price grid by the engine. TOML form: see ``config/examples/stress-scenarios.toml``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import numpy as np

from router.config import TOP_LEVEL, Keys, check_table, read_toml
from router.model.errors import ConfigError, CrossrouteError, InvalidValue

__all__ = [
    "MAX_PATHS",
    "MAX_STEPS",
    "ORACLE_MODES",
    "MonteCarloModel",
    "OracleFault",
    "Scenario",
    "ScenarioSet",
    "Step",
    "StressInputError",
    "load_scenarios",
    "parse_scenarios",
    "shock",
]

MAX_STEPS = 1_000
MAX_PATHS = 1_000_000
MAX_CROWD = 10_000
ORACLE_MODES = ("stale", "wrong")
ONE = Decimal(1)


class StressInputError(InvalidValue, CrossrouteError):
    """A stress input is invalid: names the field, the value given and what is allowed."""


def _decimal(
    field_name: str,
    value: Any,
    *,
    lo: Decimal | None = None,
    lo_open: bool = False,
    hi: Decimal | None = None,
    allowed: str = "a decimal string",
) -> Decimal:
    """Exact decimal from str/int/Decimal (floats refused: TOML floats lose digits)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise StressInputError(
            field_name,
            value,
            allowed + (" (write TOML floats as strings)" if isinstance(value, float) else ""),
        )
    try:
        number = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
    except InvalidOperation:
        raise StressInputError(field_name, value, allowed) from None
    if (
        not number.is_finite()
        or (lo is not None and (number < lo or (lo_open and number == lo)))
        or (hi is not None and number > hi)
    ):
        raise StressInputError(field_name, value, allowed)
    return number


def _int(field_name: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise StressInputError(field_name, value, f"an integer in [{lo}, {hi}]")
    return value


def _move(field_name: str, value: Any) -> Decimal:
    return _decimal(
        field_name,
        value,
        lo=-ONE,
        lo_open=True,
        allowed="a relative move > -1 (-0.2 = 20% down; -100% or beyond is impossible)",
    )


@dataclass(frozen=True, slots=True)
class Step:
    """One point of a path: ``t_min`` minutes from the start; ``moves`` asset -> cumulative
    relative move of its external price from the starting mark (exact, > -1)."""

    t_min: Decimal
    moves: tuple[tuple[str, Decimal], ...]

    def move(self, asset: str) -> Decimal:
        for name, value in self.moves:
            if name == asset:
                return value
        return Decimal(0)


@dataclass(frozen=True, slots=True)
class OracleFault:
    """An oracle going ``stale`` (the mark freezes at its last value and is flagged invalid) or
    ``wrong`` (``bad_sources`` of ``sources`` report the external price x (1 + ``error``); the
    mark is the margin core's median after dropping outliers beyond ``max_deviation_bps``) on
    ``asset`` during steps ``from_step`` .. ``to_step`` (inclusive, 0-based)."""

    asset: str
    mode: str
    from_step: int
    to_step: int
    error: Decimal = Decimal(0)
    sources: int = 3
    bad_sources: int = 1
    max_deviation_bps: int = 500

    def active(self, step: int) -> bool:
        return self.from_step <= step <= self.to_step


@dataclass(frozen=True, slots=True)
class Scenario:
    """A named stress: ``steps`` (at least one), optional ``funding`` (market -> rate per step,
    paid by longs when > 0), ``liquidity`` (venue -> depth scale in (0, 1]), ``oracle`` fault, and
    ``crowd`` (how many accounts like this one liquidate into the same venues; 1 = just us)."""

    name: str
    steps: tuple[Step, ...]
    funding: tuple[tuple[str, Decimal], ...] = ()
    liquidity: tuple[tuple[str, Decimal], ...] = ()
    oracle: OracleFault | None = None
    crowd: int = 1

    def assets(self) -> set[str]:
        names = {a for s in self.steps for a, _ in s.moves}
        if self.oracle is not None:
            names.add(self.oracle.asset)
        return names


def shock(name: str, moves: dict[str, Any], **kwargs: Any) -> Scenario:
    """An instantaneous one-step scenario: ``shock("eth-20", {"ETH": "-0.2"})``."""
    step = Step(
        Decimal(0), tuple(sorted((a, _move(f"{name}.shocks.{a}", v)) for a, v in moves.items()))
    )
    return Scenario(name, (step,), **kwargs)


@dataclass(frozen=True)
class MonteCarloModel:
    """Seeded fat-tailed, correlated paths. ``vol`` asset -> stdev of the log return per step;
    ``df`` Student-t degrees of freedom (> 2; large = nearly normal); ``correlation`` a symmetric
    positive-definite matrix in the order of ``assets``; ``step_min`` minutes per step;
    ``funding`` (market, rate per step) charged on every step of every path, as in a scenario."""

    assets: tuple[str, ...]
    vol: tuple[float, ...]
    correlation: np.ndarray
    df: float = 4.0
    steps: int = 10
    step_min: Decimal = Decimal(6)
    paths: int = 1000
    funding: tuple[tuple[str, Decimal], ...] = ()
    _cholesky: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        n = len(self.assets)
        if n == 0:
            raise StressInputError("monte_carlo.vol", {}, "at least one asset with a volatility")
        if len(self.vol) != n or not all(math.isfinite(v) and 0 <= v <= 2 for v in self.vol):
            raise StressInputError(
                "monte_carlo.vol", self.vol, "one volatility in [0, 2] per asset"
            )
        corr = np.asarray(self.correlation, dtype=np.float64)
        if (
            corr.shape != (n, n)
            or not np.allclose(corr, corr.T)
            or not np.allclose(np.diag(corr), 1.0)
            or np.any(np.abs(corr) > 1)
        ):
            raise StressInputError(
                "monte_carlo.correlation",
                corr.tolist(),
                "a symmetric matrix with unit diagonal and entries in [-1, 1]",
            )
        try:
            chol = np.linalg.cholesky(corr)
        except np.linalg.LinAlgError:
            raise StressInputError(
                "monte_carlo.correlation", corr.tolist(), "a positive-definite matrix"
            ) from None
        if not (isinstance(self.df, (int, float)) and 2 < self.df <= 1e6):
            raise StressInputError("monte_carlo.df", self.df, "degrees of freedom in (2, 1e6]")
        _int("monte_carlo.steps", self.steps, 1, MAX_STEPS)
        _int("monte_carlo.paths", self.paths, 1, MAX_PATHS)
        object.__setattr__(self, "correlation", corr)
        object.__setattr__(self, "_cholesky", chol)

    def sample(self, seed: int, paths: int | None = None) -> np.ndarray:
        """Cumulative relative moves, shape (paths, steps, assets), float64, all > -1.

        Deterministic for a seed (numpy ``default_rng(seed)``). O(paths x steps x assets^2)."""
        _int("seed", seed, 0, 2**63 - 1)
        n_paths = self.paths if paths is None else _int("paths", paths, 1, MAX_PATHS)
        rng = np.random.default_rng(seed)
        n = len(self.assets)
        z = rng.standard_normal((n_paths, self.steps, n)) @ self._cholesky.T
        w = rng.chisquare(self.df, (n_paths, self.steps, 1))
        scale = math.sqrt((self.df - 2) / self.df)  # unit variance of the t draw
        returns = z * np.sqrt(self.df / w) * scale * np.asarray(self.vol)
        return np.expm1(np.cumsum(returns, axis=1))


@dataclass(frozen=True)
class ScenarioSet:
    """What a scenarios file holds: named scenarios and an optional Monte Carlo model."""

    scenarios: tuple[Scenario, ...]
    monte_carlo: MonteCarloModel | None = None

    def assets(self) -> set[str]:
        names = set().union(*(s.assets() for s in self.scenarios)) if self.scenarios else set()
        if self.monte_carlo is not None:
            names |= set(self.monte_carlo.assets)
        return names


_SCENARIO_KEYS = {"name", "shocks", "path", "funding", "liquidity", "oracle", "crowd"}
_ORACLE_KEYS = {
    "asset",
    "mode",
    "from_step",
    "to_step",
    "error",
    "sources",
    "bad_sources",
    "max_deviation_bps",
}
_MC_KEYS = {"paths", "steps", "step_min", "vol", "df", "correlation", "funding"}


def _scenario(raw: Any, where: str) -> Scenario:
    if not isinstance(raw, dict):
        raise StressInputError(where, raw, "a table")
    check_table(where, raw, Keys((), tuple(sorted(_SCENARIO_KEYS))), StressInputError)
    name = raw.get("name")
    if not isinstance(name, str) or not name or len(name) > 64:
        raise StressInputError(f"{where}.name", name, "a name of 1 to 64 characters")
    if ("shocks" in raw) == ("path" in raw):
        raise StressInputError(
            f"{where}.shocks", raw.get("shocks"), "exactly one of shocks (instant) or path"
        )
    steps: list[Step] = []
    if "shocks" in raw:
        if not isinstance(raw["shocks"], dict) or not raw["shocks"]:
            raise StressInputError(
                f"{where}.shocks", raw["shocks"], "a table asset = move, at least one"
            )
        steps.append(
            Step(
                Decimal(0),
                tuple(
                    sorted((a, _move(f"{where}.shocks.{a}", v)) for a, v in raw["shocks"].items())
                ),
            )
        )
    else:
        path = raw["path"]
        if not isinstance(path, list) or not path or len(path) > MAX_STEPS:
            raise StressInputError(
                f"{where}.path", path, f"1 to {MAX_STEPS} steps {{ t_min = .., ASSET = move }}"
            )
        last = Decimal(-1)
        for i, point in enumerate(path):
            key = f"{where}.path[{i}]"
            if not isinstance(point, dict) or "t_min" not in point:
                raise StressInputError(key, point, "a table with t_min and asset moves")
            t_min = _decimal(f"{key}.t_min", point["t_min"], lo=Decimal(0), allowed="minutes >= 0")
            if t_min <= last:
                raise StressInputError(
                    f"{key}.t_min", point["t_min"], f"strictly increasing times (> {last})"
                )
            last = t_min
            moves = tuple(
                sorted((a, _move(f"{key}.{a}", v)) for a, v in point.items() if a != "t_min")
            )
            steps.append(Step(t_min, moves))
    funding = _funding(where, raw.get("funding", {}))
    liquidity_raw = raw.get("liquidity", {})
    if not isinstance(liquidity_raw, dict):
        raise StressInputError(f"{where}.liquidity", liquidity_raw, "a table venue = depth scale")
    liquidity = tuple(
        sorted(
            (
                v,
                _decimal(
                    f"{where}.liquidity.{v}",
                    s,
                    lo=Decimal(0),
                    lo_open=True,
                    hi=ONE,
                    allowed="a depth scale in (0, 1]",
                ),
            )
            for v, s in liquidity_raw.items()
        )
    )
    oracle = None
    if "oracle" in raw:
        o = raw["oracle"]
        key = f"{where}.oracle"
        if not isinstance(o, dict):
            raise StressInputError(key, o, "a table")
        check_table(key, o, Keys((), tuple(sorted(_ORACLE_KEYS))), StressInputError)
        if o.get("mode") not in ORACLE_MODES:
            raise StressInputError(f"{key}.mode", o.get("mode"), " | ".join(ORACLE_MODES))
        if not isinstance(o.get("asset"), str):
            raise StressInputError(f"{key}.asset", o.get("asset"), "an asset name")
        n = len(steps)
        first = _int(f"{key}.from_step", o.get("from_step", 0), 0, n - 1)
        oracle = OracleFault(
            o["asset"],
            o["mode"],
            first,
            _int(f"{key}.to_step", o.get("to_step", n - 1), first, n - 1),
            _move(f"{key}.error", o.get("error", "0")),
            _int(f"{key}.sources", o.get("sources", 3), 1, 15),
            _int(f"{key}.bad_sources", o.get("bad_sources", 1), 0, 15),
            _int(f"{key}.max_deviation_bps", o.get("max_deviation_bps", 500), 1, 10_000),
        )
        if oracle.bad_sources > oracle.sources:
            raise StressInputError(
                f"{key}.bad_sources", oracle.bad_sources, f"<= sources ({oracle.sources})"
            )
    crowd = _int(f"{where}.crowd", raw.get("crowd", 1), 1, MAX_CROWD)
    return Scenario(name, tuple(steps), funding, liquidity, oracle, crowd)


def _funding(where: str, funding_raw: Any) -> tuple[tuple[str, Decimal], ...]:
    """``funding = { MARKET = "rate per step" }``: sorted (market, rate) pairs."""
    if not isinstance(funding_raw, dict):
        raise StressInputError(f"{where}.funding", funding_raw, "a table market = rate per step")
    return tuple(
        sorted(
            (
                m,
                _decimal(
                    f"{where}.funding.{m}",
                    r,
                    lo=Decimal("-0.5"),
                    hi=Decimal("0.5"),
                    allowed="a rate per step in [-0.5, 0.5]",
                ),
            )
            for m, r in funding_raw.items()
        )
    )


def _monte_carlo(raw: Any) -> MonteCarloModel:
    key = "monte_carlo"
    if not isinstance(raw, dict):
        raise StressInputError(key, raw, "a table")
    check_table(key, raw, Keys((), tuple(sorted(_MC_KEYS))), StressInputError)
    vol_raw = raw.get("vol")
    if not isinstance(vol_raw, dict) or not vol_raw:
        raise StressInputError(
            f"{key}.vol", vol_raw, "a table asset = volatility per step, at least one"
        )
    assets = tuple(sorted(vol_raw))
    vol = tuple(
        float(
            _decimal(
                f"{key}.vol.{a}",
                vol_raw[a],
                lo=Decimal(0),
                hi=Decimal(2),
                allowed="a volatility per step in [0, 2]",
            )
        )
        for a in assets
    )
    corr = np.eye(len(assets))
    corr_raw = raw.get("correlation", {})
    if not isinstance(corr_raw, dict):
        raise StressInputError(f"{key}.correlation", corr_raw, 'a table "A/B" = rho')
    for pair, rho in corr_raw.items():
        names = pair.split("/")
        if len(names) != 2 or names[0] == names[1] or any(n not in assets for n in names):
            raise StressInputError(
                f"{key}.correlation.{pair}", rho, f"a pair A/B of assets in vol {list(assets)}"
            )
        value = float(
            _decimal(
                f"{key}.correlation.{pair}",
                rho,
                lo=-ONE,
                hi=ONE,
                allowed="a correlation in [-1, 1]",
            )
        )
        i, j = assets.index(names[0]), assets.index(names[1])
        corr[i, j] = corr[j, i] = value
    df = float(
        _decimal(
            f"{key}.df",
            raw.get("df", "4"),
            lo=Decimal(2),
            lo_open=True,
            hi=Decimal(10**6),
            allowed="degrees of freedom in (2, 1e6]",
        )
    )
    step_min = _decimal(
        f"{key}.step_min",
        raw.get("step_min", "6"),
        lo=Decimal(0),
        lo_open=True,
        allowed="minutes per step > 0",
    )
    return MonteCarloModel(
        assets,
        vol,
        corr,
        df,
        _int(f"{key}.steps", raw.get("steps", 10), 1, MAX_STEPS),
        step_min,
        _int(f"{key}.paths", raw.get("paths", 1000), 1, MAX_PATHS),
        _funding(key, raw.get("funding", {})),
    )


def parse_scenarios(data: Any) -> ScenarioSet:
    """A :class:`ScenarioSet` from parsed TOML (``[[scenarios]]`` and ``[monte_carlo]``).

    Raises StressInputError naming the key: unknown keys, moves at or beyond -100%, empty
    scenario lists, duplicate names. O(size)."""
    if not isinstance(data, dict):
        raise StressInputError("<root>", data, "a table with [[scenarios]] and/or [monte_carlo]")
    check_table(TOP_LEVEL, data, Keys((), ("scenarios", "monte_carlo")), StressInputError)
    raw = data.get("scenarios", [])
    if not isinstance(raw, list):
        raise StressInputError("scenarios", raw, "an array of [[scenarios]] tables")
    if not raw and "monte_carlo" not in data:
        raise StressInputError(
            "scenarios", raw, "at least one [[scenarios]] or a [monte_carlo] table"
        )
    scenarios = tuple(_scenario(item, f"scenarios[{i}]") for i, item in enumerate(raw))
    names = [s.name for s in scenarios]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise StressInputError(f"scenarios[{i}].name", name, "distinct scenario names")
    mc = _monte_carlo(data["monte_carlo"]) if "monte_carlo" in data else None
    return ScenarioSet(scenarios, mc)


def load_scenarios(path: str | Path) -> ScenarioSet:
    """Read a scenarios TOML file; every problem is a ConfigError naming the file and key."""
    source = str(path)
    data = read_toml(path)
    try:
        return parse_scenarios(data)
    except StressInputError as exc:
        raise ConfigError(source, exc.field, exc.value, exc.allowed) from None
