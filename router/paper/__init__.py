"""Paper trading: market simulator, SQLite store, service, HTTP API and web page (see docs/paper.md)."""
