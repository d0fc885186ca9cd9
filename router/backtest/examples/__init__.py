"""Example venue plug-ins for backtests (see router/backtest/plugins.py)."""
