"""Backtests: replay recorded market data into simulated venues and run strategies through the router.

Modules, leaf first: ``errors`` (BacktestError), ``feed`` (exact parsers of the Binance capture
format and of a CSV format for users' own data), ``book`` (the L2 book kept in sync by update id
and the replayed order-book venue with queue position), ``pools`` (AMM and CLMM pools kept in line
by a gas-paying arbitrageur), ``plugins`` (venues named ``module:Class``), ``replay`` (one clock),
``strategies`` (TWAP, POV, hedged basis, the user callback API), ``report`` (implementation
shortfall and output files), ``config`` (the TOML declaration), ``engine`` (one run) and
``sweep`` (parameter grids on processes or Ray). See docs/backtest.md.
"""
