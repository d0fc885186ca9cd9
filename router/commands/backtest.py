"""``crossroute backtest``: replay recorded market data into simulated venues and run a strategy.

    crossroute backtest --config FILE [--out DIR] [--seed N] [--sweep FILE] [--workers N]
                        [--ray-address ADDR] [--quiet]

Without --sweep: one run, plus one run per venue for the best-single-venue comparison, written
to DIR (default ``backtest-out``): results.json, parents/fills/margin.parquet, three PNG plots
and manifest.json (config, data file sha256, seed, crossroute version). With --sweep: the grid
runs on processes (or Ray) and DIR/sweep.json lists each point's overrides and shortfalls.
A progress bar shows on a terminal unless --quiet. Bad input: one line on stderr, exit 2, and
nothing written.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from router.commands import inputs, version
from router.commands.extras import require


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", required=True, help="backtest TOML (see config/examples/backtest-*.toml)"
    )
    parser.add_argument(
        "--out", default="backtest-out", help="output directory (replaced atomically)"
    )
    parser.add_argument("--seed", default=None, help="overrides [backtest].seed")
    parser.add_argument(
        "--sweep", default=None, help="TOML with a [grid] of dotted keys = [values]"
    )
    parser.add_argument("--workers", default="1", help="local worker processes for a sweep")
    parser.add_argument(
        "--ray-address",
        default=None,
        help="run the sweep on this Ray cluster ('local': in-process)",
    )
    parser.add_argument(
        "--cache-dir",
        default=None,
        help="parsed-feed cache (default: $XDG_CACHE_HOME/crossroute/feeds, else ~/.cache/...)",
    )
    parser.add_argument(
        "--no-cache", action="store_true", help="parse the data files every time (no cache)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar, no summary")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")


def run(args: argparse.Namespace) -> int:
    from router.backtest.engine import load_spec, read_feeds, run_backtest
    from router.backtest.report import (
        liquidation_lines,
        stale_lines,
        summarise,
        to_jsonable,
        write_outputs,
    )

    workers = inputs.integer_in("--workers", args.workers, 1, 1024)
    seed = None if args.seed is None else inputs.integer_in("--seed", args.seed, 0, 2**63 - 1)
    inputs.writable_dir("--out", args.out)
    if args.ray_address:
        require("ray", "--ray-address")
    if not args.sweep:
        require("parquet", "crossroute backtest (its parquet outputs)")
        if not args.no_plots:
            require("plots", "crossroute backtest's plots (or pass --no-plots)")
    spec = load_spec(args.config, seed=seed)
    from router.sim.cache import default_cache_dir

    cache_dir = None if args.no_cache else (args.cache_dir or str(default_cache_dir()))
    manifest = {
        "config": spec.raw,
        "config_path": str(Path(args.config).resolve()),
        "seed": spec.seed,
        "crossroute_version": version(),
        "python": sys.version.split()[0],
    }
    if args.sweep:
        from router.backtest.sweep import load_grid, run_sweep

        grid = load_grid(args.sweep)
        results = run_sweep(
            args.config,
            grid,
            seed=seed,
            workers=workers,
            ray_address=args.ray_address,
            cache_dir=cache_dir,
        )
        feeds = read_feeds(spec, cache_dir)
        manifest["data"] = [{"path": f.path, "sha256": f.sha256} for f in feeds]
        manifest["grid"] = grid
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        tmp = out / ".sweep.json.tmp"
        tmp.write_text(
            json.dumps(
                {"manifest": to_jsonable(manifest), "runs": results}, indent=2, sort_keys=True
            )
            + "\n"
        )
        tmp.replace(out / "sweep.json")
        if not args.quiet:
            for r in results:
                bps = [p["shortfall_bps"] for p in r["parents"]]
                print(f"{json.dumps(r['overrides'], sort_keys=True)}  shortfall_bps={bps}")
        return 0
    feeds = read_feeds(spec, cache_dir)
    manifest["data"] = [{"path": f.path, "sha256": f.sha256, "counts": f.counts} for f in feeds]
    progress, finish = _progress(args.quiet)
    try:
        raw = run_backtest(spec, feeds=feeds, progress=progress)
        comparison = {}
        if spec.compare_single_venue and spec.strategy_kind != "basis":
            for venue in raw["venues"]:
                comparison[venue] = run_backtest(spec, feeds=feeds, route_venues=[venue])
    finally:
        finish()
    summary = summarise(raw, comparison)
    files = write_outputs(
        args.out,
        summary,
        raw,
        manifest,
        plots=not args.no_plots,
        arb_interval_ns=spec.arb_interval_ns,
    )
    if not args.quiet:
        for p in summary["parents"]:
            best = p.get("best_single_venue")
            print(
                f"{p['name']}: {p['side']} {p['filled_qty']}/{p['qty']} {p['symbol']} avg {p['avg_price']} "
                f"shortfall {p['shortfall']} ({p['shortfall_bps']} bps) = spread {p['spread']} + impact "
                f"{p['impact']} + fees {p['fees']} + fixed {p['fixed_costs']}"
                + (f"; best single venue {best['venue']} {best['shortfall']}" if best else "")
            )
        for line in stale_lines(summary) + liquidation_lines(summary):
            print(line)
        print(f"wrote {len(files)} files to {args.out}")
        skipped = json.loads((Path(args.out) / "manifest.json").read_text()).get(
            "skipped_plots", {}
        )
        for name, reason in sorted(skipped.items()):
            print(f"skipped {name}: {reason}")
    return 0


def _progress(quiet: bool) -> tuple[Callable[[int, int], None] | None, Callable[[], None]]:
    if quiet or not sys.stderr.isatty():
        return None, lambda: None
    from rich.progress import Progress

    bar = Progress(transient=True)
    bar.start()
    task = bar.add_task("replaying", total=None)

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    return update, bar.stop
