"""How the walk reads features: the runtime helpers it needs (order keys, ranks, category
sets, direct reads of a float's bits) and P_prepare, which keys every feature first when
tests cannot read them directly or lazily."""

from __future__ import annotations

from ...errors import EmlcError
from ...ir.ensemble import Op
from . import numeric as num
from . import tree_runs
from .half_keys import HalfKey, half_keys
from .common import int_literal, smallest_int
from .model import Model, runtime_source
from .plan import DirectTest


def rank_spans(m: Model) -> dict[int, tuple[int, int]]:
    """Ranked feature -> its [lo, hi) span of P_edges (the table layout ranks only the
    features categorical splits read; its numeric tests compare keys). Computed once: the
    helpers, P_prepare and the table walk all ask."""
    return m.once("rank spans", lambda: _rank_spans(m))


def _rank_spans(m: Model) -> dict[int, tuple[int, int]]:
    ranked = [f for f, r in enumerate(m.ranks) if r is not None]
    if m.lazy:
        read = m.cat_features()
        ranked = [f for f in ranked if f in read]
    spans, offset = {}, 0
    for f in ranked:
        size = int(m.ranks[f].edges.size)
        spans[f] = (offset, offset + size)
        offset += size
    return spans


def helpers(m: Model) -> list[str]:
    """The runtime helpers the walk calls, in the order they are declared."""
    p, out = m.p, []
    exits = m.exit_plan()
    if (m.leaf_sums or (exits is not None and exits.band is not None) or m.plan.soft_after_fixed
            or tree_runs.applies(m)):
        macro = p.upper()
        out.append(
            "/* The walk stays a function of its own: one copy serves predict and predict_proba,\n"
            " * and its callers' flash reads stay out of its big body (so do an early exit's rare steps). */\n"
            f"#if defined(__GNUC__)\n#define {macro}_NOINLINE __attribute__((noinline))\n#else\n"
            f"#define {macro}_NOINLINE\n#endif"
        )
    if m.direct:
        if m.precision == "float32" and m.target.half_word_tests:
            out.append(half_macros(m))
            return out
        if m.precision is not None and m.plan.direct_test is not DirectTest.FLOAT:  # (FPU tests: the floats)
            out.append(
                f"/* The bits of a {m.real_in} as a signed integer (tests compare them directly). */\n"
                f"static inline {m.key_t} {p}_bits({m.real_in} x)\n{{\n"
                f"    union {{ {m.real_in} f; {m.key_t} i; }} b;\n    b.f = x;\n    return b.i;\n}}\n"
                f"#define {p.upper()}_BITS(f) {p}_bits(features[f])"
            )
        return out
    if m.precision is not None:
        wide = m.precision == "float64"
        out.append(runtime_source(
            "key.c", p=p, real=m.real_in, key_t=m.key_t,
            bits_t="uint64_t" if wide else "uint32_t",
            mag_mask="UINT64_C(0x7FFFFFFFFFFFFFFF)" if wide else "0x7FFFFFFFUL",
            inf_bits="UINT64_C(0x7FF0000000000000)" if wide else "0x7F800000UL",
            sign_shift=63 if wide else 31, nan_key=int_literal(m.nan_key, m.key_t),
        ))
    spans = rank_spans(m)
    if spans:
        op_of = {False: Op.LE, True: Op.LT}
        edges = [m.base_threshold(op_of[bool(m.ranks[f].strict)], float(e)) for f in spans for e in m.ranks[f].edges]
        offset = len(edges)
        if offset > 65535:
            raise EmlcError(f"{offset} rank edges exceed the C backend's 65535; use fewer ranked features")
        if not edges:
            raise EmlcError("feature ranks without edges cannot be emitted; drop the empty rank")
        et = smallest_int(min(edges), max(edges), signed=True)
        table = m.tables.add("edges", et, edges, note="rank edges (keys), per ranked feature")
        read = m.tables.read(et, table, "mid")
        out.append(runtime_source(
            "rank.c", p=p, key_t=m.key_t, read_edge=f"({m.key_t}){read}",
            nan_check=(
                f"if (x == {int_literal(m.nan_key, m.key_t)}) {{\n        return x;\n    }}"
                if m.nan else "/* integer inputs: no NaN */"
            ),
        ))
    if m.ens.cat_sets.shape[0] and m.uses_categories():
        sets = m.ens.cat_sets
        words = sets.shape[1]
        table = m.tables.add("sets", "uint32_t", sets, note="category bitsets")
        n_bits = 32 * words
        out.append(runtime_source(
            "category.c", p=p, n_bits=int_literal(n_bits, "int32_t"),
            read_word=m.tables.read("uint32_t", table, f"(uint32_t)s * {words}u + (uint32_t)(c >> 5)"),
        ))
        if m.nan and any(m.ranks[f] is None for f in m.cat_features()):
            out.append(runtime_source(
                "category_float.c", p=p, real=m.real_in, key_t=m.key_t,
                n_bits=n_bits,
                key_minus_one=int_literal(num.key(-1.0, m.precision), m.key_t),
                key_n_bits=int_literal(num.key(float(n_bits), m.precision), m.key_t),
            ))
    return out


def half_macros(m: Model) -> str:
    """P_HI(f) and P_LO(f), the halves of float feature f's bits, which half-word tests
    compare (the inline walk's and :mod:`walk_halves`')."""
    macro = m.p.upper()
    byte = "((const unsigned char *)features)[4u * (f) + "
    return ("/* Upper and lower 16 bits of float feature f's bits (little-endian bytes: no\n"
            " * aliasing); tests compare the upper half and read the lower only on a tie. */\n"
            f"#define {macro}_HI(f) ((int16_t)(((uint16_t){byte}3u] << 8) | {byte}2u]))\n"
            f"#define {macro}_LO(f) ((uint16_t)(((uint16_t){byte}1u] << 8) | {byte}0u]))")


def prepare_function(m: Model) -> str:
    """P_prepare(features, v): v[f] = key, rank or integer of every feature (empty when
    tests read features directly or lazily)."""
    p, nf = m.p, m.ens.n_features
    if m.direct or m.lazy:
        return ""
    conv = f"{p}_key(features[f])" if m.precision is not None else f"({m.key_t})features[f]"
    body = [f"    for (f = 0; f < {nf}; ++f) {{", f"        v[f] = {conv};", "    }"]
    body += [f"    v[{f}] = {p}_rank(v[{f}], {lo}u, {hi}u);" for f, (lo, hi) in rank_spans(m).items()]
    ft = smallest_int(0, nf, signed=False)
    return (
        "/* v[f] = integer value of feature f: order key, rank or the integer itself. */\n"
        f"static inline void {p}_prepare(const {m.in_t} *features, {m.key_t} *v)\n{{\n"
        f"    {ft} f;\n" + "\n".join(body) + "\n}"
    )


def model_keys(m: Model) -> dict[int, HalfKey]:
    """:func:`half_keys.half_keys` of the build (computed once)."""
    return m.once("half keys", lambda: half_keys(m.ens))


def halves_function(m: Model) -> str:
    """P_halves(features, hk): the keys of :func:`model_keys` (empty without any, or
    when the plan has no :attr:`Plan.keyed_rows`)."""
    keys = model_keys(m) if m.plan.keyed_rows else {}
    if not keys:
        return ""
    nf = m.ens.n_features
    modes = [0] * nf
    for g, key in keys.items():
        modes[g] = 1 | (2 if key.down else 0) | (4 if key.nan_high else 0)
    table = m.tables.add("hmode", "uint8_t", modes, note="per feature: 1 keyed, 2 rounded down, 4 NaN high")
    return runtime_source("halves.c", p=m.p, ft=smallest_int(0, nf, signed=False), nf=nf,
                          read_mode=m.tables.read("uint8_t", table, "f"))
