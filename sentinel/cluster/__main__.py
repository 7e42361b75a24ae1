"""`python -m sentinel.cluster`: see `sentinel.cluster.cli`."""

from sentinel.cluster.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
