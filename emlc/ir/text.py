"""The IR's text form: a stable, readable dump and its lark parser.

``print_ir`` is canonical (``print_ir(parse_ir(t)) == t`` for any printed ``t``) and
exact: every number is written so it reads back to the same value in its dtype
(shortest round-trip decimal, ``inf``/``nan`` spelled out). Example::

    emlc-ir 1
    model "iris"
    task classification
    features 4 input float32
    outputs 3 aggregation mean accum float64
    link identity
    decision argmax
    classes int64 [0, 1, 2]
    base 0.0 0.0 0.0
    leaves float64 2 x 3
      0: 1.0 0.0 0.0
      1: 0.0 0.5 0.5
    catsets 0 x 1
    thresholds float64
    tree 0 output 0 nodes 3
      0: if x[2] <= 2.45 then 1 else 2 missing left
      1: leaf 0
      2: leaf 1
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import IRError
from ..limits import MAX_FEATURES
from .ensemble import (
    Aggregation,
    Decision,
    EarlyExit,
    Ensemble,
    FeatureRank,
    Link,
    LinkMath,
    Op,
    Task,
    Tree,
)
from .verify import verify

if TYPE_CHECKING:  # lark is imported where text is parsed: printing IR must not pay for it
    import lark

VERSION = 1
_CMP = {Op.LE: "<=", Op.LT: "<"}


def _fmt(value, dtype: np.dtype) -> str:
    """Shortest decimal that reads back to the same value in ``dtype``."""
    if dtype.kind in "iub":
        return str(int(value))
    if dtype == np.float32:
        return str(np.float32(value))
    return repr(float(value))


def _fmt_row(values: np.ndarray) -> str:
    return " ".join(_fmt(v, values.dtype) for v in values)


def _label(value, kind: str) -> str:
    if kind == "str":
        return json.dumps(str(value))
    if kind == "bool":
        return str(int(bool(value)))
    return _fmt(value, np.dtype(kind))


def _classes_kind(classes: np.ndarray) -> str:
    if classes.dtype.kind in "UO":
        return "str"
    return str(classes.dtype)


def print_ir(ens: Ensemble) -> str:
    """The canonical text of ``ens``."""
    out: list[str] = [f"emlc-ir {VERSION}", f"model {json.dumps(ens.name)}", f"task {ens.task.value}"]
    out.append(f"features {ens.n_features} input {ens.input_type}")
    if ens.feature_names:
        out.append("names " + " ".join(json.dumps(str(n)) for n in ens.feature_names))
    out.append(f"outputs {ens.n_outputs} aggregation {ens.aggregation.value} accum {ens.accum_dtype}")
    params = ""
    if ens.link_params:
        params = "(" + ", ".join(repr(float(p)) for p in ens.link_params) + ")"
    math = "" if ens.link_math is LinkMath.NUMPY else f" {ens.link_math.value}"
    out.append(f"link {ens.link.value}{params}{math}")
    out.append(f"decision {ens.decision.value}")
    if ens.classes is not None:
        classes = np.asarray(ens.classes)
        kind = _classes_kind(classes)
        out.append(f"classes {kind} [" + ", ".join(_label(c, kind) for c in classes) + "]")
    out.append("base " + _fmt_row(np.asarray(ens.base_score, dtype=np.float64)))
    leaves = ens.leaves
    out.append(f"leaves {leaves.dtype} {leaves.shape[0]} x {leaves.shape[1]}")
    out.extend(f"  {i}: {_fmt_row(row)}" for i, row in enumerate(leaves))
    if ens.leaf_scale is not None:
        out.append("leaf_scale " + _fmt_row(np.asarray(ens.leaf_scale, dtype=np.float64)))
    sets = ens.cat_sets
    out.append(f"catsets {sets.shape[0]} x {sets.shape[1]}")
    out.extend(f"  {i}: " + " ".join(f"0x{int(w):08x}" for w in row) for i, row in enumerate(sets))
    for f, rank in enumerate(ens.feature_ranks):
        if rank is not None:
            side = "lt" if rank.strict else "le"
            edges = (" " + _fmt_row(rank.edges)) if rank.edges.size else ""
            out.append(f"rank x[{f}] {side}{edges}")
    ee = ens.early_exit
    if ee is not None:
        out.append(f"early_exit {ee.lower.dtype} {len(ee.checkpoints)} confidence {float(ee.confidence)!r}")
        out.extend(
            f"  {int(c)}: lower {_fmt_row(lo)} upper {_fmt_row(hi)}"
            for c, lo, hi in zip(ee.checkpoints, ee.lower, ee.upper)
        )
    out.append(f"thresholds {ens.threshold_dtype}")
    for i, tree in enumerate(ens.trees):
        out.append(f"tree {i} output {int(ens.tree_output[i])} nodes {tree.n_nodes}")
        out.extend(_node_lines(tree))
    return "\n".join(out) + "\n"


def _node_lines(tree: Tree) -> list[str]:
    dtype = tree.threshold.dtype
    lines = []
    for i in range(tree.n_nodes):
        op = Op(int(tree.op[i]))
        if op is Op.LEAF:
            lines.append(f"  {i}: leaf {int(tree.leaf[i])}")
            continue
        side = "left" if tree.default_left[i] else "right"
        test = (
            f"in set {int(tree.cat[i])}"
            if op is Op.CAT
            else f"{_CMP[op]} {_fmt(tree.threshold[i], dtype)}"
        )
        lines.append(
            f"  {i}: if x[{int(tree.feature[i])}] {test} then {int(tree.left[i])} "
            f"else {int(tree.right[i])} missing {side}"
        )
    return lines


@lru_cache(maxsize=1)
def _parser() -> lark.Lark:
    import lark

    grammar = (Path(__file__).with_name("text.lark")).read_text()
    return lark.Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=True)


class _Located(IRError):
    pass


def _at(meta_or_token, msg: str) -> IRError:
    line = getattr(meta_or_token, "line", None)
    col = getattr(meta_or_token, "column", None)
    return _Located(f"line {line}, column {col}: {msg}" if line else msg)


def _enum(cls, token: lark.Token):
    try:
        return cls(str(token))
    except ValueError:
        names = ", ".join(m.value for m in cls)
        raise _at(token, f"unknown {cls.__name__.lower()} {str(token)!r} (expected one of {names})")


def _dtype(token: lark.Token, allowed: tuple[str, ...]) -> np.dtype:
    if str(token) not in allowed:
        raise _at(token, f"unknown dtype {str(token)!r} (expected one of {', '.join(allowed)})")
    return np.dtype(str(token))


def _numbers(tokens, dtype) -> np.ndarray:
    return np.array([str(t) for t in tokens], dtype=np.float64).astype(dtype) if dtype.kind == "f" else _ints(tokens, dtype)


def _ints(tokens, dtype) -> np.ndarray:
    values = []
    for t in tokens:
        s = str(t)
        try:
            values.append(int(s))
        except ValueError:
            raise _at(t, f"expected an integer, got {s!r}")
    info = np.iinfo(dtype)
    for t, v in zip(tokens, values):
        if not info.min <= v <= info.max:
            raise _at(t, f"value {v} out of range for {dtype}")
    return np.array(values, dtype=dtype)


def _number_tokens(trees) -> list[lark.Token]:
    return [t.children[0] for t in trees]


def _string(token: lark.Token) -> str:
    try:
        return json.loads(str(token))
    except ValueError as e:
        raise _at(token, f"bad string escape ({e.msg})") from None


def _count(token: lark.Token, limit: int = 1 << 31) -> int:
    s = str(token)
    if len(s) > len(str(limit)) or int(s) >= limit:
        raise _at(token, f"count {s[:20]} is too large (at most {limit - 1})")
    return int(s)


def parse_ir(text: str, source: str = "<ir>") -> Ensemble:
    """Parse IR text; errors name the source, line and column.

    Tree sections in the canonical layout ``print_ir`` writes are read by a strict
    line matcher (big models have millions of node lines); anything else, including
    every error, goes through the lark grammar, which stays the definition.
    """
    lark_text, bulk = _read_bulk(text)
    if bulk.leaves is not None or bulk.trees is not None:
        try:
            return _parse(lark_text, source, bulk)
        except (IRError, _FastPathFailed):
            pass
    return _parse(text, source, _Bulk())


class _FastPathFailed(Exception):
    """The fast tree reader met something only the grammar can judge."""


_LEAVES_LINE = re.compile(r"leaves \w+ (\d{1,18}) x (\d{1,18})")
_NUMBER = r"[+-]?(?:inf|nan|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
_LEAF_ROW = re.compile(rf"  (\d{{1,18}}): ({_NUMBER}(?: {_NUMBER})*)")


@dataclass
class _Bulk:
    """Sections read by the line matcher: leaf rows as number strings, trees as raw columns."""

    leaves: list[list[str]] | None = None
    trees: list[tuple[int, list]] | None = None


def _read_bulk(text: str) -> tuple[str, _Bulk]:
    """Read canonical leaf rows and tree sections; blank their lines for lark (keeping line numbers)."""
    lines = text.split("\n")
    bulk = _Bulk()
    head = next((i for i, line in enumerate(lines) if line.startswith("leaves ")), None)
    m = _LEAVES_LINE.fullmatch(lines[head]) if head is not None else None
    if m is not None:
        n_rows, n_cols = int(m[1]), int(m[2])
        rows = lines[head + 1 : head + 1 + n_rows]
        values: list[list[str]] = []
        for k, line in enumerate(rows):
            row = _LEAF_ROW.fullmatch(line)
            if row is None or int(row[1]) != k:
                break
            cells = row[2].split(" ")
            if len(cells) != n_cols:
                break
            values.append(cells)
        if len(values) == n_rows == len(rows):
            bulk.leaves = values
            lines[head + 1 : head + 1 + n_rows] = [""] * n_rows
    start = next((i for i, line in enumerate(lines) if line.startswith("tree ")), None)
    if start is not None:
        bulk.trees = _fast_trees(lines[start:])
        if bulk.trees is not None:
            lines[start:] = [""] * (len(lines) - start)
    return "\n".join(lines), bulk


_TREE_LINE = re.compile(r"tree (\d{1,18}) output (\d{1,18}) nodes (\d{1,18})")
_NODE_LINE = re.compile(
    rf"  (\d{{1,18}}): (?:leaf (\d{{1,18}})|if x\[(\d{{1,18}})\] (?:(<=|<) ({_NUMBER})"
    r"|in set (\d{1,18})) then (\d{1,18}) else (\d{1,18}) missing (left|right))"
)


def _fast_trees(lines: list[str]) -> list[tuple[int, list]] | None:
    """(output, raw node columns) per tree if every line to the end is canonical, else None."""
    lines = lines[:-1] if lines and lines[-1] == "" else lines
    trees: list[tuple[int, list]] = []
    i = 0
    while i < len(lines):
        head = _TREE_LINE.fullmatch(lines[i])
        if head is None or int(head[1]) != len(trees):
            return None
        n = int(head[3])
        body = lines[i + 1 : i + 1 + n]
        if len(body) != n:
            return None
        cols: list[list] = [[] for _ in range(8)]
        for k, line in enumerate(body):
            m = _NODE_LINE.fullmatch(line)
            if m is None or int(m[1]) != k:
                return None
            leaf, feat, cmp, thr, cat, left, right, side = m.group(2, 3, 4, 5, 6, 7, 8, 9)
            if leaf is not None:
                row = (Op.LEAF, -1, None, False, -1, -1, int(leaf), -1)
            else:
                op = Op.CAT if cat is not None else (Op.LE if cmp == "<=" else Op.LT)
                row = (op, int(feat), thr, side == "left", int(left), int(right), -1, -1 if cat is None else int(cat))
            for col, v in zip(cols, row):
                col.append(v)
        trees.append((int(head[2]), cols))
        i += 1 + n
    return trees


def _fast_tree(cols: list, thr_dtype: np.dtype) -> Tree:
    op, feature, thr, default_left, left, right, leaf, cat = cols
    limit = 1 << 31
    if any(v >= limit for c in (feature, left, right, leaf, cat) for v in c):
        raise _FastPathFailed
    threshold = np.zeros(len(op), dtype=thr_dtype)
    split = [k for k, t in enumerate(thr) if t is not None]
    if split:
        threshold[split] = _strings_as(np.array([thr[k] for k in split]), thr_dtype)
    return Tree(
        np.array(op, np.uint8), np.array(feature, np.int32), threshold, np.array(default_left, bool),
        np.array(left, np.int32), np.array(right, np.int32), np.array(leaf, np.int32), np.array(cat, np.int32),
    )


def _strings_as(strings: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Number strings in ``dtype``, read as the grammar path reads them (floats via float64)."""
    if dtype.kind == "f":
        return strings.astype(np.float64).astype(dtype)
    try:
        values = np.array([int(t) for t in strings.ravel()], dtype=object).reshape(strings.shape)
    except ValueError:
        raise _FastPathFailed from None
    info = np.iinfo(dtype)
    if values.size and not (info.min <= values.min() and values.max() <= info.max):
        raise _FastPathFailed
    return values.astype(dtype)


def _parse(text: str, source: str, fast: _Bulk) -> Ensemble:
    import lark

    try:
        tree = _parser().parse(text)
    except lark.exceptions.UnexpectedInput as e:
        expected = getattr(e, "expected", None) or getattr(e, "allowed", None) or set()
        hint = f" (expected {', '.join(sorted(x.lower() for x in expected)[:6])})" if expected else ""
        got = ""
        token = getattr(e, "token", None)
        if token is not None:
            got = f"unexpected {str(token)!r}" if str(token).strip() else "unexpected end of line"
        elif getattr(e, "char", None) is not None:
            got = f"unexpected character {e.char!r}"
        raise IRError(f"{source}: line {e.line}, column {e.column}: {got or 'syntax error'}{hint}") from None
    try:
        return verify(_build(tree, fast))
    except _Located as e:
        raise IRError(f"{source}: {e}") from None
    except IRError as e:
        raise IRError(f"{source}: {e}") from None


def _section(tree: lark.Tree, name: str) -> list[lark.Tree]:
    import lark

    return [c for c in tree.children if isinstance(c, lark.Tree) and c.data == name]


def _build(root: lark.Tree, fast: _Bulk) -> Ensemble:
    one = {name: (_section(root, name) or [None])[0] for name in (
        "version", "model", "task", "features", "names", "outputs", "link", "decision",
        "classes", "base", "leaves", "leaf_scale", "catsets", "early_exit", "thresholds")}
    version = one["version"].children[0]
    if _count(version) != VERSION:
        raise _at(version, f"unsupported IR version {version} (this emlc reads version {VERSION})")
    name = _string(one["model"].children[0])
    task = _enum(Task, one["task"].children[0])
    n_features_tok, input_tok = one["features"].children
    n_features = _count(n_features_tok, MAX_FEATURES + 1)
    input_type = str(input_tok)
    names = tuple(_string(t) for t in one["names"].children) if one["names"] else ()
    n_out_tok, agg_tok, accum_tok = one["outputs"].children
    n_outputs = _count(n_out_tok)
    aggregation = _enum(Aggregation, agg_tok)
    accum = str(_dtype(accum_tok, ("float32", "float64")))
    link_tok, *params, math_tok = one["link"].children
    link = _enum(Link, link_tok)
    link_params = tuple(float(str(p.children[0])) for p in params if p is not None)
    link_math = LinkMath.NUMPY if math_tok is None else _enum(LinkMath, math_tok)
    decision = _enum(Decision, one["decision"].children[0])
    classes = _classes(one["classes"]) if one["classes"] else None
    base = _numbers(_number_tokens(one["base"].children), np.dtype("float64"))
    leaves, leaf_dtype = _leaves(one["leaves"], fast.leaves)
    leaf_scale = (
        _numbers(_number_tokens(one["leaf_scale"].children), np.dtype("float64")) if one["leaf_scale"] else None
    )
    cat_sets = _catsets(one["catsets"])
    ranks: list[FeatureRank | None] = [None] * n_features
    for r in _section(root, "rank"):
        f_tok, side_tok, *edges = r.children
        f = _count(f_tok)
        if f >= n_features:
            raise _at(f_tok, f"rank for feature {f}, but the model has {n_features} features")
        if str(side_tok) not in ("le", "lt"):
            raise _at(side_tok, f"rank side must be le or lt, got {str(side_tok)!r}")
        if ranks[f] is not None:
            raise _at(f_tok, f"feature {f} is ranked twice")
        ranks[f] = FeatureRank(_numbers(_number_tokens(edges), np.dtype("float64")), strict=str(side_tok) == "lt")
    thr_dtype = _dtype(one["thresholds"].children[0], ("float64", "float32", "int32", "int16", "int8", "uint16", "uint8"))
    trees, outputs = [], []
    for i, t in enumerate(_section(root, "tree")):
        idx_tok, out_tok, n_tok = t.children[:3]
        if _count(idx_tok) != i:
            raise _at(idx_tok, f"expected tree {i}, got tree {idx_tok}")
        outputs.append(_count(out_tok))
        trees.append(_tree(t, _count(n_tok), thr_dtype))
    for output, cols in fast.trees or ():
        if output >= 1 << 31:
            raise _FastPathFailed
        outputs.append(output)
        trees.append(_fast_tree(cols, thr_dtype))
    return Ensemble(
        n_features=n_features,
        task=task,
        trees=tuple(trees),
        tree_output=np.array(outputs, dtype=np.int32),
        leaves=leaves,
        n_outputs=n_outputs,
        aggregation=aggregation,
        base_score=base,
        link=link,
        link_params=link_params,
        link_math=link_math,
        decision=decision,
        classes=classes,
        accum_dtype=accum,
        input_type=input_type,
        leaf_scale=leaf_scale,
        cat_sets=cat_sets,
        feature_ranks=tuple(ranks) if any(r is not None for r in ranks) else (),
        feature_names=names,
        name=name,
        early_exit=_early_exit(one["early_exit"], n_outputs) if one["early_exit"] else None,
    )


def _early_exit(node: lark.Tree, n_outputs: int) -> EarlyExit:
    dtype_tok, count_tok, confidence, *rows = node.children
    dtype = _dtype(dtype_tok, ("float32", "float64", "int64"))
    if len(rows) != _count(count_tok):
        raise _at(count_tok, f"early_exit declares {count_tok} check points but lists {len(rows)}")
    checkpoints, lower, upper = [], [], []
    for row in rows:
        at, low, high = row.children
        if len(low.children) != n_outputs or len(high.children) != n_outputs:
            raise _at(at, f"check point needs {n_outputs} lower and {n_outputs} upper bounds")
        checkpoints.append(_count(at))
        lower.append(_numbers(_number_tokens(low.children), dtype))
        upper.append(_numbers(_number_tokens(high.children), dtype))
    shape = (len(rows), n_outputs)
    return EarlyExit(
        checkpoints=np.array(checkpoints, dtype=np.int32),
        lower=np.array(lower, dtype=dtype).reshape(shape),
        upper=np.array(upper, dtype=dtype).reshape(shape),
        confidence=float(str(confidence.children[0])),
    )


def _classes(node: lark.Tree) -> np.ndarray:
    import lark

    kind_tok, *labels = node.children
    kind = str(kind_tok)
    labels = [lab.children[0] for lab in labels if lab is not None]
    labels = [t if isinstance(t, lark.Token) else t.children[0] for t in labels]
    if kind == "str":
        if any(t.type != "STRING" for t in labels):
            raise _at(kind_tok, "string classes must be quoted")
        return np.array([_string(t) for t in labels])
    if any(t.type == "STRING" for t in labels):
        raise _at(kind_tok, f"quoted label in {kind} classes")
    toks = labels
    if kind == "bool":
        return _ints(toks, np.dtype("uint8")).astype(bool)
    try:
        dtype = np.dtype(kind)
    except TypeError:
        raise _at(kind_tok, f"unknown class dtype {kind!r}")
    if dtype.kind not in "iuf":
        raise _at(kind_tok, f"unknown class dtype {kind!r}")
    return _numbers(toks, dtype)


def _table(rows_tok, cols_tok, rows: list, dtype: np.dtype, what: str, parse_row) -> np.ndarray:
    """A numbered table section: declared size checked, rows numbered 0.. in order."""
    n_rows, n_cols = _count(rows_tok), _count(cols_tok, 1 << 16)
    if len(rows) != n_rows:
        raise _at(rows_tok, f"{what} table declares {n_rows} rows but lists {len(rows)}")
    table = np.zeros((n_rows, n_cols), dtype=dtype)
    for i, row in enumerate(rows):
        idx_tok, *cells = row.children
        if _count(idx_tok) != i:
            raise _at(idx_tok, f"expected {what} row {i}, got {idx_tok}")
        if len(cells) != n_cols:
            raise _at(idx_tok, f"{what} row {i} has {len(cells)} values, expected {n_cols}")
        table[i] = parse_row(cells)
    return table


def _leaves(node: lark.Tree, fast_rows: list[list[str]] | None) -> tuple[np.ndarray, np.dtype]:
    dtype_tok, rows_tok, cols_tok, *rows = node.children
    dtype = _dtype(dtype_tok, ("float64", "float32", "int32", "int16", "int8", "uint16", "uint8"))
    if fast_rows is not None:
        shape = (_count(rows_tok), _count(cols_tok, 1 << 16))
        return _strings_as(np.array(fast_rows, dtype=str).reshape(shape), dtype), dtype
    return _table(rows_tok, cols_tok, rows, dtype, "leaf", lambda cells: _numbers(_number_tokens(cells), dtype)), dtype


def _catsets(node: lark.Tree) -> np.ndarray:
    rows_tok, words_tok, *rows = node.children
    return _table(rows_tok, words_tok, rows, np.dtype(np.uint32), "category set", lambda cells: [int(str(w), 16) for w in cells])


def _tree(node: lark.Tree, n_nodes: int, thr_dtype: np.dtype) -> Tree:
    rows = node.children[3:]
    if len(rows) != n_nodes:
        raise _at(node.children[2], f"tree declares {n_nodes} nodes but lists {len(rows)}")
    op = np.zeros(n_nodes, np.uint8)
    feature = np.full(n_nodes, -1, np.int32)
    threshold_tokens: list = [None] * n_nodes
    default_left = np.zeros(n_nodes, bool)
    left = np.full(n_nodes, -1, np.int32)
    right = np.full(n_nodes, -1, np.int32)
    leaf = np.full(n_nodes, -1, np.int32)
    cat = np.full(n_nodes, -1, np.int32)
    for i, row in enumerate(rows):
        idx_tok = row.children[0]
        if _count(idx_tok) != i:
            raise _at(idx_tok, f"expected node {i}, got node {idx_tok}")
        if row.data == "leaf_node":
            leaf[i] = _count(row.children[1])
            continue
        f_tok, test, *rest = row.children[1:]
        feature[i] = _count(f_tok)
        if row.data == "split_node":
            op[i] = Op.LE if str(test) == "<=" else Op.LT
            threshold_tokens[i] = rest[0].children[0]
            rest = rest[1:]
        else:
            op[i] = Op.CAT
            cat[i] = _count(test)
        left[i], right[i] = _count(rest[0]), _count(rest[1])
        default_left[i] = str(rest[2]) == "left"
    threshold = np.zeros(n_nodes, dtype=thr_dtype)
    split = [i for i, t in enumerate(threshold_tokens) if t is not None]
    if split:
        threshold[split] = _numbers([threshold_tokens[i] for i in split], thr_dtype)
    return Tree(op, feature, threshold, default_left, left, right, leaf, cat)
