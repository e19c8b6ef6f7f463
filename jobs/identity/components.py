"""Connected components of an undirected id graph, in Spark DataFrames.

Algorithm: alternating large-star / small-star (Kiveris, Lattanzi, Mirrokni, Rastogi,
Vassilvitskii, "Connected Components in MapReduce and Beyond", SoCC 2014).

Every edge is kept oriented from the larger id to the smaller one (``src > dst``), so a
node's smaller neighbours are exactly the ``dst`` values of its rows. With m(u) = the
smallest of u and its neighbours, one round is:

- large-star: each edge (a, b) becomes (a, m(b));
- small-star: for each node a whose smaller neighbours are N, with n = min(N), every
  node of N other than n, and a itself, gets the edge to n.

Both steps keep the node set and the connectivity, and repeated rounds shrink every
component to a star around its smallest id (O(log n) rounds in practice, 14 for a
100,000-node path with random labels). A graph of such stars is the only fixed point:
it is the graph in which no edge's smaller end has a smaller neighbour of its own and
no node has two smaller neighbours. A round flags exactly those two situations on its
rows, so "nothing changed" is one aggregate over the round's cached output, and the
round that finds nothing is counted as the last round used.

Ids are replaced by longs that sort like the strings (one global sort up front), so the
rounds shuffle and compare 8-byte keys instead of, say, 64-character hashes, and the
smallest long is the smallest string.

Each round's edges are cached and the previous round's dropped. The query plan of a
round still contains the plans of all rounds before it, so analysing it grows with the
round number, and a lost cache block would be recomputed from the first round; cutting
the lineage every ``checkpoint_every`` rounds (a local checkpoint, or a reliable one
when the SparkContext has a checkpoint directory) keeps both bounded. A local
checkpoint is taken lazily, so the round's own convergence check stores it and it
costs no extra job. Every checkpoint taken on the way is released once the result is
stored; the result's own is the caller's to release (jobs/identity/lineage.py says why).

A round shuffles twice: by node for large-star (each edge seen from both ends, which
is also where repeated edges are dropped), and by ``src`` for small-star.
"""
from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import StringType

from jobs.identity.lineage import cut_lineage, release


class ComponentsDidNotConverge(Exception):
    """The graph was not reduced to stars within the allowed number of rounds."""

    def __init__(self, rounds: int) -> None:
        super().__init__(f"connected components did not converge within {rounds} rounds")
        self.rounds = rounds


def _round(edges: DataFrame) -> DataFrame:
    """One large-star + small-star round over edges oriented src > dst.

    The input may repeat edges; the output has one row per distinct input edge and a
    boolean ``changed`` column that is true on some row unless the input already was a
    set of stars (then the output is the input without repeats).
    """
    # Every edge seen from both ends, in one pass over the input: a self-join would
    # double the query plan with every round between two checkpoints. Repeated edges
    # meet in the partition of their end node, so dropping them here costs no shuffle.
    ends = (
        edges.select(F.explode(F.array(
            F.struct(F.col("src").alias("node"), F.col("dst").alias("other"),
                     F.lit(False).alias("up")),
            F.struct(F.col("dst").alias("node"), F.col("src").alias("other"),
                     F.lit(True).alias("up")),
        )).alias("e"))
        .select("e.*")
        .repartition("node")
        .distinct()
    )
    # Large-star: the edge (other, node) seen from its smaller end becomes
    # (other, m(node)), m(node) being the least of node and its smaller neighbours.
    large = (
        ends.withColumn(
            "m", F.min(F.when(~F.col("up"), F.col("other"))).over(Window.partitionBy("node"))
        )
        .where(F.col("up"))
        .select(
            F.col("other").alias("src"),
            F.coalesce("m", "node").alias("dst"),
            # node has a smaller neighbour: the input was not a set of stars.
            F.col("m").isNotNull().alias("moved"),
        )
    )
    # Small-star, with a window rather than aggregate + join back so that large-star is
    # computed once.
    small = large.withColumn("m", F.min("dst").over(Window.partitionBy("src"))).select(
        "src",
        "dst",
        "m",
        # Two different smaller neighbours (without moves the rows are distinct).
        (F.col("moved") | (F.col("dst") != F.col("m"))).alias("changed"),
    )
    # One edge per row: a smaller neighbour other than the minimum moves to the minimum,
    # and the row holding the minimum hangs src itself there. Together that is all of
    # small-star without emitting src once per row. Repeats that this creates are left
    # to the next round's dedup above.
    return small.select(
        F.when(F.col("dst") == F.col("m"), F.col("src")).otherwise(F.col("dst")).alias("src"),
        F.col("m").alias("dst"),
        "changed",
    )


def _validate(edges: DataFrame, max_rounds: int, checkpoint_every: int) -> None:
    if max_rounds < 1:
        raise ValueError(f"max_rounds must be at least 1, got {max_rounds}")
    if checkpoint_every < 1:
        raise ValueError(f"checkpoint_every must be at least 1, got {checkpoint_every}")
    missing = sorted({"src", "dst"} - set(edges.columns))
    if missing:
        raise ValueError(f"edges need columns src and dst; missing {missing}")
    for name in ("src", "dst"):
        data_type = edges.schema[name].dataType
        if not isinstance(data_type, StringType):
            # Casting here would silently order numbers as strings; the caller decides.
            raise TypeError(f"edges.{name} must be a string column, got {data_type.simpleString()}")


def connected_components(
    edges: DataFrame, *, max_rounds: int = 100, checkpoint_every: int = 2
) -> tuple[DataFrame, int]:
    """Label every node with the smallest node id of its connected component.

    ``edges`` has string columns ``src`` and ``dst`` (undirected; duplicates allowed; a
    self-loop declares a node without linking it; callers filter out null ids).

    Returns ``(frame, rounds)``: ``frame`` has one row per distinct node, with columns
    ``node`` and ``component`` (the smallest id of the node's component in Spark string
    order), and is checkpointed, so it does not depend on any intermediate frame (release
    it with jobs.identity.lineage.release when done);
    ``rounds`` is the number of large-star / small-star rounds run, counting the last
    one, which found nothing to change (0 when no edge links two different nodes).

    Raises ComponentsDidNotConverge when round ``max_rounds`` still changed something.
    """
    _validate(edges, max_rounds, checkpoint_every)

    # Self-loops stay in so that nodes that only have one still get a row. Checkpointed
    # so the caller's lineage is evaluated once, even if it is not deterministic. The
    # setup frames are cut lazily: the jobs that first read them store them.
    cuts: list[DataFrame] = []  # every checkpoint taken here, released once the result is stored

    def cut(df: DataFrame, *, eager: bool = True) -> DataFrame:
        cuts.append(cut_lineage(df, eager=eager))
        return cuts[-1]

    oriented = cut(
        edges.select(F.greatest("src", "dst").alias("src"), F.least("src", "dst").alias("dst"))
        .distinct(),
        eager=False,
    )
    # After a global sort, monotonically_increasing_id grows with the sort order (it is
    # partition index, then row number), so the ids order exactly like the strings.
    node_ids = cut(
        oriented.select(F.explode(F.array("src", "dst")).alias("node"))
        .distinct()
        .orderBy("node")
        .select("node", F.monotonically_increasing_id().alias("id")),
        eager=False,
    )

    def ids_as(node_col: str, id_col: str) -> DataFrame:
        return node_ids.select(F.col("node").alias(node_col), F.col("id").alias(id_col))

    reliable = bool(edges.sparkSession.sparkContext.getCheckpointDir())
    persisted: list[DataFrame] = []
    try:
        current = cut(
            oriented.where(F.col("src") != F.col("dst"))
            .join(ids_as("src", "src_id"), "src")
            .join(ids_as("dst", "dst_id"), "dst")
            .select(F.col("src_id").alias("src"), F.col("dst_id").alias("dst")),
            eager=False,
        )
        rounds = 0
        while True:
            if rounds == max_rounds:
                raise ComponentsDidNotConverge(rounds)
            rounds += 1
            cut = rounds % checkpoint_every == 0
            step = _round(current)
            if cut and not reliable:
                # Lazy: stored by the first action over it, the check just below,
                # so cutting the lineage costs no job of its own.
                step = step.localCheckpoint(eager=False)
                cuts.append(step)
            else:
                step = step.persist()
                persisted.append(step)
            # One job per round: it computes the round, fills the cache or the
            # checkpoint, and answers whether anything changed.
            changed = step.agg(F.max("changed")).head()[0]
            if changed is None:
                rounds = 0  # no edge between two different nodes: nothing to iterate
            if changed and cut and reliable:
                # Written from the cache just filled; lazily it would be recomputed.
                step = step.checkpoint(eager=True)
            current = step.select("src", "dst")
            # Only the newest round is read from now on; older cached rounds would
            # merely spare recomputing it if its blocks were lost.
            for df in persisted:
                if df is not step:
                    df.unpersist()
            persisted = [df for df in persisted if df is step]
            if not changed:
                break

        # Converged edges are (node, smallest id of its component); the smallest ids
        # themselves and nodes without links have no row and are their own component.
        # Ids order like the strings, so the least string in a component is its answer.
        labelled = node_ids.join(
            current.select(F.col("src").alias("id"), F.col("dst").alias("component_id")),
            "id",
            "left",
        ).withColumn("component_id", F.coalesce("component_id", "id"))
        result = labelled.select(
            "node", F.min("node").over(Window.partitionBy("component_id")).alias("component")
        )
        return cut_lineage(result), rounds
    finally:
        for df in persisted:
            df.unpersist()
        release(*cuts)
