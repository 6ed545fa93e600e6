"""liqreport: Kaiko token-level liquidation volumes → landing zone → DuckDB models → weekly report."""

__version__ = "0.1.0"
