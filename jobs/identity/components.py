"""Connected components of an undirected id graph, in Spark DataFrames.

Algorithm: alternating large-star / small-star (Kiveris, Lattanzi, Mirrokni, Rastogi,
Vassilvitskii, "Connected Components in MapReduce and Beyond", SoCC 2014).

Every edge is kept oriented from the larger id to the smaller one (``src > dst`` in
Spark string order), so a node's smaller neighbours are exactly the ``dst`` values of
its rows. With m(u) = the smallest of u and its neighbours:

- large-star: each edge (a, b) becomes (a, m(b)): every node hangs off the smallest
  node in the neighbourhood of each of its smaller neighbours;
- small-star: for each node a with smaller neighbours N and n = min(N), every node of
  N and a itself become edges to n.

Both steps keep connectivity and the node set, and repeated rounds shrink every
component to a star around its smallest id. A graph of such stars is the only fixed
point: no edge's smaller end has a smaller neighbour of its own, and no node has two
smaller neighbours. A round flags exactly those two situations on its rows, so
"nothing changed" is one cheap aggregate over the round's (cached) output, and the
round that sees it is counted as the last round used.

Each round's edges are cached and the previous round's are dropped. The query plan of
round k still contains the plans of all rounds before it, so analysing and optimising
it grows with k and a lost cache block would be recomputed from the very first round;
cutting the lineage every few rounds (local checkpoint, or a reliable one when the
SparkContext has a checkpoint directory) keeps both bounded.

Edges are kept hash-partitioned by ``src`` from round to round, so the per-node minimum
at the start of a round needs no shuffle; a round shuffles three times (by ``dst`` for
the large-star join, by ``src`` for small-star, by ``src`` again to deduplicate).
"""
from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

RESULT_SCHEMA = StructType([
    StructField("node", StringType(), nullable=False),
    StructField("component", StringType(), nullable=False),
])


class ComponentsDidNotConverge(Exception):
    """The graph was not reduced to stars within the allowed number of rounds."""

    def __init__(self, rounds: int) -> None:
        super().__init__(f"connected components did not converge within {rounds} rounds")
        self.rounds = rounds


def _cut_lineage(df: DataFrame) -> DataFrame:
    # A reliable checkpoint survives executor loss; without a checkpoint directory the
    # local one (executor block manager) is the only choice.
    if df.sparkSession.sparkContext.getCheckpointDir():
        return df.checkpoint(eager=True)
    return df.localCheckpoint(eager=True)


def _round(edges: DataFrame) -> DataFrame:
    """One large-star + small-star round over oriented, distinct, src-partitioned edges.

    Returns the new edges (same invariants) with a boolean ``changed`` column that is
    true on some row unless the input already was a set of stars.
    """
    # Partitioned by src already, so this aggregate and the renamed side of the join
    # below reuse the existing partitioning.
    smallest = edges.groupBy("src").agg(F.min("dst").alias("m"))
    large = (
        edges.join(smallest.withColumnRenamed("src", "dst"), "dst", "left")
        .select(
            "src",
            F.coalesce("m", "dst").alias("dst"),
            # dst has a smaller neighbour: the input was not a star graph.
            F.col("m").isNotNull().alias("moved"),
        )
    )

    # A window rather than aggregate + join: one shuffle by src, and a hub with many
    # smaller neighbours is streamed through one group instead of joined back.
    by_src = Window.partitionBy("src")
    small = large.select(
        "src", "dst", "moved", F.min("dst").over(by_src).alias("m")
    ).select(
        "src",
        "dst",
        "m",
        # Two distinct smaller neighbours (when nothing moved, the rows are distinct).
        (F.col("moved") | (F.col("dst") != F.col("m"))).alias("changed"),
    )
    # Each row yields one edge: a smaller neighbour other than the minimum moves to the
    # minimum, and the row holding the minimum itself hangs src there; together that is
    # every edge of small-star without doubling the rows.
    emitted = small.select(
        F.when(F.col("dst") == F.col("m"), F.col("src")).otherwise(F.col("dst")).alias("src"),
        F.col("m").alias("dst"),
        "changed",
    )

    # Deduplicating after an explicit repartition by src leaves the result partitioned
    # the way the next round's aggregate wants it.
    return emitted.repartition("src").groupBy("src", "dst").agg(F.max("changed").alias("changed"))


def connected_components(
    edges: DataFrame, *, max_rounds: int = 100, checkpoint_every: int = 2
) -> tuple[DataFrame, int]:
    """Label every node with the smallest node id of its connected component.

    ``edges`` has string columns ``src`` and ``dst`` (undirected; duplicates allowed; a
    self-loop just declares an isolated node; null ids must be filtered by the caller).
    Returns ``(frame, rounds)``: one row per distinct node with columns ``node`` and
    ``component`` (the component's smallest id in Spark string order), materialised so
    it does not depend on the intermediate frames, and the number of large-star /
    small-star rounds used, counting the final round that found nothing to change
    (0 when there is no edge between two different nodes).

    Raises ComponentsDidNotConverge when ``max_rounds`` rounds still changed something.
    """
    if max_rounds < 1:
        raise ValueError(f"max_rounds must be at least 1, got {max_rounds}")
    if checkpoint_every < 1:
        raise ValueError(f"checkpoint_every must be at least 1, got {checkpoint_every}")
    missing = {"src", "dst"} - set(edges.columns)
    if missing:
        raise ValueError(f"edges need columns src and dst; missing {sorted(missing)}")
    for name in ("src", "dst"):
        if not isinstance(edges.schema[name].dataType, StringType):
            # Casting would silently switch to string order; callers must decide.
            raise TypeError(f"edges.{name} must be a string column, got {edges.schema[name].dataType.simpleString()}")

    # Self-loops stay in here so that self-loop-only nodes appear in the result.
    oriented = (
        edges.select(F.greatest("src", "dst").alias("src"), F.least("src", "dst").alias("dst"))
        .repartition("src")
        .distinct()
    )
    oriented = _cut_lineage(oriented)  # the caller's lineage is read exactly once
    persisted: list[DataFrame] = []
    try:
        current = oriented.where(F.col("src") != F.col("dst"))
        rounds = 0
        if current.isEmpty():
            pass
        else:
            while True:
                if rounds == max_rounds:
                    raise ComponentsDidNotConverge(rounds)
                rounds += 1
                step = _round(current).persist()
                persisted.append(step)
                # Fills the cache as a side effect, so the flag costs no extra pass.
                changed = step.agg(F.max("changed")).head()[0]
                current = step.select("src", "dst")
                if not changed:
                    break
                if rounds % checkpoint_every == 0:
                    current = _cut_lineage(current)
                    # Everything before the checkpoint is no longer referenced.
                    for df in persisted:
                        df.unpersist()
                    persisted.clear()
                elif len(persisted) > 1:
                    # The new round is cached; its predecessor only guards recomputation.
                    persisted.pop(0).unpersist()

        nodes = oriented.select(F.explode(F.array("src", "dst")).alias("node")).distinct()
        # Converged edges are (leaf, smallest id); component minima and isolated nodes
        # have no such row and are their own component.
        result = nodes.join(
            current.select(F.col("src").alias("node"), F.col("dst").alias("component")),
            "node",
            "left",
        ).select("node", F.coalesce("component", "node").alias("component"))
        return _cut_lineage(result), rounds
    finally:
        for df in persisted:
            df.unpersist()
