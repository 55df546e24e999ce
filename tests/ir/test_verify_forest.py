"""The verifier checks all trees at once yet reports exactly the first tree's first defect.

Several trees are broken in different ways; the message must name the lowest
tree, and within it the defect a tree-by-tree check would meet first (layout,
node fields, shape, thresholds, output offset).
"""

from __future__ import annotations

import numpy as np
import pytest

from emlc.errors import IRError
from emlc.ir import FeatureRank
from emlc.ir.text import parse_ir
from emlc.ir.verify import verify
from tests.ir.test_text import IRIS_LIKE


def forest(copies: int = 3):
    """IRIS_LIKE's two trees repeated: trees 0, 2, 4 are the numeric one, 1, 3, 5 the categorical one."""
    ens = parse_ir(IRIS_LIKE)
    return ens.replace(trees=ens.trees * copies, tree_output=np.zeros(2 * copies, np.int32))


def broken(ens, k: int, **columns):
    trees = list(ens.trees)
    tree = trees[k]
    changed = {}
    for name, edits in columns.items():
        col = getattr(tree, name).copy()
        for i, v in edits.items():
            col[i] = v
        changed[name] = col
    trees[k] = tree.replace(**changed)
    return ens.replace(trees=tuple(trees))


def message(ens) -> str:
    with pytest.raises(IRError) as err:
        verify(ens)
    return str(err.value)


def test_accepts_many_trees():
    assert verify(forest(50)) is not None


def test_lowest_tree_wins_over_earlier_kinds_of_defect():
    ens = broken(forest(), 4, op={0: 9})  # node field defect in tree 4
    ens = broken(ens, 2, right={2: 0})  # cycle (a shape defect) in tree 2
    assert message(ens) == "tree 2: the root (node 0) is a child of node 2; this makes a cycle"


def test_within_a_tree_the_first_kind_of_defect_wins():
    ens = broken(forest(), 2, right={0: 3}, threshold={2: np.nan})  # unreachable node and NaN threshold
    assert message(ens) == "tree 2 node 2: NaN threshold"


def test_node_field_defects_in_check_order_then_lowest_node():
    ens = broken(forest(), 3, leaf={2: 7}, cat={1: 0})  # the leaf-row check comes first, though at node 2
    assert message(ens) == "tree 3 node 2: leaf row out of range [0, 3)"
    ens = broken(forest(), 0, feature={2: 9, 0: 9})
    assert message(ens) == "tree 0 node 0: feature index out of range [0, 4)"


def test_child_range_names_the_tree_size():
    ens = broken(forest(), 5, left={0: 3})
    assert message(ens) == "tree 5 node 0: left child out of range [0, 3)"


def test_shape_defects_after_a_bad_tree_are_not_reached():
    ens = broken(forest(), 1, left={0: 9})  # tree 1's children are invalid, so its shape is never walked
    ens = broken(ens, 4, right={2: 3})  # a later tree's cycle
    assert message(ens) == "tree 1 node 0: left child out of range [0, 3)"


def test_cycle_below_the_root_and_orphans():
    ens = broken(forest(), 2, op={4: 1}, feature={4: 0}, leaf={4: -1}, left={4: 3}, right={4: 2})
    assert message(ens) == "tree 2 node 2: part of a cycle"
    ens = broken(forest(), 4, right={0: 3})
    assert message(ens) == "tree 4 node 2: unreachable from the root"


def test_layout_defect_of_a_later_tree_loses_to_an_earlier_node_defect():
    ens = broken(forest(), 1, leaf={1: 5})
    trees = list(ens.trees)
    trees[3] = trees[3].replace(left=trees[3].left.astype(np.int64))
    ens = ens.replace(trees=tuple(trees))
    assert message(ens) == "tree 1 node 1: leaf row out of range [0, 3)"


def test_threshold_and_offset_defects():
    ranked = forest().replace(feature_ranks=(None, None, FeatureRank(np.array([1.0, 2.0])), None))
    assert message(ranked) == "tree 0 node 0: rank threshold outside the feature's rank range"
    late = forest()
    offsets = late.tree_output.copy()
    offsets[5] = 1
    assert message(late.replace(tree_output=offsets)) == (
        "tree 5: output offset 1 plus leaf width 3 exceeds 3 outputs"
    )


def _cycle_in(ens, k: int):
    return broken(ens, k, op={4: 1}, feature={4: 0}, leaf={4: -1}, left={4: 3}, right={4: 2})


def test_cycles_are_found_among_forward_numbered_trees():
    """Trees numbering every child after its parent skip the cycle walk; the others still get it."""
    assert message(_cycle_in(forest(20), 16)) == "tree 16 node 2: part of a cycle"
    # An orphan (whose children then look stuck) in an earlier forward-numbered tree wins.
    assert message(_cycle_in(broken(forest(), 0, right={0: 3}), 4)) == "tree 0 node 2: unreachable from the root"


def test_a_dag_sharing_an_earlier_node_is_accepted():
    from emlc.ir import Tree

    dag = Tree.build(op=[1, 0, 1, 0], feature=[0, -1, 1, -1], threshold=[0.5, 0, 0.5, 0],
                     left=[1, -1, 1, -1], right=[2, -1, 3, -1], leaf=[-1, 0, -1, 1])
    ens = forest(2)
    assert verify(ens.replace(trees=(ens.trees[0], dag) * 2)) is not None
    looped = dag.replace(left=np.array([1, -1, 0, -1], dtype=np.int32))  # node 2 back to the root
    assert message(ens.replace(trees=(ens.trees[0], looped) * 2)) == (
        "tree 1: the root (node 0) is a child of node 2; this makes a cycle"
    )
