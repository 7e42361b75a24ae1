"""Helpers of benchmarks/crash_recovery.py: the cluster under test, the client load, the
fault scenarios and the report. Imported as `crash.*` (benchmarks/ is the script's folder)."""
