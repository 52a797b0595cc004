"""ethos benchmarks: ``python -m bench [NAME …]`` prints one table. Never part of the test suite."""
