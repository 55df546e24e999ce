"""One hand-made model per pass: the IR text before and after (golden, inline).

Inputs are written as IR text after a shared header (a two-class MEAN forest); the
expected text is everything from the leaf table on, as ``print_ir`` writes it.
Every case also checks the rewrite on rows at, around and beyond each threshold.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from emlc.ir.text import parse_ir, print_ir
from emlc.passes import PASSES
from tests.passes.equivalence import assert_same_results

HEADER = """\
emlc-ir 1
model "m"
task classification
features {features} input {input}
outputs 2 aggregation mean accum float64
link identity
decision argmax
classes int64 [0, 1]
base 0.0 0.0
"""


def model(body: str, features: int = 1, input: str = "float32"):
    return parse_ir(HEADER.format(features=features, input=input) + textwrap.dedent(body))


def body(ens) -> str:
    return print_ir(ens).split("base 0.0 0.0\n", 1)[1]


def stump_forest():
    """Three stumps on x[0] <= 0; the first one's leaves outweigh the other two together."""
    return model("""\
        leaves float64 4 x 2
          0: 1.0 0.0
          1: 0.0 1.0
          2: 0.6 0.4
          3: 0.4 0.6
        catsets 0 x 1
        thresholds float64
        tree 0 output 0 nodes 3
          0: if x[0] <= 0.0 then 1 else 2 missing left
          1: leaf 0
          2: leaf 1
        tree 1 output 0 nodes 3
          0: if x[0] <= 0.0 then 1 else 2 missing left
          1: leaf 2
          2: leaf 3
        tree 2 output 0 nodes 3
          0: if x[0] <= 0.0 then 1 else 2 missing left
          1: leaf 2
          2: leaf 3
        """)


CASES = {
    # unused leaf row 1 and category set 0 go; rows and sets renumbered
    "prune_dead": (
        """\
        leaves float64 3 x 2
          0: 1.0 0.0
          1: 0.5 0.5
          2: 0.0 1.0
        catsets 2 x 1
          0: 0x00000001
          1: 0x00000006
        thresholds float64
        tree 0 output 0 nodes 3
          0: if x[0] in set 1 then 1 else 2 missing left
          1: leaf 0
          2: leaf 2
        """,
        """\
        leaves float64 2 x 2
          0: 1.0 0.0
          1: 0.0 1.0
        catsets 1 x 1
          0: 0x00000006
        thresholds float64
        tree 0 output 0 nodes 3
          0: if x[0] in set 0 then 1 else 2 missing left
          1: leaf 0
          2: leaf 1
        """,
    ),
    # node 1 is implied (x <= 1 and NaN both went left), node 2's NaN direction is not,
    # node 5's children are equal leaf rows (0 and 2 hold the same numbers)
    "fold_redundant_splits": (
        """\
        leaves float64 3 x 2
          0: 1.0 0.0
          1: 0.0 1.0
          2: 1.0 0.0
        catsets 0 x 1
        thresholds float64
        tree 0 output 0 nodes 9
          0: if x[0] <= 1.0 then 1 else 2 missing left
          1: if x[0] <= 2.0 then 3 else 4 missing left
          2: if x[0] <= 2.0 then 5 else 8 missing left
          3: leaf 0
          4: leaf 1
          5: if x[0] <= 1.5 then 6 else 7 missing right
          6: leaf 0
          7: leaf 2
          8: leaf 1
        """,
        """\
        leaves float64 3 x 2
          0: 1.0 0.0
          1: 0.0 1.0
          2: 1.0 0.0
        catsets 0 x 1
        thresholds float64
        tree 0 output 0 nodes 5
          0: if x[0] <= 1.0 then 1 else 2 missing left
          1: leaf 0
          2: if x[0] <= 2.0 then 3 else 4 missing left
          3: leaf 0
          4: leaf 1
        """,
    ),
    # int16 input: x <= 3.5 is x <= 3, x < 3 is x <= 2, x <= 40000 always holds
    "quantize_thresholds": (
        """\
        leaves float64 3 x 2
          0: 1.0 0.0
          1: 0.0 1.0
          2: 0.5 0.5
        catsets 0 x 1
        thresholds float64
        tree 0 output 0 nodes 7
          0: if x[0] <= 40000.0 then 1 else 6 missing right
          1: if x[0] <= 3.5 then 2 else 5 missing right
          2: if x[0] < 3.0 then 3 else 4 missing right
          3: leaf 0
          4: leaf 1
          5: leaf 2
          6: leaf 1
        """,
        """\
        leaves float64 3 x 2
          0: 1.0 0.0
          1: 0.0 1.0
          2: 0.5 0.5
        catsets 0 x 1
        thresholds int8
        tree 0 output 0 nodes 5
          0: if x[0] <= 3 then 1 else 4 missing right
          1: if x[0] <= 2 then 2 else 3 missing right
          2: leaf 0
          3: leaf 1
          4: leaf 2
        """,
    ),
    # x[0] (<=) and x[1] (<) become ranks; thresholds are edge indices
    "rank_features": (
        """\
        leaves float64 2 x 2
          0: 1.0 0.0
          1: 0.0 1.0
        catsets 0 x 1
        thresholds float64
        tree 0 output 0 nodes 7
          0: if x[0] <= 2.5 then 1 else 4 missing left
          1: if x[0] <= -0.5 then 2 else 3 missing right
          2: leaf 0
          3: leaf 1
          4: if x[1] < 7.25 then 5 else 6 missing left
          5: leaf 0
          6: leaf 1
        """,
        """\
        leaves float64 2 x 2
          0: 1.0 0.0
          1: 0.0 1.0
        catsets 0 x 1
        rank x[0] le -0.5 2.5
        rank x[1] lt 7.25
        thresholds float64
        tree 0 output 0 nodes 7
          0: if x[0] <= 1.0 then 1 else 4 missing left
          1: if x[0] <= 0.0 then 2 else 3 missing right
          2: leaf 0
          3: leaf 1
          4: if x[1] <= 0.0 then 5 else 6 missing left
          5: leaf 0
          6: leaf 1
        """,
    ),
    # the two x[1] <= 0 subtrees become one node (leaf rows 1 and 2 are equal),
    # and so do the three leaves on row 0
    "merge_subtrees": (
        """\
        leaves float64 3 x 2
          0: 1.0 0.0
          1: 0.0 1.0
          2: 0.0 1.0
        catsets 0 x 1
        thresholds float64
        tree 0 output 0 nodes 9
          0: if x[0] <= 0.0 then 1 else 4 missing left
          1: if x[1] <= 0.0 then 2 else 3 missing left
          2: leaf 0
          3: leaf 1
          4: if x[1] <= 5.0 then 5 else 8 missing left
          5: if x[1] <= 0.0 then 6 else 7 missing left
          6: leaf 0
          7: leaf 2
          8: leaf 0
        """,
        """\
        leaves float64 3 x 2
          0: 1.0 0.0
          1: 0.0 1.0
          2: 0.0 1.0
        catsets 0 x 1
        thresholds float64
        tree 0 output 0 nodes 5
          0: if x[0] <= 0.0 then 1 else 4 missing left
          1: if x[1] <= 0.0 then 2 else 3 missing left
          2: leaf 0
          3: leaf 1
          4: if x[1] <= 5.0 then 1 else 2 missing left
        """,
    ),
    # rows 0/2 and 1/3 are duplicates, row 4 is unused; order of first use kept
    "dedup_leaves": (
        """\
        leaves float64 5 x 2
          0: 0.0 1.0
          1: 1.0 0.0
          2: 0.0 1.0
          3: 1.0 0.0
          4: 0.5 0.5
        catsets 0 x 1
        thresholds float64
        tree 0 output 0 nodes 3
          0: if x[0] <= 0.0 then 1 else 2 missing left
          1: leaf 3
          2: leaf 2
        tree 1 output 0 nodes 3
          0: if x[0] <= 1.0 then 1 else 2 missing left
          1: leaf 1
          2: leaf 0
        """,
        """\
        leaves float64 2 x 2
          0: 1.0 0.0
          1: 0.0 1.0
        catsets 0 x 1
        thresholds float64
        tree 0 output 0 nodes 3
          0: if x[0] <= 0.0 then 1 else 2 missing left
          1: leaf 0
          2: leaf 1
        tree 1 output 0 nodes 3
          0: if x[0] <= 1.0 then 1 else 2 missing left
          1: leaf 0
          2: leaf 1
        """,
    ),
    # float32 inputs: <= 0.1 rounds down to a float32, < 0.1 rounds up; leaves fit float32
    "narrow_types": (
        """\
        leaves float64 2 x 2
          0: 0.75 0.25
          1: 0.25 0.75
        catsets 0 x 1
        thresholds float64
        tree 0 output 0 nodes 5
          0: if x[0] <= 0.1 then 1 else 2 missing left
          1: leaf 0
          2: if x[0] < 0.1 then 3 else 4 missing left
          3: leaf 0
          4: leaf 1
        """,
        """\
        leaves float32 2 x 2
          0: 0.75 0.25
          1: 0.25 0.75
        catsets 0 x 1
        thresholds float32
        tree 0 output 0 nodes 5
          0: if x[0] <= 0.099999994 then 1 else 2 missing left
          1: leaf 0
          2: if x[0] < 0.1 then 3 else 4 missing left
          3: leaf 0
          4: leaf 1
        """,
    ),
    # breadth-first numbering becomes preorder: every left child is the next node
    "preorder_layout": (
        """\
        leaves float64 2 x 2
          0: 1.0 0.0
          1: 0.0 1.0
        catsets 0 x 1
        thresholds float64
        tree 0 output 0 nodes 5
          0: if x[0] <= 0.0 then 1 else 2 missing left
          1: if x[0] <= -1.0 then 3 else 4 missing left
          2: leaf 1
          3: leaf 0
          4: leaf 1
        """,
        """\
        leaves float64 2 x 2
          0: 1.0 0.0
          1: 0.0 1.0
        catsets 0 x 1
        thresholds float64
        tree 0 output 0 nodes 5
          0: if x[0] <= 0.0 then 1 else 4 missing left
          1: if x[0] <= -1.0 then 2 else 3 missing left
          2: leaf 0
          3: leaf 1
          4: leaf 1
        """,
    ),
}

INPUTS = {"quantize_thresholds": "int16"}
FEATURES = {"rank_features": 2, "merge_subtrees": 2}


def test_every_pass_has_a_golden_or_its_own_test():
    lossless = {name for name, p in PASSES.items() if p.lossless}  # lossy ones: tests/passes/lossy
    assert set(CASES) | {"early_exit"} == lossless


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name):
    before, after = CASES[name]
    ens = model(before, features=FEATURES.get(name, 1), input=INPUTS.get(name, "float32"))
    out = PASSES[name](ens)
    assert body(out) == textwrap.dedent(after)
    probe = np.array([-40000, -2, -1, -0.5, 0, 0.1, 1, 1.5, 2, 2.5, 3, 3.5, 4, 7.25, 40000, np.nan, np.inf])
    probe = np.concatenate([probe, np.nextafter(probe.astype(np.float32), np.float32(np.inf))])
    if ens.input_type == "int16":
        probe = np.unique(np.floor(probe[np.isfinite(probe)]))
    X = np.stack(np.meshgrid(*[probe] * ens.n_features), axis=-1).reshape(-1, ens.n_features)
    assert_same_results(ens, out, X.astype(ens.input_type))


def test_early_exit_records_one_check_per_tree_round():
    """After tree 1 the other two add 0.8 to 1.2 per class, after tree 2 0.4 to 0.6 (widened)."""
    out = PASSES["early_exit"](stump_forest())
    assert textwrap.dedent("""\
        early_exit float64 2 confidence 1.0
          1: lower 0.7999999999999844 0.7999999999999844 upper 1.2000000000000155 1.2000000000000155
          2: lower 0.39999999999998487 0.39999999999998487 upper 0.6000000000000151 0.6000000000000151
        """) in body(out)


def test_fold_tightens_bounds_to_integers_on_integer_inputs():
    """int16: right of x <= 0.5 means x >= 1, so x <= 1 stays and x <= 1.5 below it is decided."""
    ens = model("""\
        leaves float64 3 x 2
          0: 1.0 0.0
          1: 0.0 1.0
          2: 0.5 0.5
        catsets 0 x 1
        thresholds float64
        tree 0 output 0 nodes 7
          0: if x[0] <= 0.5 then 1 else 2 missing right
          1: leaf 0
          2: if x[0] <= 1.0 then 3 else 4 missing right
          3: leaf 1
          4: if x[0] <= 1.5 then 5 else 6 missing right
          5: leaf 0
          6: leaf 2
        """, input="int16")
    out = PASSES["fold_redundant_splits"](ens)
    assert body(out).endswith(textwrap.dedent("""\
        tree 0 output 0 nodes 5
          0: if x[0] <= 0.5 then 1 else 2 missing right
          1: leaf 0
          2: if x[0] <= 1.0 then 3 else 4 missing right
          3: leaf 1
          4: leaf 2
        """))
    X = np.arange(-3, 4, dtype=np.int16)[:, None]
    assert_same_results(ens, out, X)


def test_merge_keeps_subtrees_apart_when_only_the_missing_side_differs():
    ens = model("""\
        leaves float64 2 x 2
          0: 1.0 0.0
          1: 0.0 1.0
        catsets 0 x 1
        thresholds float64
        tree 0 output 0 nodes 7
          0: if x[0] <= 0.0 then 1 else 4 missing left
          1: if x[1] <= 0.0 then 2 else 3 missing left
          2: leaf 0
          3: leaf 1
          4: if x[1] <= 0.0 then 5 else 6 missing right
          5: leaf 0
          6: leaf 1
        """, features=2)
    out = PASSES["merge_subtrees"](ens)
    assert out.trees[0].n_nodes == 5
    X = np.array([[-1.0, np.nan], [1.0, np.nan], [1.0, -1.0], [-1.0, 1.0]])
    assert_same_results(ens, out, X)


def test_rank_rewrites_strict_tests_on_features_compared_both_ways():
    """float32 x < 1 is x <= 0.99999994 (the float32 below 1), so x[0] gets one edge list."""
    ens = model("""\
        leaves float64 2 x 2
          0: 1.0 0.0
          1: 0.0 1.0
        catsets 0 x 1
        thresholds float64
        tree 0 output 0 nodes 5
          0: if x[0] < 1.0 then 1 else 2 missing left
          1: leaf 0
          2: if x[0] <= 2.0 then 3 else 4 missing right
          3: leaf 1
          4: leaf 0
        """)
    out = PASSES["rank_features"](ens)
    assert "rank x[0] le 0.9999999403953552 2.0\n" in body(out)
    assert "0: if x[0] <= 0.0 then 1 else 2 missing left" in body(out)
    X = np.array([0.5, 0.99999994, 1.0, 1.0000001, 2.0, 2.0000002, np.nan, np.inf, -np.inf], dtype=np.float32)
    assert_same_results(ens, out, X[:, None])
