"""The dashboard's lines for a sharded cluster: each group's leader, term and applied
configuration, the shard map of the latest configuration, and the shards in flight."""

from __future__ import annotations

from rich.text import Text

from sentinel.dashboard.records import ShardsView

UNKNOWN = "?"


def _num(value: int | None) -> str:
    return UNKNOWN if value is None else str(value)


def group_name(gid: int) -> str:
    """How a group is named on screen: ctl for the controller, g<gid> for a shard group."""
    return "ctl" if gid == 0 else f"g{gid}"


def leaders_of(shards: ShardsView) -> frozenset[int]:
    """The node ids of the groups' leaders (a sharded cluster has one leader per group)."""
    return frozenset(g.leader for g in shards.groups if g.leader is not None)


def head_parts(shards: ShardsView, term: int | None, elections: int) -> list[tuple[str, str]]:
    """The header's cluster figures for a sharded cluster, saying what they aggregate:
    `groups 4  leaders 3/4  max term 7  elections 12` (elections summed over the groups;
    each group's leader and term are on the groups line)."""
    count, led = len(shards.groups), len(leaders_of(shards))
    style = "bold green" if count and led == count else "bold red"
    return [("groups ", "dim"), (str(count), "bold"), ("  leaders ", "dim"),
            (f"{led}/{count}", style), ("  max term ", "dim"), (_num(term), "bold"),
            ("  elections ", "dim"), (str(elections), "bold")]  # fmt: skip


def plain_head(shards: ShardsView, term: int | None, elections: int) -> str:
    """The plain status line's cluster figures for a sharded cluster."""
    count, led = len(shards.groups), len(leaders_of(shards))
    return f"groups={count} leaders={led}/{count} maxterm={_num(term)} elections={elections}"


def shard_lines(shards: ShardsView) -> list[Text]:
    """Three lines: groups, shard map, in flight."""
    groups = Text("groups ", style="dim")
    for g in shards.groups:
        groups.append(f" {group_name(g.gid)}", style="bold")
        groups.append(f" leader {_num(g.leader)} term {_num(g.term)}", style="")
        if g.gid:
            groups.append(f" cfg {_num(g.config_num)}", style="dim")
    owners = Text(f"shards (config {_num(shards.config_num)}) ", style="dim")
    for shard, gid in enumerate(shards.owners):
        owners.append(f" {shard}:", style="dim")
        owners.append(group_name(gid) if gid else "-", style="bold")
    moving = Text("in flight ", style="dim")
    if not shards.in_flight:
        moving.append("none")
    for shard, src, dst in shards.in_flight:
        moving.append(f" {shard} {group_name(src)}->{group_name(dst)}", style="bold yellow")
    for line in (groups, owners, moving):
        line.no_wrap, line.overflow = True, "ellipsis"
    return [groups, owners, moving]


def plain_shards(shards: ShardsView) -> str:
    """The plain status line's part for shards: `cfg=N map=g1,g1,g2... moving=3:g1>g2`."""
    owners = ",".join(group_name(g) if g else "-" for g in shards.owners)
    moving = ",".join(f"{s}:{group_name(a)}>{group_name(b)}" for s, a, b in shards.in_flight)
    return f" cfg={_num(shards.config_num)} map={owners} moving={moving or '-'}"


def shards_to_json(shards: ShardsView) -> dict:
    """The `status --json` object's "shards" entry."""
    return {
        "config_num": shards.config_num,
        "owners": list(shards.owners),
        "groups": [
            {"gid": g.gid, "leader": g.leader, "term": g.term, "config_num": g.config_num}
            for g in shards.groups
        ],
        "in_flight": [list(item) for item in shards.in_flight],
    }
