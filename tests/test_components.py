"""connected_components against a plain-Python union-find, and its round counts against
a plain-Python model of the paper's rounds.

Each case prints its round count and seconds (visible with ``pytest -s``).
"""
from __future__ import annotations

import math
import random
import time

import pytest
from pyspark.sql import DataFrame, SparkSession

from jobs.identity.components import ComponentsDidNotConverge, connected_components
from jobs.identity.lineage import release

EDGE_SCHEMA = "src string, dst string"
Edge = tuple[str, str]


def expected_components(edges: list[Edge]) -> dict[str, str]:
    """node -> smallest node of its component (Python's str order is Spark's for UTF-8)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:  # path compression keeps the 100k chain linear
            parent[x], x = root, parent[x]
        return root

    for a, b in edges:
        parent.setdefault(a, a)
        parent.setdefault(b, b)
        ra, rb = find(a), find(b)
        if ra != rb:
            # The smaller id as root makes the root the answer.
            parent[max(ra, rb)] = min(ra, rb)
    return {node: find(node) for node in parent}


def expected_rounds(edges: list[Edge]) -> int:
    """Rounds of the paper's alternating large-star / small-star, on sets, until a round
    returns its input (that round counted), as an independent model of the Spark code."""
    current = {(max(a, b), min(a, b)) for a, b in edges if a != b}
    rounds = 0
    while current:
        rounds += 1
        low: dict[str, str] = {}
        for a, b in current:
            low[a] = min(low.get(a, a), b)
        large = {(a, low.get(b, b)) for a, b in current}  # b's neighbourhood minimum
        low = {}
        for a, b in large:
            low[a] = min(low.get(a, a), b)
        small = {(x, low[a]) for a, b in large for x in (a, b) if x != low[a]}
        if small == current:
            break
        current = small
    return rounds


def run(
    spark: SparkSession, edges: list[Edge] | DataFrame, label: str, **kwargs
) -> tuple[dict[str, str], int]:
    frame = edges if isinstance(edges, DataFrame) else spark.createDataFrame(edges, EDGE_SCHEMA)
    start = time.perf_counter()
    result, rounds = connected_components(frame, **kwargs)
    elapsed = time.perf_counter() - start
    rows = result.collect()
    print(f"\n{label}: {len(rows)} nodes, {rounds} rounds, {elapsed:.1f} s")
    assert result.columns == ["node", "component"]
    assert [f.dataType.simpleString() for f in result.schema.fields] == ["string", "string"]
    labels = {row.node: row.component for row in rows}
    assert len(labels) == len(rows), "more than one row for a node"
    return labels, rounds


def check(spark: SparkSession, edges: list[Edge], label: str, **kwargs) -> int:
    labels, rounds = run(spark, edges, label, **kwargs)
    assert labels == expected_components(edges)
    return rounds


def random_graph(seed: int, nodes: int, links: int) -> list[Edge]:
    rng = random.Random(seed)
    name = lambda: f"s{seed}-n{rng.randrange(nodes)}"  # noqa: E731
    edges = [(name(), name()) for _ in range(links)]
    # Nodes that only have a self-loop, and repeated edges in both directions.
    edges += [(f"s{seed}-solo{i}",) * 2 for i in range(rng.randrange(5, 20))]
    edges += [(b, a) for a, b in rng.sample(edges, 50)]
    rng.shuffle(edges)
    return edges


def shuffled_chain(n: int, seed: int) -> list[Edge]:
    """A path whose labels are shuffled, so id order says nothing about path order."""
    labels = [f"n{i}" for i in range(n)]
    random.Random(seed).shuffle(labels)
    return [(labels[i], labels[i + 1]) for i in range(n - 1)]


@pytest.mark.parametrize(
    ("seeds", "links_per_node"), [((1, 2, 3), 0.7), ((4, 5, 6), 3.0)], ids=["sparse", "denser"]
)
def test_random_graphs_match_union_find(spark, seeds, links_per_node):
    # Disjoint graphs from several seeds in one frame: several seeds for one Spark run.
    edges = [e for seed in seeds for e in random_graph(seed, 1500, int(1500 * links_per_node))]
    rounds = check(spark, edges, f"random, seeds {seeds}, {links_per_node} links per node")
    assert rounds == expected_rounds(edges)


def test_chain_of_100000_shuffled_nodes(spark):
    n = 100_000
    edges = shuffled_chain(n, seed=7)
    rounds = check(spark, edges, "chain 100,000 shuffled")
    # Large-star / small-star needs O(log n) rounds in practice (14 here).
    assert 2 <= rounds <= 2 * math.ceil(math.log2(n))


def test_round_count_is_exact_and_max_rounds_is_enforced(spark):
    edges = shuffled_chain(30, seed=11)
    rounds = expected_rounds(edges)
    assert rounds >= 3
    # Exactly the model's number of rounds is enough and is what is reported ...
    labels, reported = run(spark, edges, "chain 30, max_rounds=rounds", max_rounds=rounds)
    assert (labels, reported) == (expected_components(edges), rounds)
    # ... and one fewer is not.
    with pytest.raises(ComponentsDidNotConverge, match=rf"\b{rounds - 1} rounds") as caught:
        connected_components(spark.createDataFrame(edges, EDGE_SCHEMA), max_rounds=rounds - 1)
    assert caught.value.rounds == rounds - 1


def test_single_hub_with_50000_leaves(spark):
    leaves = [f"leaf{i:05d}" for i in range(50_000)]
    # The hub sorts after every leaf: one node with 50,000 smaller neighbours.
    edges = [("zz-hub", leaf) for leaf in leaves]
    random.Random(5).shuffle(edges)
    rounds = check(spark, edges, "star: 1 hub (largest id), 50,000 leaves")
    assert rounds == 2  # one round re-centres on the smallest leaf, one changes nothing

    # Already a star around its smallest id, edges in both directions: only the round
    # that finds nothing to do.
    centred = [("a-hub", leaf) if i % 2 else (leaf, "a-hub") for i, leaf in enumerate(leaves[:2000])]
    assert check(spark, centred, "star: 1 hub (smallest id), 2,000 leaves") == 1


def test_linked_hubs(spark):
    rng = random.Random(9)
    ids = [f"v{i}" for i in range(15_000)]
    rng.shuffle(ids)
    hubs, pool = ids[:6], ids[6:]
    edges: list[Edge] = []
    for h, hub in enumerate(hubs):
        edges += [(hub, leaf) for leaf in pool[h * 2000:(h + 1) * 2000]]
    # Hubs 0-1-2 linked directly, 3 and 4 through a leaf of neither, 5 alone.
    edges += [(hubs[0], hubs[1]), (hubs[2], hubs[1]), (hubs[3], pool[-1]), (hubs[4], pool[-1])]
    rng.shuffle(edges)
    rounds = check(spark, edges, "6 hubs x 2,000 leaves, partly linked")
    assert rounds == expected_rounds(edges)
    assert len(set(expected_components(edges).values())) == 3


def test_self_loops_only(spark):
    edges = [("b", "b"), ("a", "a"), ("b", "b"), ("c", "c")]
    labels, rounds = run(spark, edges, "self-loops only")
    assert labels == {"a": "a", "b": "b", "c": "c"}
    assert rounds == 0


def test_duplicates_reversed_edges_and_string_order(spark):
    # Upper case sorts before lower case and accented letters after "z" (code points,
    # i.e. UTF-8 bytes), not in a locale's dictionary order.
    base = [("b", "a"), ("a", "c"), ("Zed", "é"), ("é", "x"), ("q", "q"), ("q", "r"),
            ("日本", "zz"), ("é", "b")]
    messy = base + [(b, a) for a, b in base] + base + [("a", "a"), ("é", "é")]
    labels, rounds = run(spark, messy, "duplicates + reversed + non-ASCII")
    assert labels == expected_components(base)
    assert (labels["x"], labels["zz"], labels["r"]) == ("Zed", "zz", "q")
    assert rounds == expected_rounds(base)


def test_empty_edges(spark):
    labels, rounds = run(spark, spark.createDataFrame([], EDGE_SCHEMA), "empty")
    assert labels == {} and rounds == 0


def test_deterministic_under_input_order_and_partitioning(spark):
    edges = random_graph(21, 1000, 1300)
    first, rounds = run(spark, edges, "random 1000, as given")
    frame = spark.createDataFrame(list(reversed(edges)), EDGE_SCHEMA).repartition(7)
    second, rounds_again = run(spark, frame, "random 1000, reversed, 7 partitions")
    assert (second, rounds_again) == (first, rounds)
    assert first == expected_components(edges)


@pytest.mark.parametrize("checkpoint_every", [1, 1000])
def test_checkpoint_interval_does_not_change_the_answer(spark, checkpoint_every):
    edges = shuffled_chain(100, seed=4) + random_graph(4, 200, 100)
    rounds = check(spark, edges, f"chain + random, checkpoint_every={checkpoint_every}",
                   checkpoint_every=checkpoint_every)
    assert rounds == expected_rounds(edges) >= 4  # enough rounds for the interval to matter


def test_reliable_checkpoints_when_a_directory_is_set(spark, tmp_path):
    context = spark.sparkContext
    before = context.getCheckpointDir()
    context.setCheckpointDir(str(tmp_path / "checkpoints"))
    try:
        # Every round checkpointed, so the rounds' own reliable checkpoints are covered.
        check(spark, shuffled_chain(30, seed=3), "chain 30, reliable checkpoints",
              checkpoint_every=1)
        assert list((tmp_path / "checkpoints").rglob("part-*")), "no checkpoint files were written"
    finally:
        # The session is shared: put back whatever was set before (usually nothing).
        getattr(context._jsc.sc(), "checkpointDir_$eq")(spark._jvm.scala.Option.apply(before))
    assert context.getCheckpointDir() == before


def stored_rdds(spark: SparkSession) -> set[int]:
    return set(spark.sparkContext._jsc.getPersistentRDDs().keySet())


def test_only_the_result_stays_stored_and_release_frees_it(spark):
    """A long-lived session (a 30-night backfill) ran out of driver memory when every night's
    checkpoints stayed in the block manager: the rounds' own must go, the result's on release."""
    edges = shuffled_chain(60, seed=9)
    before = stored_rdds(spark)
    result, rounds = connected_components(spark.createDataFrame(edges, EDGE_SCHEMA), checkpoint_every=1)
    assert rounds >= 4  # a checkpoint per round, all but the result's released
    left = stored_rdds(spark) - before
    assert len(left) == 1, left
    assert {r.node: r.component for r in result.collect()} == expected_components(edges)
    release(result)
    assert not stored_rdds(spark) & left


def test_rejects_edges_that_are_not_string_pairs(spark):
    numbers = spark.createDataFrame([(1, 2)], "src long, dst long")
    with pytest.raises(TypeError, match="string"):
        connected_components(numbers)
    with pytest.raises(ValueError, match="dst"):
        connected_components(numbers.select("src"))
    with pytest.raises(ValueError, match="max_rounds"):
        connected_components(spark.createDataFrame([], EDGE_SCHEMA), max_rounds=0)


def test_production_sql_settings(production_sql):
    # Adaptive execution re-plans joins and merges partitions (also those of the sort
    # that numbers the ids); last in the file because the fixture holds for the module.
    edges = [e for seed in (7, 8) for e in random_graph(seed, 1500, 1500)]
    rounds = check(production_sql, edges, "random, seeds (7, 8), adaptive execution + codegen")
    assert rounds == expected_rounds(edges)
