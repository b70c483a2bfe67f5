"""`npsloop bench`: runs the benchmarks of a source checkout and writes the report."""
