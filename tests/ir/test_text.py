"""The text form round-trips exactly and reports syntax errors with line and column."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given

from emlc.errors import IRError
from emlc.ir import Aggregation, Decision, Ensemble, Link, Task, Tree
from emlc.ir.text import parse_ir, print_ir
from tests.strategies import ensembles

IRIS_LIKE = """\
emlc-ir 1
model "iris"
task classification
features 4 input float32
names "sepal length" "sepal \\"width\\"" "petal length" "petal width"
outputs 3 aggregation mean accum float64
link identity
decision argmax
classes str ["setosa", "versicolor", "virginica"]
base 0.0 0.0 0.0
leaves float64 3 x 3
  0: 1.0 0.0 0.0
  1: 0.0 0.9 0.1
  2: 0.0 0.02 0.98
catsets 1 x 1
  0: 0x00000005
thresholds float64
tree 0 output 0 nodes 5
  0: if x[2] <= 2.45 then 1 else 2 missing left
  1: leaf 0
  2: if x[3] < 1.75 then 3 else 4 missing right
  3: leaf 1
  4: leaf 2
tree 1 output 0 nodes 3
  0: if x[0] in set 0 then 1 else 2 missing right
  1: leaf 0
  2: leaf 2
"""


@given(ensembles())
def test_print_parse_round_trip(ens):
    text = print_ir(ens)
    back = parse_ir(text)
    assert back.same_as(ens)
    assert print_ir(back) == text


def test_handwritten_text_is_canonical_and_means_what_it_says():
    ens = parse_ir(IRIS_LIKE)
    assert print_ir(ens) == IRIS_LIKE
    assert ens.feature_names[1] == 'sepal "width"'
    from emlc.ir import interpret

    X = np.array([[0, 0, 1.0, 0], [5, 0, 2.45, 0], [2, 0, 3.0, 1.75], [1, 0, 3.0, 1.0]])
    # row 1: 2.45 as float32 is 2.4500000477 > 2.45, so it goes right, as in scikit-learn
    # tree 1 sends x0 in {0, 2} left (leaf 0), everything else right (leaf 2)
    expected_proba = np.array(
        [[1.0, 0.0, 0.0], [0.0, 0.46, 0.54], [0.5, 0.01, 0.49], [0.0, 0.46, 0.54]]
    )
    from emlc.ir import interpret_proba

    np.testing.assert_allclose(interpret_proba(ens, X), expected_proba)
    assert list(interpret(ens, X)) == ["setosa", "virginica", "setosa", "virginica"]


def test_float32_thresholds_and_special_values_survive():
    tree = Tree.build(
        op=[1, 0, 0], feature=[0, -1, -1], threshold=[np.float32(0.1), 0, 0],
        left=[1, -1, -1], right=[2, -1, -1], leaf=[-1, 0, 1], threshold_dtype="float32",
    )
    ens = Ensemble(
        n_features=1, task=Task.REGRESSION, trees=(tree,), tree_output=np.zeros(1, np.int32),
        leaves=np.array([[np.nextafter(0.1, 1)], [-1e-300]]), n_outputs=1,
        aggregation=Aggregation.SUM, link=Link.IDENTITY, decision=Decision.NONE,
        base_score=np.array([5e-324]),
    )
    back = parse_ir(print_ir(ens))
    assert back.trees[0].threshold.dtype == np.float32
    assert back.trees[0].threshold[0] == np.float32(0.1)
    assert back.leaves[0, 0] == np.nextafter(0.1, 1)
    assert back.base_score[0] == 5e-324


@pytest.mark.parametrize(
    "mutate, where",
    [
        (lambda t: t.replace("nodes 5", "nodez 5"), "line 18, column 17"),
        (lambda t: t.replace("leaves float64", "leaves float65"), "line 11, column 8"),
        (lambda t: t.replace("2.45", "2..45"), "line 19, column 19"),
        (lambda t: t.replace("task classification", "task clasification"), "line 3, column 6"),
        (lambda t: t.replace("  1: 0.0 0.9 0.1\n", ""), "line 11, column 16"),
    ],
)
def test_syntax_errors_name_line_and_column(mutate, where):
    with pytest.raises(IRError) as err:
        parse_ir(mutate(IRIS_LIKE), "broken.emlir")
    msg = str(err.value)
    assert msg.startswith("broken.emlir: ")
    assert "\n" not in msg
    if where:
        assert where in msg


def test_truncated_file_is_an_error_not_a_smaller_model():
    text = IRIS_LIKE
    # dropping the last node line leaves a tree that declares more nodes than it lists
    with pytest.raises(IRError, match="declares 3 nodes but lists 2"):
        parse_ir(text[: text.rindex("  2: leaf 2")])


@given(ensembles(tasks=(Task.CLASSIFICATION,)))
def test_early_exit_annotations_round_trip(ens):
    from emlc.passes import PASSES

    annotated = PASSES["early_exit"](ens)
    text = print_ir(annotated)
    back = parse_ir(text)
    assert back.same_as(annotated)
    assert print_ir(back) == text
    if annotated.early_exit is not None:
        assert "early_exit " in text
        assert not back.same_as(annotated.replace(early_exit=None))


@given(ensembles())
def test_fast_line_reader_agrees_with_the_grammar(ens):
    """Canonical leaf rows and trees skip lark; the result must be what the grammar builds."""
    from emlc.ir.text import _Bulk, _parse, _read_bulk

    text = print_ir(ens)
    lark_text, bulk = _read_bulk(text)
    assert bulk.leaves is not None and bulk.trees is not None
    assert lark_text.count("\n") == text.count("\n")  # line numbers preserved
    assert parse_ir(text).same_as(_parse(text, "<ir>", _Bulk()))


def test_non_canonical_layout_still_parses_through_the_grammar():
    loose = IRIS_LIKE.replace("  0: 1.0 0.0 0.0", "  0:   1.0  0.0 0.0   # comment").replace(
        "  1: leaf 0\n  2: if", "  1: leaf 0\n\n  2:   if"
    )
    assert parse_ir(loose).same_as(parse_ir(IRIS_LIKE))


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda t: t.replace("  2: 0.0 0.02 0.98\n", "  2: 0.0 0.02\n"), "line 14, column 3: leaf row 2 has 2 values, expected 3"),
        (lambda t: t.replace("  3: leaf 1", "  3: leaf"), "line 22"),
        (lambda t: t.replace("then 3 else 4", "then 3 else 40"), "right child out of range"),
    ],
)
def test_errors_in_bulk_sections_keep_their_positions(mutate, message):
    with pytest.raises(IRError, match=message):
        parse_ir(mutate(IRIS_LIKE), "broken.emlir")


@pytest.mark.parametrize("line", ["leaves", "  0:", "tree"])
def test_huge_integers_are_an_ir_error_not_a_crash(line):
    """Python refuses int() of over 4,300 digits; a damaged file must still get IRError."""
    text = IRIS_LIKE
    huge = "9" * 5000
    if line == "leaves":
        text = text.replace("leaves float64 3 x 3", f"leaves float64 {huge} x 3")
    elif line == "  0:":
        text = text.replace("\n  0: ", f"\n  {huge}: ", 1)
    else:
        text = text.replace("tree 0 output", f"tree {huge} output")
    with pytest.raises(IRError):
        parse_ir(text)
