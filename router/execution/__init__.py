"""Hedged multi-leg execution: the order model, the margin gate, the executor and its journal."""
