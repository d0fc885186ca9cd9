"""One uniform face per venue kind: read liquidity as a depth curve, quote exactly, execute a leg."""
