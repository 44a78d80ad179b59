"""``python -m rtecho.bench``: latency of models and backends through the full stream processor."""

from rtecho.bench.core import BenchResult, bench_model, environment, format_table, load_clip

__all__ = ["BenchResult", "bench_model", "environment", "format_table", "load_clip"]
