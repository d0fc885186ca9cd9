"""Simulation building blocks shared by paper trading and backtests: replayed market-data
feeds and the arbitrageurs that keep pools in line with a book."""
