"""The dashboard's keys as data, and a pure parser from key presses to actions.

A node action is its letter then the node's number: `k3` kills node 3. With ten or more nodes a
number may need two digits: the parser completes as soon as no longer valid id starts with the
digits typed (`k1` waits with nodes 1..12, then `k12` completes; Enter completes `k1`).
Escape or Backspace cancels a half-typed action. Bad input yields a message, never an exception.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable
from dataclasses import dataclass

DIGITS_MAX = 3  # node numbers are small; a longer number is a typo
ENTER_KEYS = frozenset({"\r", "\n", " "})
CANCEL_KEYS = frozenset({"\x1b", "\x7f", "\b"})


class ActionName(enum.StrEnum):
    """What the supervisor is asked to do."""

    KILL = "kill"
    PAUSE = "pause"
    RESUME = "resume"
    RESTART = "restart"
    ISOLATE_LEADER = "isolate-leader"
    PARTITION_RANDOM = "partition-random"
    HEAL = "heal"
    TOGGLE_UNRELIABLE = "toggle-unreliable"
    QUIT = "quit"


@dataclass(frozen=True, slots=True)
class KeyBinding:
    """One key: the action it starts and the footer's words for it."""

    key: str
    action: ActionName
    description: str
    needs_node: bool = False


KEYMAP: tuple[KeyBinding, ...] = (
    KeyBinding("k", ActionName.KILL, "kill", needs_node=True),
    KeyBinding("p", ActionName.PAUSE, "pause", needs_node=True),
    KeyBinding("r", ActionName.RESUME, "resume", needs_node=True),
    KeyBinding("s", ActionName.RESTART, "restart", needs_node=True),
    KeyBinding("i", ActionName.ISOLATE_LEADER, "isolate leader"),
    KeyBinding("x", ActionName.PARTITION_RANDOM, "random partition"),
    KeyBinding("h", ActionName.HEAL, "heal"),
    KeyBinding("u", ActionName.TOGGLE_UNRELIABLE, "unreliable on/off"),
    KeyBinding("q", ActionName.QUIT, "quit"),
)


@dataclass(frozen=True, slots=True)
class Action:
    """A complete request from the keyboard; `node_id` is set for node actions only."""

    name: ActionName
    node_id: int | None = None

    def describe(self) -> str:
        """`kill node 3`, `heal`."""
        return self.name.value if self.node_id is None else f"{self.name} node {self.node_id}"


@dataclass(frozen=True, slots=True)
class KeyResult:
    """The outcome of one key press: an action, a message for the footer, or both None."""

    action: Action | None = None
    message: str | None = None


class KeyParser:
    """Turns key presses into `Action`s (pure: no I/O, no clock).

    `node_ids` is the set of valid node numbers; the live loop updates it from each view.
    """

    def __init__(self, node_ids: Collection[int], keymap: Iterable[KeyBinding] = KEYMAP) -> None:
        self._bindings = {b.key: b for b in keymap}
        assert all(len(k) == 1 for k in self._bindings), "keys are single characters"
        self.node_ids = node_ids
        self._pending: KeyBinding | None = None
        self._digits = ""

    @property
    def node_ids(self) -> frozenset[int]:
        """The node numbers accepted after a node action's letter."""
        return self._node_ids

    @node_ids.setter
    def node_ids(self, ids: Collection[int]) -> None:
        self._node_ids = frozenset(ids)

    @property
    def prompt(self) -> str | None:
        """The half-typed action for the footer (`kill node 1_`), or None."""
        if self._pending is None:
            return None
        return f"{self._pending.description} node {self._digits}_ ({self._ids_text()})"

    def feed(self, key: str) -> KeyResult:
        """Consume one key press."""
        if len(key) != 1:
            return self._fail(f"unsupported key {key!r}")
        if self._pending is not None:
            return self._feed_number(key)
        if key in ENTER_KEYS or key in CANCEL_KEYS:
            return KeyResult()  # harmless: e.g. Enter after `k3`, which completed by itself
        if key.isdigit():
            return KeyResult(message=f"a node number follows k, p, r or s (got {key})")
        binding = self._bindings.get(key.lower())
        if binding is None:
            return KeyResult(message=f"unknown key {_show(key)}; keys: {self._keys_text()}")
        if not binding.needs_node:
            return KeyResult(action=Action(binding.action))
        self._pending, self._digits = binding, ""
        return KeyResult()

    def _feed_number(self, key: str) -> KeyResult:
        assert self._pending is not None
        if key in CANCEL_KEYS:
            self._reset()
            return KeyResult(message="cancelled")
        if key in ENTER_KEYS:
            if not self._digits:
                return self._fail(f"{self._pending.description}: no node number typed")
            return self._complete(int(self._digits))
        if not key.isdigit() or not key.isascii():
            what = self._pending.description
            return self._fail(f"{what}: expected a node number, got {_show(key)}")
        self._digits += key
        if len(self._digits) > DIGITS_MAX or not self._prefix_viable(self._digits):
            return self._fail(f"no node {self._digits} ({self._ids_text()})")
        number = int(self._digits)
        if number in self._node_ids and not self._longer_id_possible(self._digits):
            return self._complete(number)
        return KeyResult()

    def _complete(self, number: int) -> KeyResult:
        assert self._pending is not None
        if number not in self._node_ids:
            return self._fail(f"no node {number} ({self._ids_text()})")
        action = Action(self._pending.action, number)
        self._reset()
        return KeyResult(action=action)

    def _prefix_viable(self, digits: str) -> bool:
        return any(str(i).startswith(digits) for i in self._node_ids)

    def _longer_id_possible(self, digits: str) -> bool:
        return any(str(i).startswith(digits) and str(i) != digits for i in self._node_ids)

    def _fail(self, message: str) -> KeyResult:
        self._reset()
        return KeyResult(message=message)

    def _reset(self) -> None:
        self._pending, self._digits = None, ""

    def _ids_text(self) -> str:
        if not self._node_ids:
            return "no nodes"
        ids = sorted(self._node_ids)
        if ids == list(range(ids[0], ids[-1] + 1)) and len(ids) > 2:
            return f"nodes {ids[0]}-{ids[-1]}"
        return "nodes " + ",".join(str(i) for i in ids)

    def _keys_text(self) -> str:
        return " ".join(self._bindings)


def parse_keys(keys: Iterable[str], node_ids: Collection[int]) -> list[KeyResult]:
    """Feed a sequence of key presses to a fresh parser; the non-empty results, in order."""
    parser = KeyParser(node_ids)
    results = [parser.feed(k) for k in keys]
    return [r for r in results if r.action is not None or r.message is not None]


def footer_keys(keymap: Iterable[KeyBinding] = KEYMAP) -> list[tuple[str, str]]:
    """(key label, description) pairs for the footer: `k<n>` for node actions."""
    return [(f"{b.key}<n>" if b.needs_node else b.key, b.description) for b in keymap]


def _show(key: str) -> str:
    return repr(key) if not key.isprintable() or key.isspace() else key
