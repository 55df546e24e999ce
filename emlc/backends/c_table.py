"""Table layout: all decision nodes in flash tables, walked by one small loop.

Tables (struct of arrays, one entry per decision node, trees back to back)::

    P_feat[i]   feature index | NaN-goes-left flag | categorical flag
    P_thr[i]    threshold key (categorical: bitset row)
    P_left[i]   child reference, omitted when every left child is the next node
    P_right[i]  child reference: >= 0 a decision node, < 0 the leaf row ~ref
    P_root[t]   reference of tree t's root

Leaves are not stored as nodes: a reference to a leaf is its (deduplicated) row of
the shared leaf table. The loop is ``runtime/c/walk.c``.
"""

from __future__ import annotations

import numpy as np

from ..ir.ensemble import Op
from .c_common import int_literal, smallest_int
from .c_model import Model, runtime_source


def node_columns(model: Model) -> dict[str, np.ndarray]:
    """Global columns over the decision nodes of all trees, plus root references."""
    feats, thrs, nan_left, cats, lefts, rights, roots = [], [], [], [], [], [], []
    base = 0
    for tree in model.ens.trees:
        inner = tree.op != Op.LEAF
        gidx = np.full(tree.n_nodes, -1, dtype=np.int64)
        gidx[inner] = base + np.arange(int(inner.sum()))

        def ref(nodes: np.ndarray) -> np.ndarray:
            leafy = tree.op[nodes] == Op.LEAF
            return np.where(leafy, -tree.leaf[nodes].astype(np.int64) - 1, gidx[nodes])

        roots.append(int(ref(np.array([0]))[0]))
        for i in np.flatnonzero(inner):
            test = model.test(tree, int(i))
            feats.append(test.feature)
            thrs.append(test.k)
            nan_left.append(test.nan_left)
            cats.append(test.cat)
        lefts.append(ref(tree.left[inner]))
        rights.append(ref(tree.right[inner]))
        base += int(inner.sum())
    cat = lambda xs: np.concatenate(xs) if xs else np.zeros(0, dtype=np.int64)  # noqa: E731
    return {
        "feature": np.array(feats, dtype=np.int64),
        "threshold": np.array(thrs, dtype=np.int64),
        "nan_left": np.array(nan_left, dtype=bool),
        "cat": np.array(cats, dtype=bool),
        "left": cat(lefts),
        "right": cat(rights),
        "root": np.array(roots, dtype=np.int64),
    }


def walk_body(model: Model) -> tuple[list[str], str]:
    ens, p, tables = model.ens, model.p, model.tables
    cols = node_columns(model)
    n_nodes = cols["feature"].size
    refs = np.concatenate([cols["left"], cols["right"], cols["root"], [-1, n_nodes]])
    ref_t = smallest_int(int(refs.min()), int(refs.max()), signed=True)
    decls: list[str] = []
    if n_nodes:
        any_cat = bool(cols["cat"].any())
        fbits = max(int(ens.n_features - 1).bit_length(), 1)
        feat_t = smallest_int(0, (1 << (fbits + 2)) - 1, signed=False)
        width = 8 * {"uint8_t": 1, "uint16_t": 2, "uint32_t": 4}[feat_t]
        flag_nan, flag_cat = 1 << (width - 1), 1 << (width - 2)
        packed = cols["feature"] | np.where(cols["nan_left"], flag_nan, 0) | np.where(cols["cat"], flag_cat, 0)
        thr = cols["threshold"]
        thr_t = smallest_int(int(thr.min()), int(thr.max()), signed=True)
        tf = tables.add("feat", feat_t, packed, note="feature | NaN-left flag | categorical flag")
        tt = tables.add("thr", thr_t, thr, note="threshold keys (categorical: bitset row)")
        implicit_left = bool(np.array_equal(cols["left"], np.arange(n_nodes)))
        if implicit_left:
            read_left = f"({ref_t})(r + 1)"
        else:
            tl = tables.add("left", ref_t, cols["left"], note="left child references")
            read_left = tables.read(ref_t, tl, "r")
        tr = tables.add("right", ref_t, cols["right"], note="right child references")
        nan = int_literal(model.nan_key, model.key_t)
        mask = int_literal((1 << fbits) - 1, "uint32_t") + "u"
        steps = []
        if model.nan:
            steps.append((f"x == {nan}", f"left = (uint8_t)((f & {int_literal(flag_nan, 'uint32_t')}u) != 0);"))
        if any_cat:
            cat_feats = sorted(model.cat_features())
            ranked = [f for f in cat_feats if model.ranks[f] is not None]
            plain = f"(int32_t)x"
            if model.nan and len(ranked) < len(cat_feats):
                floaty = model.category_expr(f"f & {mask}", "x", False)
                if ranked:
                    is_ranked = " || ".join(f"(f & {mask}) == {f}u" for f in ranked)
                    category = f"({is_ranked}) ? {plain} : {floaty}"
                else:
                    category = floaty
            else:
                category = plain
            steps.append((
                f"f & {int_literal(flag_cat, 'uint32_t')}u",
                f"left = {p}_member({category}, (uint16_t){tables.read(thr_t, tt, 'r')});",
            ))
        compare = f"left = (uint8_t)(x <= ({model.key_t}){tables.read(thr_t, tt, 'r')});"
        test = ""
        for i, (cond, action) in enumerate(steps):
            test += f"{'if' if i == 0 else ' else if'} ({cond}) {{\n            {action}\n        }}"
        test = (test + f" else {{\n            {compare}\n        }}") if steps else compare
        decls.append(runtime_source(
            "walk.c", p=p, row_t=model.row_t, ref_t=ref_t, key_t=model.key_t, in_t=model.in_t,
            feat_t=feat_t, read_feat=tables.read(feat_t, tf, "r"), feat_mask=mask,
            flag_nan_left=hex(flag_nan), flag_cat=hex(flag_cat), test=test,
            read_left=read_left, read_right=tables.read(ref_t, tr, "r"),
        ))
        walk = f"{p}_walk({tables.read(ref_t, '@ROOT', 't')}, v, features)"
    else:
        walk = f"({model.row_t})~{tables.read(ref_t, '@ROOT', 't')}"
    troot = tables.add("root", ref_t, cols["root"], note="root reference of each tree")
    walk = walk.replace("@ROOT", troot)
    tt_t = smallest_int(0, ens.n_trees, signed=False)
    body = (
        f"    {{\n        {tt_t} t;\n        for (t = 0; t < {ens.n_trees}u; ++t) {{\n"
        f"            {model.sink('t', walk)}\n        }}\n    }}"
    )
    return decls, body
