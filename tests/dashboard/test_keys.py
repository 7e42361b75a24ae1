"""The key map and the parser from key presses to actions."""

from __future__ import annotations

import random

from sentinel.dashboard import KEYMAP, Action, ActionName, KeyParser, parse_keys

FIVE = range(1, 6)


def actions(keys: str, ids=FIVE) -> list[Action | str]:
    return [r.action or r.message for r in parse_keys(keys, ids)]  # type: ignore[misc]


def test_keymap_covers_every_action_once() -> None:
    assert sorted(b.action for b in KEYMAP) == sorted(ActionName)
    assert len({b.key for b in KEYMAP}) == len(KEYMAP)
    assert {b.key for b in KEYMAP if b.needs_node} == {"k", "p", "r", "s"}


def test_node_actions() -> None:
    assert actions("k3p1r1s5") == [
        Action(ActionName.KILL, 3),
        Action(ActionName.PAUSE, 1),
        Action(ActionName.RESUME, 1),
        Action(ActionName.RESTART, 5),
    ]


def test_cluster_actions_and_uppercase() -> None:
    assert actions("ixhuQ") == [
        Action(ActionName.ISOLATE_LEADER),
        Action(ActionName.PARTITION_RANDOM),
        Action(ActionName.HEAL),
        Action(ActionName.TOGGLE_UNRELIABLE),
        Action(ActionName.QUIT),
    ]


def test_invalid_input_gives_messages_and_recovers() -> None:
    out = actions("zk9 7k3")
    assert out[0] == "unknown key z; keys: k p r s i x h u q"
    assert out[1] == "no node 9 (nodes 1-5)"
    assert out[2] == "a node number follows k, p, r or s (got 7)"
    assert out[3] == Action(ActionName.KILL, 3)
    assert len(out) == 4  # the space outside an action is ignored, like Enter and Escape
    assert actions("k3\r \x1b") == [Action(ActionName.KILL, 3)]


def test_letter_after_action_key_cancels_with_message() -> None:
    assert actions("kq") == ["kill: expected a node number, got q"]
    assert actions("k\r") == ["kill: no node number typed"]
    assert actions("k\x1bk2") == ["cancelled", Action(ActionName.KILL, 2)]


def test_two_digit_node_numbers() -> None:
    twelve = range(1, 13)
    assert actions("k1", twelve) == []  # waits: 10, 11, 12 also start with 1
    assert actions("k1\r", twelve) == [Action(ActionName.KILL, 1)]
    assert actions("k12", twelve) == [Action(ActionName.KILL, 12)]
    assert actions("k2", twelve) == [Action(ActionName.KILL, 2)]  # no id 2x: completes at once
    assert actions("k13", twelve) == ["no node 13 (nodes 1-12)"]


def test_non_contiguous_ids_and_no_nodes() -> None:
    assert actions("k2", [1, 3, 4]) == ["no node 2 (nodes 1,3,4)"]
    assert actions("k1", []) == ["no node 1 (no nodes)"]


def test_prompt_shows_pending_action() -> None:
    parser = KeyParser(range(1, 13))
    assert parser.prompt is None
    parser.feed("p")
    assert parser.prompt == "pause node _ (nodes 1-12)"
    parser.feed("1")
    assert parser.prompt == "pause node 1_ (nodes 1-12)"
    assert parser.feed("1").action == Action(ActionName.PAUSE, 11)
    assert parser.prompt is None


def test_node_ids_follow_the_view() -> None:
    parser = KeyParser(range(1, 4))
    assert parser.feed("k").action is None
    assert parser.feed("5").message == "no node 5 (nodes 1-3)"
    parser.node_ids = range(1, 6)
    parser.feed("k")
    assert parser.feed("5").action == Action(ActionName.KILL, 5)


def test_multi_character_key_is_rejected() -> None:
    assert KeyParser(FIVE).feed("ab").message == "unsupported key 'ab'"


def test_random_input_never_raises() -> None:
    seed = random.randrange(2**32)
    print(f"seed={seed}")
    rng = random.Random(seed)
    alphabet = "kprsixhuq0123456789z \r\x1b\x7f\t€"
    parser = KeyParser(range(1, 16))
    for _ in range(5000):
        result = parser.feed(rng.choice(alphabet))
        if result.action is not None and result.action.node_id is not None:
            assert 1 <= result.action.node_id <= 15, seed
        assert result.action is None or result.message is None, seed
