"""Stress and liquidation simulator: scenarios, the engine on simulated venues, tail statistics, plots."""
