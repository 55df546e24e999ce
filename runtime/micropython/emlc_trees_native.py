"""emlc_trees' tree walk compiled to machine code on boards with a native emitter.

``emlc_trees`` imports ``walk`` from here when it can and falls back to its own
plain-Python ``_walk_py`` (same statements) where ``@micropython.native`` is
unavailable, such as the WebAssembly port the tests run on. Copy this file next to
``emlc_trees.py`` of the same emlc version (or freeze both) to get the compiled walk.
"""

import micropython


@micropython.native
def walk(x, F, T, L, R, roots, out, start, stop):
    for t in range(start, stop):
        i = roots[t]
        while i >= 0:
            if x[F[i]] <= T[i]:
                i = L[i]
            else:
                i = R[i]
        out[t] = ~i
