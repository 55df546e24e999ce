"""An inline head in front of the half-word table walk (:mod:`walk_halves`), in AVR assembly.

Every path through a tree visits each level once, but a level's node count doubles with
depth: code for the top k levels of every tree saves k steps of the table walk a tree
for 2^k - 1 tests in code a tree. Every tree stays whole in the record stream;
P_head(&go, features) starts at the first record of the tree at go, tests its top levels
in code and returns the record it reached, from which the table walk goes on (a leaf's
record when the path is shorter). How far down each tree's head reaches is the plan's
(:class:`~emlc.cost.Head`): the top k levels of every tree, and below them the nodes
rows reach most often, as many as the flash budget holds; a tree without any has a
function that only moves X to its first record, where the table walk starts.

A head test is the walk's fast step with its record in the instructions: a value whose
top byte is under 0x7F (non-negative, below 2^127) goes left when its upper half is
below kh, right when above (the top byte decides unless it equals kh's). Every other
case (negative, huge, infinite, NaN, an equal upper half) stops the head at that node,
whose record the table walk then takes exactly: the head is exact on every float32 with
no guard, and it reads nothing but the record stream, decoded here. On integer records
(8-, 16- and 32-bit features) a head test is x < K + 1 on the value's bytes, signed or not, with
nothing to stop at. (NaN-free tests
behind :mod:`.nan_guard`'s guard would save the top-byte check, 2 cycles a test, for 6
cycles a feature the heads read: digits 10x6 with 3 levels, 32 features.)

Written in C, avr-gcc 5 took about 20 cycles a test and 25 more for a switch on the
tree: digits 20x5 with heads of 1 level ran 265 cycles slower than without. So each
tree's head is a naked function (X the record pointer, r22:r23 the features; about 13
cycles less a test than the walk's step and 30 bytes); each hands its caller the next
one's address (the trees run in order).
Other compilers start at the tree's first record, as without a head.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...cost import Head
from .common import size_of
from .model import Model
from .walk_halves import FAST_TOP, HalfRecords

#: a conditional branch reaches this many words back and forth (-64 .. 63 from the next word)
_BRANCH_BACK, _BRANCH_ON = 64, 63


def _read(data: list[int], at: int, size: int) -> int:
    return sum(data[at + i] << (8 * i) for i in range(size))


def _decision(rec: HalfRecords, data: list[int], r: int) -> tuple[int, int, int, int] | None:
    """(feature, k, left child, right child) of the decision record at byte ``r``, None at a
    leaf: k is a float32 record's kh, an integer record's threshold K."""
    fbs, ks, ss = size_of(rec.fb_t), size_of(rec.k_t), size_of(rec.step_t)
    b = _read(data, r, fbs)
    if not b & 2:
        return None
    k = _read(data, r + fbs, ks)
    at = r + fbs + ks
    if rec.integer is not None:
        if rec.k_high is not None:
            k |= rec.k_high << 8 * ks
        elif rec.integer.startswith("int") and k >> (8 * ks - 1):
            k -= 1 << (8 * ks)
        if b & 1:  # no step: the left leaf's record, then the right child
            return b >> 2, k, at, at + fbs + 1
    return b >> 2, k, r + rec.record_bytes, at + ss + _read(data, at, ss)


@dataclass
class _Branch:
    """A conditional branch to ``target`` (a label, or None: any ``ret``): ``cond`` taken
    goes there; ``far`` when out of reach, as the opposite branch over a jump."""

    cond: str
    target: str | None
    far: bool = False


_OPPOSITE = {"brsh": "brlo", "brlo": "brsh", "breq": "brne", "brne": "breq", "brlt": "brge", "brge": "brlt"}


def _move(low: str, x: int) -> list[str]:
    """The pointer register pair from ``low`` (r26: X, r30: Z) += x (mod 2^16)."""
    if x == 0:
        return []
    if 0 < x < 64:
        return [f"adiw {low}, {x}"]
    if -64 < x < 0:
        return [f"sbiw {low}, {-x}"]
    return [f"subi {low}, {-x & 0xFF}", f"sbci r{int(low[1:]) + 1}, {(-x >> 8) & 0xFF}"]


def _tree_code(rec: HalfRecords, data: list[int], root: int, tests: frozenset[int], label: str) -> list[str | _Branch]:
    """Tree t's head, from X at the record stream: instructions (strings), labels (ending
    in ':') and branches. ``tests``: the nodes it tests, by heap index (root 1, children 2i
    and 2i + 1; :class:`~emlc.cost.Head`); none: X moves to the tree's first record. A test
    points Z at its feature's upper half (from the features, r22:r23, at the root, else
    from its parent's), decides on the top byte where it differs from kh's and reads the
    next byte only where it does not; X moves to the child taken."""
    out: list[str | _Branch] = _move("r26", root)
    count = [0]
    width = 4 if rec.integer is None else size_of(f"{rec.integer}_t")
    less = "brlo" if rec.integer is None or rec.integer.startswith("u") else "brlt"

    def node(r: int, at: int, z: int | None) -> None:
        found = _decision(rec, data, r)
        if found is None or at not in tests:
            out.append("ret")
            return
        f, k, left, right = found
        q = width * f + (2 if rec.integer is None else 0)  # Z: a float's upper half, an integer's low byte
        out.extend(["movw r30, r22", *_move("r30", q)] if z is None else _move("r30", q - z))
        count[0] += 1
        left_at, right_at = f"{label}_l{count[0]}", f"{label}_r{count[0]}"
        if rec.integer is not None:  # x <= K is x < K + 1, which the type holds (K < its largest)
            k += 1
            test: list[str | _Branch] = []
            for i in range(width - 1, 0, -1):  # from the top byte, which decides unless it equals K + 1's
                test += [f"ldd r25, Z+{i}", f"cpi r25, {(k >> 8 * i) & 0xFF}", _Branch(less if i == width - 1 else "brlo",
                                                                                   left_at), _Branch("brne", right_at)]
            reg = "r25" if width == 1 else "r24"
            test += ["ld " + reg + ", Z", f"cpi {reg}, {k & 0xFF}", _Branch(_OPPOSITE[less] if width == 1 else "brsh",
                                                                              right_at)]
            out.extend([*test, left_at + ":", *_move("r26", left - r)])
            node(left, 2 * at, q)
            out.append(right_at + ":")
            out.extend(_move("r26", right - r))
            node(right, 2 * at + 1, q)
            return
        out.extend(["ldd r25, Z+1", f"cpi r25, {FAST_TOP}", _Branch("brsh", None)])
        hi, lo = k >> 8, k & 0xFF
        if hi >= 0x80 or hi == FAST_TOP:  # kh < 0: every value here goes right; 0x7F: left
            child, place = (right, 2 * at + 1) if hi >= 0x80 else (left, 2 * at)
            out.extend(_move("r26", child - r))
            node(child, place, q)
            return
        out.extend([f"cpi r25, {hi}", _Branch("brlo", left_at), _Branch("brne", right_at), "ld r24, Z",
                    f"cpi r24, {lo}", _Branch("breq", None), _Branch("brsh", right_at), left_at + ":",
                    *_move("r26", left - r)])
        node(left, 2 * at, q)
        out.append(right_at + ":")
        out.extend(_move("r26", right - r))
        node(right, 2 * at + 1, q)

    node(root, 1, None)
    return out


def _words(item: str | _Branch) -> int:
    if isinstance(item, _Branch):
        return 2 if item.far else 1
    return 0 if item.endswith(":") else 1


def _resolve(code: list[str | _Branch], label: str) -> list[str]:
    """The instructions with every branch in reach: a bail to the nearest ``ret`` (given a
    label), else the opposite branch over a ``ret``; a right child's far branch over an
    ``rjmp``. Far forms only grow the code, so a few rounds settle it."""
    for _ in range(len(code) + 1):
        at, pos, rets = 0, [], []
        for item in code:
            pos.append(at)
            if item == "ret":
                rets.append(at)
            at += _words(item)
        labels = {item[:-1]: pos[i] for i, item in enumerate(code) if isinstance(item, str) and item.endswith(":")}
        changed = False
        targets: dict[int, int] = {}
        for i, item in enumerate(code):
            if not isinstance(item, _Branch) or item.far:
                continue
            here = pos[i] + 1
            if item.target is None:
                near = [r for r in rets if -_BRANCH_BACK <= r - here <= _BRANCH_ON]
                if near:
                    targets[i] = min(near, key=lambda r: abs(r - here))
                    continue
            elif -_BRANCH_BACK <= labels[item.target] - here <= _BRANCH_ON:
                continue
            item.far, changed = True, True
        if not changed:
            break
    ret_labels = {p: f"{label}_x{p}" for p in targets.values()}
    lines: list[str] = []
    for i, item in enumerate(code):
        if isinstance(item, _Branch):
            if item.far:
                lines += [f"{_OPPOSITE[item.cond]} .+2", "ret" if item.target is None else f"rjmp {item.target}"]
            else:
                lines.append(f"{item.cond} {item.target or ret_labels[targets[i]]}")
        else:
            if item == "ret" and pos[i] in ret_labels:
                lines.append(ret_labels[pos[i]] + ":")
            lines.append(item)
    return lines


def head_functions(model: Model, rec: HalfRecords, nodes: str, roots: str, head: Head) -> str:
    """P_head(&go, features): the record of the tree at cursor go (P_head_first(): the
    first) after the nodes ``head`` tests in it (see the module docstring), moving go to
    the next tree: each head hands its caller the next one's address (2 cycles and 4 bytes
    a tree, where a flash table of them took 10 cycles and 2 bytes). ``roots``: the table
    of each tree's first byte in ``nodes``, which only other compilers read (avr-gcc's
    heads start there themselves)."""
    p, data = model.p, rec.stream.tolist()
    ptr_t = f"const {model.target.flash.qualifier}uint8_t *"
    functions, names = [], []
    for t, (start, tests) in enumerate(zip(rec.roots.tolist(), head.nodes)):
        label = f".L{p}_head{t}"
        following = f"{p}_head{(t + 1) % rec.roots.size}"  # the next tree's head, for the caller's next call
        lines = [f"ldi r20, lo8(gs({following}))", f"ldi r21, hi8(gs({following}))",
                 *_resolve(_tree_code(rec, data, int(start), tests, label), label)]
        name = f"{p}_head{t}"
        names.append(name)
        body = "\n".join(f'        "{line}\\n\\t"' for line in lines)
        functions.append(f"__attribute__((naked, used)) static void {name}(void)\n{{\n    __asm__ __volatile__ (\n{body});\n}}")
    return "\n".join([
        f"/* The top of each tree in code ({head.note()}; emlc/backends/c/walk_head.py): from X at",
        f" * {nodes} plus the tree's first byte, a value whose top byte is under 0x7F goes left (X to the next",
        " * record) when its upper half is below kh, right when above; any other stops at that",
        " * record, which the table walk takes exactly (integer records: left when x < K + 1).",
        " * r22:r23 holds the features; each head leaves the next tree's head's address in r20:r21. */",
        "#if defined(__GNUC__) && defined(__AVR__)",
        *functions,
        f"static inline uint16_t {p}_head_first(void)",
        "{",
        f"    return (uint16_t){names[0]};",
        "}",
        f"static inline {ptr_t}{p}_head(uint16_t *go, const {model.in_t} *features)",
        "{",
        f'    register const {model.in_t} *f __asm__("r22") = features;',
        '    register uint16_t next __asm__("r20");',
        f"    {ptr_t}r = {nodes};",
        "    uint16_t z = *go;",
        '    __asm__ __volatile__ ("icall" : "+x" (r), "+z" (z), "=r" (next) : "r" (f) : "r24", "r25", "memory");',
        f"    (void){roots};",
        "    *go = next;",
        "    return r;",
        "}",
        "#else",
        f"static inline uint16_t {p}_head_first(void)",
        "{",
        "    return 0u;",
        "}",
        f"static inline {ptr_t}{p}_head(uint16_t *go, const {model.in_t} *features)",
        "{",
        "    (void)features;",
        f"    return {nodes} + {model.tables.read('uint16_t', roots, '(*go)++')};",
        "}",
        "#endif",
    ])
