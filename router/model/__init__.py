"""The model the router speaks: depth curves, leg/quote/fill types, the venue protocol, errors.

Declared once, imported by the adapters and every layer above them."""
