"""Exact simulated venues: pure state machines with no I/O and no imports from the rest of crossroute."""
