"""`put`, `get`, `append`, `delete` and `cas` from the command line: one call of the public
client (`sentinel.connect`) through the router."""

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO

KV_TIMEOUT_S = 10.0


class KVError(RuntimeError):
    """The call failed; the message says why."""


def read_value(stream: BinaryIO) -> str:
    """A value from `stream` (standard input): UTF-8 text of at most the store's value limit.
    Reads no more than one byte past that limit, so a huge input is refused, not held."""
    from sentinel.kvraft.limits import VALUE_BYTES_MAX

    data = stream.read(VALUE_BYTES_MAX + 1)
    if len(data) > VALUE_BYTES_MAX:
        raise KVError(f"the value on standard input is over the {VALUE_BYTES_MAX}-byte limit")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise KVError(f"the value on standard input is not UTF-8 text: {e}") from None


def connect(directory: Path):  # type: ignore[no-untyped-def]
    """A client of the cluster running in `directory`; KVError when there is none."""
    from sentinel.cluster.settings import SettingsError
    from sentinel.cluster.shardlayout import ShardLayout, load_cluster

    try:
        identity = load_cluster(directory)
    except SettingsError as e:
        raise KVError(str(e)) from None
    if identity is None:
        raise KVError(f"no cluster in {directory}")
    try:
        import sentinel
        from sentinel.cluster.members import current_ids

        if isinstance(identity, ShardLayout):  # routes each call by key
            return sentinel.connect(directory)
        return sentinel.connect(directory, servers=current_ids(directory, identity.node_ids))
    except ImportError as e:
        raise KVError(f"the key/value client is not available: {e}") from None
    except (OSError, EOFError, ValueError) as e:
        raise KVError(f"cannot connect to the cluster in {directory}: {e}") from None


def call(directory: Path, verb: str, *args: str | None) -> Any:
    """One call of the client's `verb` (put, get, append, delete, cas) with `args`, on a
    client of the cluster in `directory`; what the call returns. KVError on failure."""
    from sentinel.kvraft.errors import KVError as ClientError  # after connect's import check

    with connect(directory) as client:
        try:
            return getattr(client, verb)(*args, timeout_s=KV_TIMEOUT_S)
        except ValueError as e:  # InvalidRequest: refused before sending
            raise KVError(f"invalid request: {e}") from None
        except ClientError as e:
            raise KVError(f"{verb} failed: {type(e).__name__}: {e}") from None
