"""Sentinel: a Raft-replicated key/value store run as a local cluster of real OS processes."""

__version__ = "0.1.0"
