"""emlc_trees: tree-ensemble inference in pure MicroPython.

Loads the emlc tree CSV (``emlc-trees,1`` first line) and emlearn-micropython's tree
CSV, both written by emlc, into flat ``array`` columns, then predicts::

    import emlc_trees
    model = emlc_trees.load("model.csv")
    model.predict([5.1, 3.5, 1.4, 0.2])
    model.predict_proba([5.1, 3.5, 1.4, 0.2])

Every node is one test ``x[f] <= t`` on the raw input (emlc folds ranks, ``<``,
the float32 cast and NaN routing into the thresholds; see
``emlc/backends/micropython/emlc_csv.py`` for the format). Loading checks every count,
index and value range and needs the final ``e`` line, so a damaged or truncated
file raises ``ValueError("line N: ...")`` instead of predicting wrongly.
A model with an early exit (version 2 files) stops adding trees in ``predict`` at
the first check point whose bounds decide the class, exactly where emlc's
interpreter stops (``predict_proba`` still sums every tree).
If ``emlc_trees_native`` (the same walk compiled with ``@micropython.native``)
imports, it is used; otherwise this plain-Python walk runs.
"""

from array import array
import math

_INT_CODES = "bBhHiI"
_LEAF_CODES = "bBhHiIfd"
_AGGREGATIONS = ("sum", "mean", "vote")
_LINKS = ("identity", "sigmoid", "softmax", "exp", "isolation")
_DECISIONS = ("argmax", "raw_argmax", "gt_half", "sign", "none")


def _zeros(code, n):
    """A zero-filled array of n items (MicroPython arrays cannot be multiplied)."""
    size = len(bytes(array(code, [0])))
    try:
        return array(code, bytes(n * size))
    except TypeError:
        return array(code, [0]) * n


def _walk_py(x, F, T, L, R, roots, out, start, stop):
    """Leaf row reached in trees start..stop-1, written to ``out`` at the same index."""
    for t in range(start, stop):
        i = roots[t]
        while i >= 0:
            if x[F[i]] <= T[i]:
                i = L[i]
            else:
                i = R[i]
        out[t] = ~i


try:
    from emlc_trees_native import walk as _walk
except (ImportError, SyntaxError):
    _walk = _walk_py


class _Lines:
    """Numbered CSV records, each checked for its kind and field count."""

    def __init__(self, f):
        self.f = f
        self.n = 0
        self.peeked = None

    def error(self, msg):
        return ValueError("line %d: %s" % (self.n, msg))

    def raw(self):
        if self.peeked is not None:
            tok, self.peeked = self.peeked, None
            return tok
        line = self.f.readline()
        if not line:
            raise ValueError("line %d: file ends early (no end marker 'e'): truncated model" % self.n)
        self.n += 1
        return line.strip().split(",")

    def peek(self):
        if self.peeked is None:
            self.peeked = self.raw()
        return self.peeked[0]

    def take(self, kind, count=None, at_least=None):
        tok = self.raw()
        if tok[0] != kind:
            raise self.error("expected a '%s' record, found '%s'" % (kind, tok[0]))
        args = tok[1:]
        if count is not None and len(args) != count:
            raise self.error("'%s' needs %d fields, found %d" % (kind, count, len(args)))
        if at_least is not None and len(args) < at_least:
            raise self.error("'%s' needs at least %d fields" % (kind, at_least))
        return args

    def int(self, text, lo, hi, what):
        try:
            v = int(text)
        except ValueError:
            raise self.error("%s '%s' is not an integer" % (what, text))
        if v < lo or v > hi:
            raise self.error("%s %d is outside %d..%d" % (what, v, lo, hi))
        return v

    def num(self, text, what):
        try:
            return float(text)
        except ValueError:
            raise self.error("%s '%s' is not a number" % (what, text))

    def choice(self, text, options, what):
        if text not in options:
            raise self.error("unknown %s '%s'" % (what, text))
        return text

    def store(self, arr, code, i, text, what):
        """arr[i] = text's value, refusing values the column would change."""
        v = self.int(text, -(1 << 31), (1 << 32) - 1, what) if code in _INT_CODES else self.num(text, what)
        try:
            arr[i] = v
        except OverflowError:
            raise self.error("%s %s does not fit its column" % (what, text))
        if arr[i] != v and v == v:
            raise self.error("%s %s does not fit its column" % (what, text))

    def end(self):
        args = self.take("e", 1)
        count = self.n - 1
        if self.int(args[0], 0, count, "end marker count") != count:
            raise self.error("end marker says %s records, file has %d" % (args[0], count))
        for line in self.f:
            self.n += 1
            if line.strip():
                raise self.error("data after the end marker")


class Model:
    """A loaded ensemble; see :func:`load`."""

    ex_at = None  # early exit: trees before each check point (array), or None

    def _set_nodes(self, n_nodes, n_leaves, tcode):
        self.n_nodes = n_nodes
        self.F = _zeros("H" if 2 * self.n_features < 65536 else "I", n_nodes)
        self.T = _zeros(tcode, n_nodes)
        code = "h" if n_nodes < 32768 and n_leaves <= 32768 else "i"
        self.L = _zeros(code, n_nodes)
        self.R = _zeros(code, n_nodes)

    def _check_children(self, lines, node, left, right, n_leaves):
        for c in (left, right):
            if c < -n_leaves or (c >= 0 and (c <= node or c >= self.n_nodes)):
                raise lines.error("child %d of node %d is not a later node or a leaf" % (c, node))

    def _row(self, features):
        if len(features) != self.n_features:
            raise ValueError("expected %d features, got %d" % (self.n_features, len(features)))
        x = features
        if self.negated:
            x = array("d", features)
            for j in range(self.n_features):
                x.append(-x[j])
        return x

    def raw(self, features):
        """Aggregated leaves plus base score, before the link (one value per output)."""
        x = self._row(features)
        n = len(self.roots)
        if self.agg == "vote":
            rows = self._rows
            _walk(x, self.F, self.T, self.L, self.R, self.roots, rows, 0, n)
            O, V = self.outs, self.leaves
            votes = [0] * self.n_outputs
            for t in range(n):
                votes[O[t] + V[rows[t]]] += 1
            return [votes[j] / n + self.base[j] for j in range(self.n_outputs)]
        acc = self._start()
        self._sums(x, acc, 0, n)
        return self._finish(acc)

    def _start(self):
        """The sums before the first tree, as the interpreter starts them."""
        if self.int_leaves:
            return [0] * self.n_outputs
        return array(self.accum, self.base if self.agg == "sum" else [0.0] * self.n_outputs)

    def _sums(self, x, acc, start, stop):
        """Adds the leaves that trees start..stop-1 reach to ``acc``, in tree order."""
        rows = self._rows
        _walk(x, self.F, self.T, self.L, self.R, self.roots, rows, start, stop)
        O = self.outs
        P, J, V = self._sp, self._sj, self._sv
        for t in range(start, stop):
            o = O[t]
            r = rows[t]
            for k in range(P[r], P[r + 1]):
                acc[o + J[k]] += V[k]

    def _finish(self, acc):
        """Raw margins from the sums of every tree: scale, mean, base score."""
        n = len(self.roots)
        w = self.width
        if self.int_leaves:
            S = self.scale
            acc = array(self.accum, [acc[j] * S[j % w] for j in range(self.n_outputs)])
        if self.agg == "mean":
            for j in range(self.n_outputs):
                acc[j] = acc[j] / n
        if self.agg != "sum" or self.int_leaves:
            for j in range(self.n_outputs):
                acc[j] += self.base[j]
        return list(acc)

    def _exit_class(self, x):
        """Class index decided at the first early-exit check point that decides, else the full one.

        Each bound is added to the sums in the bounds' arithmetic: the results are stored in
        ``_low``/``_up`` (one at a time), arrays of that type (a float32 store rounds) or lists of exact
        integers, as ``emlc.ir.interpret.interpret_early_exit`` adds them; a NaN sum fails
        every comparison.
        """
        acc = self._start()
        lo, hi, n, low, up = self.ex_lo, self.ex_hi, self.n_outputs, self._low, self._up
        done = 0
        for j in range(len(self.ex_at)):
            k = self.ex_at[j]
            self._sums(x, acc, done, k)
            done = k
            b = j * n
            for o in range(n):
                low[o] = acc[o] + lo[b + o]
            if n == 1:
                if low[0] > 0:
                    return 1
                up[0] = acc[0] + hi[b]
                if up[0] < 0:
                    return 0
                continue
            c = 0
            for o in range(1, n):
                if low[o] > low[c]:
                    c = o
            best = low[c]
            for o in range(n):
                if o != c:
                    up[0] = acc[o] + hi[b + o]
                    if not best > up[0]:
                        break
            else:
                return c
        self._sums(x, acc, done, len(self.roots))
        return self._decide_raw(self._finish(acc))

    def _round(self, v):
        if self.accum == "f" and self.agg != "vote":
            self._f[0] = v
            return self._f[0]
        return v

    def value(self, features):
        """Link outputs: probabilities, regression values or anomaly scores."""
        return self._link(self.raw(features))

    def _link(self, raw):
        link = self.link
        r = self._round
        if link == "identity":
            return raw
        if link == "sigmoid":
            a = self.lp[0] if self.lp else 1.0
            return [r(1.0 / r(1.0 + r(_exp(-r(a * v))))) for v in raw]
        if link == "softmax":
            m = max(raw)
            e = [r(_exp(r(v - m))) for v in raw]
            s = r(sum(e))
            return [r(v / s) for v in e]
        if link == "exp":
            return [r(_exp(v)) for v in raw]
        return [r(-r(2.0 ** r(-v / self.lp[0])) - self.lp[1]) for v in raw]

    def _decide_raw(self, raw):
        """Class index (or +1/-1) of the raw margins."""
        d = self.decision
        if d == "raw_argmax":
            if len(raw) == 1:
                return 1 if raw[0] >= 0 else 0
            return raw.index(max(*raw))  # max over arguments: over a list it is ten times slower
        value = self._link(raw)
        if d == "argmax":
            if len(value) == 1:
                return 1 if (1 - value[0]) < value[0] else 0
            return value.index(max(*value))
        if d == "gt_half":
            return 1 if value[0] > 0.5 else 0
        return 1 if value[0] >= 0 else -1

    def predict(self, features):
        """Class label (or index), +1/-1 for anomaly detection, or the regression value(s)."""
        if self.decision == "none":
            value = self.value(features)
            return value[0] if len(value) == 1 else value
        if self.ex_at is None:
            c = self._decide_raw(self.raw(features))
        else:
            c = self._exit_class(self._row(features))
        if self.decision != "sign" and self.classes:
            return self.classes[c]
        return c

    def predict_proba(self, features):
        """Class probabilities, as the library's ``predict_proba``."""
        if self.decision in ("none", "sign"):
            raise ValueError("predict_proba needs a classifier")
        value = self.value(features)
        if len(value) == 1 and self.n_classes == 2:
            return [1 - value[0], value[0]]
        return value


def _exp(v):
    """exp that overflows to inf, as MicroPython's and numpy's do (CPython raises)."""
    try:
        return math.exp(v)
    except OverflowError:
        return math.inf


def _common_finish(m):
    m._rows = _zeros("i", len(m.roots))
    m._f = array("f", [0.0])
    if m.agg != "vote":
        _sparse_leaves(m)
    return m


def _sparse_leaves(m):
    """Leaf rows without their zeros (adding 0 changes no sum): row r is _sj/_sv[_sp[r]:_sp[r+1]]."""
    V, w = m.leaves, m.width
    rows = len(V) // w
    m._sp = _zeros("i", rows + 1)
    m._sj = array("H" if w < 65536 else "I")
    m._sv = array(m.leaf_code)
    for r in range(rows):
        for j in range(w):
            v = V[r * w + j]
            if v != 0:
                m._sj.append(j)
                m._sv.append(v)
        m._sp[r + 1] = len(m._sj)


def _load_emlc(lines, version):
    m = Model()
    a = lines.take("x", 3)
    m.n_features = lines.int(a[0], 1, 1 << 30, "feature count")
    m.kind = lines.choice(a[1], ("i", "f", "d"), "input kind")
    m.negated = lines.int(a[2], 0, 1, "negated flag") == 1
    if m.negated and m.kind == "i":
        raise lines.error("integer inputs cannot be NaN, negated features are invalid")
    a = lines.take("o", 6)
    m.n_outputs = lines.int(a[0], 1, 1 << 16, "output count")
    m.width = lines.int(a[1], 1, m.n_outputs, "leaf width")
    m.agg = lines.choice(a[2], _AGGREGATIONS, "aggregation")
    m.accum = lines.choice(a[3], ("f", "d"), "accumulator type")
    leaf_code = lines.choice(a[4], _LEAF_CODES, "leaf type")
    tcode = lines.choice(a[5], "hidf", "threshold type")
    m.int_leaves = leaf_code in _INT_CODES and m.agg != "vote"
    a = lines.take("k", at_least=1)
    m.link = lines.choice(a[0], _LINKS, "link")
    m.lp = [lines.num(v, "link parameter") for v in a[1:]]
    if m.link == "isolation" and len(m.lp) != 2:
        raise lines.error("the isolation link needs 2 parameters")
    m.decision = lines.choice(lines.take("d", 1)[0], _DECISIONS, "decision")
    m.base = [lines.num(v, "base score") for v in lines.take("b", m.n_outputs)]
    m.scale = None
    if m.int_leaves:
        m.scale = [lines.num(v, "leaf scale") for v in lines.take("s", m.width)]
    m.classes = None
    m.n_classes = 0
    if lines.peek() == "y":
        m.classes = [_label(lines, v) for v in lines.take("y", at_least=1)]
        m.n_classes = len(m.classes)
    elif lines.peek() == "nc":
        m.n_classes = lines.int(lines.take("nc", 1)[0], 0, 1 << 16, "class count")
    n_rows = lines.int(lines.take("L", 1)[0], 1, 1 << 24, "leaf row count")
    per_row = 1 if m.agg == "vote" else m.width
    m.leaf_code = leaf_code
    m.leaves = _zeros(leaf_code, n_rows * per_row)
    for r in range(n_rows):
        vals = lines.take("l", per_row)
        for j in range(per_row):
            lines.store(m.leaves, leaf_code, r * per_row + j, vals[j], "leaf value")
            if m.agg == "vote" and not 0 <= m.leaves[r] < m.n_outputs:
                raise lines.error("vote for output %s of %d" % (vals[0], m.n_outputs))
    n_nodes = lines.int(lines.take("N", 1)[0], 0, 1 << 24, "node count")
    m._set_nodes(n_nodes, n_rows, tcode)
    n_feat_cols = m.n_features * (2 if m.negated else 1)
    for i in range(n_nodes):
        f, t, left, right = lines.take("n", 4)
        m.F[i] = lines.int(f, 0, n_feat_cols - 1, "feature")
        lines.store(m.T, tcode, i, t, "threshold")
        left = lines.int(left, -n_rows, n_nodes - 1, "left child")
        right = lines.int(right, -n_rows, n_nodes - 1, "right child")
        m._check_children(lines, i, left, right, n_rows)
        m.L[i] = left
        m.R[i] = right
    n_trees = lines.int(lines.take("T", 1)[0], 1, 1 << 20, "tree count")
    m.roots = _zeros("i", n_trees)
    m.outs = _zeros("H" if m.n_outputs < 65536 else "I", n_trees)
    span = m.n_outputs - (1 + max(m.leaves) if m.agg == "vote" else m.width)
    for t in range(n_trees):
        root, out = lines.take("t", 2)
        m.roots[t] = lines.int(root, -n_rows, n_nodes - 1, "root")
        m.outs[t] = lines.int(out, 0, span, "output column")
    if version == 2:
        _load_exit(lines, m)
    lines.end()
    return _common_finish(m)


def _load_exit(lines, m):
    """The early-exit records: check points and bounds in the accumulator's arithmetic."""
    a = lines.take("P", 2)
    n_trees = len(m.roots)
    n_checks = lines.int(a[0], 1, n_trees - 1, "check point count")
    code = lines.choice(a[1], ("i", "f", "d"), "bound arithmetic")
    if m.agg == "vote":
        raise lines.error("early exit needs summed or averaged leaves, this model votes")
    if code != ("i" if m.int_leaves else m.accum):
        raise lines.error("bounds in '%s' arithmetic do not match the sums" % code)
    n = m.n_outputs
    m.ex_at = _zeros("i", n_checks)
    if code == "i":
        m.ex_lo, m.ex_hi = [0] * (n_checks * n), [0] * (n_checks * n)
    else:
        m.ex_lo, m.ex_hi = _zeros(code, n_checks * n), _zeros(code, n_checks * n)
    m._low = [0] * n if code == "i" else _zeros(code, n)
    m._up = [0] if code == "i" else _zeros(code, 1)
    last = 0
    for j in range(n_checks):
        f = lines.take("p", 1 + 2 * n)
        last = m.ex_at[j] = lines.int(f[0], last + 1, n_trees - 1, "check point")
        for o in range(n):
            for col, text in ((m.ex_lo, f[1 + o]), (m.ex_hi, f[1 + n + o])):
                if code == "i":
                    col[j * n + o] = lines.int(text, -(1 << 63), (1 << 63) - 1, "bound")
                else:
                    lines.store(col, code, j * n + o, text, "bound")
                    if col[j * n + o] - col[j * n + o] != 0:
                        raise lines.error("bound %s is not finite" % text)


def _label(lines, text):
    """A class label field: a number, b0/b1 (a boolean) or s + the hex of a UTF-8 string."""
    if text[:1] == "s":
        try:
            return bytes.fromhex(text[1:]).decode()
        except ValueError:  # UnicodeError is a ValueError too
            raise lines.error("class label '%s' is not hex-encoded UTF-8" % text)
    if text in ("b0", "b1"):
        return text == "b1"
    try:
        return int(text)
    except ValueError:
        return lines.num(text, "class label")


def _load_emlearn(lines):
    """emlearn-micropython's format: int16 inputs, x < t, relative children."""
    m = Model()
    meta = {}
    while lines.peek() in ("f", "c", "lf"):
        tok = lines.raw()
        if len(tok) != 2:
            raise lines.error("'%s' needs 1 field" % tok[0])
        meta[tok[0]] = lines.int(tok[1], 0, 1 << 16, tok[0])
    if "f" not in meta or "c" not in meta:
        raise lines.error("the 'f' and 'c' records must come first")
    bits = meta.get("lf", 0)
    if bits not in (0, 32):
        raise lines.error("leaf bits %d are not supported (0 or 32)" % bits)
    m.n_features = meta["f"]
    if not 1 <= m.n_features <= 128:
        raise lines.error("emlearn models have 1..128 features")
    m.kind, m.negated, m.lp, m.link = "i", False, [], "identity"
    m.n_classes = meta["c"]
    m.classes = None
    if bits == 0:
        if m.n_classes < 1:
            raise lines.error("a voting model needs at least one class")
        m.agg, m.decision, m.accum, m.n_outputs, m.int_leaves = "vote", "argmax", "d", m.n_classes, False
        leaves = array("B")
    else:
        m.agg, m.decision, m.accum, m.n_outputs, m.int_leaves = "mean", "none", "f", 1, False
        leaves = array("f")
    m.leaf_code = "B" if bits == 0 else "f"
    m.width = 1
    m.base = [0.0] * m.n_outputs
    while lines.peek() == "l":
        v = lines.take("l", 1)[0]
        if bits == 0:
            leaves.append(lines.int(v, 0, m.n_classes - 1, "leaf class"))
        else:
            leaves.append(lines.num(v, "leaf value"))
    m.leaves = leaves
    n_leaves = len(leaves)
    roots = []
    while lines.peek() == "r":
        roots.append((lines.int(lines.take("r", 1)[0], -n_leaves, 32767, "root"), lines.n))
    if not roots:
        raise lines.error("no 'r' (tree root) records")
    nodes = []
    while lines.peek() == "n":
        f, t, left, right = lines.take("n", 4)
        nodes.append((
            lines.int(f, 0, m.n_features - 1, "feature"),
            lines.int(t, -32768, 32767, "threshold"),
            lines.int(left, -n_leaves, 32767, "left child"),
            lines.int(right, -n_leaves, 32767, "right child"),
            lines.n,
        ))
    lines.end()
    m._set_nodes(len(nodes), n_leaves, "i")
    for i, (f, t, left, right, at) in enumerate(nodes):
        lines.n = at
        left = left + i if left >= 0 else left
        right = right + i if right >= 0 else right
        m._check_children(lines, i, left, right, n_leaves)
        m.F[i], m.T[i], m.L[i], m.R[i] = f, t - 1, left, right
    for r, at in roots:
        if r >= len(nodes):
            lines.n = at
            raise lines.error("root %d is not a node (%d nodes)" % (r, len(nodes)))
    m.roots = array("i", [r for r, _ in roots])
    m.outs = _zeros("H", len(roots))
    return _common_finish(m)


def load(source):
    """A :class:`Model` from a path or an open text file (either CSV format)."""
    f = open(source) if isinstance(source, str) else source
    try:
        lines = _Lines(f)
        if lines.peek() == "emlc-trees":
            version = lines.raw()
            if version[1:] not in (["1"], ["2"]):
                raise lines.error("unsupported emlc-trees version %s" % ",".join(version[1:]))
            return _load_emlc(lines, int(version[1]))
        return _load_emlearn(lines)
    finally:
        if isinstance(source, str):
            f.close()
