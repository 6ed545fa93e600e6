"""Benchmarks of liqreport against the obvious pandas alternative (`make bench`; never in CI's pass/fail)."""
