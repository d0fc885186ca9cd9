"""Bring your own fills: replay a trader's trade history through the margin core."""
