"""Parameter sweeps: a grid of overrides run on local processes (default) or on a Ray cluster.

A sweep file is TOML whose ``[grid]`` table maps dotted config keys to lists of values::

    [grid]
    "strategy.slices" = [6, 12]
    "backtest.latency.order_ms" = [5, 50]

Runs are the cartesian product in sorted-key order; each run is a pure function of (config,
overrides, seed), so the results are identical whatever the number of workers or the backend.
Results come back in grid order.
"""

from __future__ import annotations

import itertools
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from router.config import FILE_KEY, read_toml
from router.model.errors import ConfigError
from router.sim.errors import BacktestError

__all__ = ["expand_grid", "load_grid", "run_point", "run_sweep"]


def load_grid(path: str | Path) -> dict[str, list[Any]]:
    """Read a sweep file's ``[grid]``; every value must be a non-empty list."""
    try:
        raw = read_toml(path)
    except ConfigError as exc:  # the backtester reports its inputs as BacktestError
        allowed = exc.allowed if exc.key == FILE_KEY else f"valid TOML ({exc.value})"
        raise BacktestError("sweep", str(path), allowed) from None
    grid = raw.get("grid")
    if not isinstance(grid, dict) or not grid or set(raw) - {"grid"}:
        raise BacktestError("sweep.grid", grid, "a [grid] table of dotted key = [values]")
    for key, values in grid.items():
        if not isinstance(values, list) or not values or any(isinstance(v, float) for v in values):
            raise BacktestError(
                f"grid.{key}", values, "a non-empty list of values (no floats: use strings)"
            )
    return grid


def expand_grid(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Cartesian product of the grid, keys sorted, values in the order given."""
    keys = sorted(grid)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(grid[k] for k in keys))]


def run_point(
    config: str, overrides: dict[str, Any], seed: int | None, cache_dir: str | None = None
) -> dict[str, Any]:
    """One grid point: load, run, summarise (no comparison runs). Pure: same inputs, same output
    (with or without ``cache_dir``, the feed cache: the feeds are identical)."""
    from router.backtest.engine import load_spec, read_feeds, run_backtest
    from router.backtest.report import summarise, to_jsonable

    spec = load_spec(config, overrides, seed)
    summary = summarise(run_backtest(spec, feeds=read_feeds(spec, cache_dir)))
    return {
        "overrides": to_jsonable(overrides),
        "seed": spec.seed,
        "parents": summary["parents"],
        "books": summary["books"],
    }


def run_sweep(
    config: str | Path,
    grid: dict[str, list[Any]],
    *,
    seed: int | None = None,
    workers: int = 1,
    ray_address: str | None = None,
    cache_dir: str | Path | None = None,
) -> list[dict[str, Any]]:
    """Run every grid point; ``workers`` processes locally, or Ray tasks at ``ray_address``
    (``"local"`` starts an in-process Ray with one CPU). Results in grid order. With
    ``cache_dir`` every data file is parsed once here, and each run loads it from the cache."""
    if not isinstance(config, (str, Path)) or not Path(config).is_file():
        raise BacktestError("config", config, "the path of an existing backtest TOML")
    if not isinstance(grid, dict) or not grid:
        raise BacktestError("grid", grid, "a non-empty dict of dotted key -> [values]")
    for key, values in grid.items():
        if (
            not isinstance(key, str)
            or not key
            or not isinstance(values, list)
            or not values
            or any(isinstance(v, float) for v in values)
        ):
            raise BacktestError(
                f"grid.{key}", values, "a non-empty list of values (no floats: use strings)"
            )
    if seed is not None and (type(seed) is not int or seed < 0):
        raise BacktestError("seed", seed, "an integer >= 0, or None for the config's")
    if type(workers) is not int or workers < 1:
        raise BacktestError("workers", workers, "an integer >= 1")
    if ray_address is not None and (not isinstance(ray_address, str) or not ray_address):
        raise BacktestError(
            "ray_address", ray_address, "a Ray address ('auto', 'ray://host:port') or 'local'"
        )
    points = expand_grid(grid)
    config = str(Path(config).resolve())
    # Every point's config is validated before any runs (a bad override fails fast, nothing is run).
    from router.backtest.engine import load_spec

    specs = [load_spec(config, point, seed) for point in points]
    cache = None if cache_dir is None else str(cache_dir)
    if cache is not None:
        from router.backtest.engine import read_feeds

        seen: set[tuple] = set()
        for spec in specs:  # parse once (one entry per file and grid), replay many
            key = tuple((d["path"], d["tick_size"], d["lot_size"], d["format"]) for d in spec.data)
            if key not in seen:
                seen.add(key)
                read_feeds(spec, cache)
    if ray_address is not None:
        import ray

        if not ray.is_initialized():
            if ray_address == "local":
                ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
            else:
                ray.init(address=ray_address, log_to_driver=False)
        remote = ray.remote(run_point)
        return ray.get([remote.remote(config, p, seed, cache) for p in points])
    if workers == 1:
        return [run_point(config, p, seed, cache) for p in points]
    n = len(points)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(run_point, [config] * n, points, [seed] * n, [cache] * n))
