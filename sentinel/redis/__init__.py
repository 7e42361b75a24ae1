"""The Redis front door: RESP2/RESP3 over TCP for redis-cli, redis-py and redis-benchmark.

This package owns the protocol: the request reader (`resp`, `inline`), the reply encoder
(`replies`), the command table (`commands`), connection state, pipelining and transactions
(`connection`, `frontdoor`), and the asyncio server (`server`). The data lives behind the
`backend.Backend` interface; the cluster supplies the implementation that talks to the nodes
through the router. Only `sentinel.cluster` imports this package.
"""
