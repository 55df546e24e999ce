"""Emit every test model through every emitter, to prove a refactor changes no output.

    python tools/emit_corpus.py /tmp/before        # on main: writes files + MANIFEST.sha256
    python tools/emit_corpus.py /tmp/after         # on the branch
    python tools/emit_corpus.py --compare /tmp/before /tmp/after

The corpus is every model the tests build or ship: the bundled examples, the fuzz seed
files, the published real models in ``tests/corpus/``, the pass goldens, a fixed set of trained scikit-learn / XGBoost / LightGBM models
(each task, float and integer inputs) and random IR drawn from ``tests/strategies.py``
with hypothesis derandomized. Each model is optimised at every -O level for every target
and written as C (inline and table), LLVM IR, MicroPython, both CSV flavours and IR text;
an emitter that refuses a model writes its one-line error instead, so a changed refusal
shows too. ``--compare`` exits 1 and names the files that differ.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy/sklearn load: threads only contend here

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from emlc import load  # noqa: E402
from emlc.api import emit  # noqa: E402
from emlc.errors import EmlcError  # noqa: E402
from emlc.ir.ensemble import Ensemble  # noqa: E402
from emlc.ir.text import print_ir  # noqa: E402
from emlc.passes import LEVELS, optimize  # noqa: E402
from emlc.targets import TARGETS  # noqa: E402

MANIFEST = "MANIFEST.sha256"
RANDOM_MODELS = 40


def _files() -> Iterator[tuple[str, Ensemble]]:
    """Shipped model files and the fuzz seeds (written to disk so the file loaders run)."""
    from tests.fuzz.corpus import lightgbm_files, xgboost_files

    for path in sorted((ROOT / "examples" / "models").iterdir()):
        yield f"example_{path.name}", load(path)
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in sorted({**xgboost_files(), **lightgbm_files()}.items()):
            path = Path(tmp) / name
            path.write_bytes(data)
            yield f"seed_{name}", load(path)


def _published() -> Iterator[tuple[str, Ensemble | EmlcError]]:
    """The real-model corpus other projects trained and published (tests/corpus/*/)."""
    for path in sorted((ROOT / "tests" / "corpus").glob("*/*")):
        if path.name in ("LICENSE", "SOURCE.md"):
            continue
        try:
            yield f"corpus_{path.parent.name}_{path.name}", load(path)
        except EmlcError as e:  # the message names the file: keep it the same from any checkout
            yield f"corpus_{path.parent.name}_{path.name}", EmlcError(str(e).replace(f"{ROOT}/", ""))


def _goldens() -> Iterator[tuple[str, Ensemble]]:
    from tests.passes import test_golden as g

    for name, (before, _) in sorted(g.CASES.items()):
        yield f"golden_{name}", g.model(before, features=g.FEATURES.get(name, 1), input=g.INPUTS.get(name, "float32"))


def _trained() -> Iterator[tuple[str, Ensemble]]:
    """One small model per library and task, fixed seeds and one thread (reproducible)."""
    import lightgbm as lgb
    import xgboost as xgb
    from sklearn import ensemble as ske
    from sklearn import tree as skt
    from sklearn.datasets import load_digits, load_iris

    X, y = load_iris(return_X_y=True)
    Xn = X.copy()
    Xn[np.random.default_rng(0).random(X.shape) < 0.1] = np.nan
    D, dy = load_digits(return_X_y=True)
    D, dy = D[:600], dy[:600]
    r = X[:, 0]
    sk = {
        "dt_clf": skt.DecisionTreeClassifier(max_depth=4, random_state=0).fit(X, y),
        "dt_reg": skt.DecisionTreeRegressor(max_depth=4, random_state=0).fit(X, r),
        "et_clf": skt.ExtraTreeClassifier(max_depth=4, random_state=0).fit(X, y),
        "rf_clf": ske.RandomForestClassifier(8, max_depth=4, random_state=0).fit(X, y),
        "rf_clf_nan": ske.RandomForestClassifier(4, max_depth=4, random_state=0).fit(Xn, y),
        "rf_reg": ske.RandomForestRegressor(6, max_depth=4, random_state=0).fit(X, r),
        "ets_clf": ske.ExtraTreesClassifier(6, max_depth=4, random_state=0).fit(X, y),
        "ets_reg": ske.ExtraTreesRegressor(6, max_depth=4, random_state=0).fit(X, r),
        "gb_bin": ske.GradientBoostingClassifier(n_estimators=8, max_depth=2, random_state=0).fit(X, y == 1),
        "gb_multi": ske.GradientBoostingClassifier(n_estimators=5, max_depth=2, random_state=0).fit(X, y),
        "gb_reg": ske.GradientBoostingRegressor(n_estimators=8, max_depth=3, random_state=0).fit(X, r),
        "hgb_clf": ske.HistGradientBoostingClassifier(max_iter=5, max_depth=3, random_state=0).fit(Xn, y),
        "hgb_bin": ske.HistGradientBoostingClassifier(max_iter=6, max_depth=3, random_state=0).fit(Xn, y == 2),
        "hgb_reg": ske.HistGradientBoostingRegressor(max_iter=6, max_depth=3, random_state=0).fit(Xn, r),
        "iforest": ske.IsolationForest(n_estimators=5, max_samples=64, random_state=0).fit(X),
        "rf_digits": ske.RandomForestClassifier(10, max_depth=6, random_state=0).fit(D, dy),
    }
    for name, est in sk.items():
        yield f"sklearn_{name}", load(est)
    yield "sklearn_rf_digits_int16", load(sk["rf_digits"]).replace(input_type="int16")
    yield "sklearn_rf_digits_uint8", load(sk["rf_digits"]).replace(input_type="uint8")
    xg = {
        "bin": xgb.XGBClassifier(n_estimators=12, max_depth=3, random_state=0, n_jobs=1).fit(Xn, y == 1),
        "multi": xgb.XGBClassifier(n_estimators=6, max_depth=3, random_state=0, n_jobs=1).fit(X, y),
        "reg": xgb.XGBRegressor(n_estimators=8, max_depth=3, random_state=0, n_jobs=1).fit(X, r),
        "digits": xgb.XGBClassifier(n_estimators=20, max_depth=3, random_state=0, n_jobs=1).fit(D, dy >= 5),
    }
    for name, est in xg.items():
        yield f"xgboost_{name}", load(est)
    yield "xgboost_digits_int16", load(xg["digits"]).replace(input_type="int16")
    common = {"n_estimators": 8, "num_leaves": 7, "min_child_samples": 5, "random_state": 0, "n_jobs": 1,
              "deterministic": True, "force_row_wise": True, "verbose": -1}
    lg = {
        "bin": lgb.LGBMClassifier(**common).fit(Xn, y == 1),
        "multi": lgb.LGBMClassifier(**common).fit(X, y),
        "reg": lgb.LGBMRegressor(**common).fit(Xn, r),
        "digits": lgb.LGBMClassifier(**common).fit(D, dy),
    }
    for name, est in lg.items():
        yield f"lightgbm_{name}", load(est)


def _random() -> Iterator[tuple[str, Ensemble]]:
    """Random IR from the property-test strategy; derandomized, so the same draws every run."""
    from hypothesis import HealthCheck, Phase, given, settings

    from tests.strategies import ensembles

    drawn: list[Ensemble] = []

    @settings(max_examples=RANDOM_MODELS, derandomize=True, database=None, deadline=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(ensembles())
    def collect(ens: Ensemble) -> None:
        drawn.append(ens)

    collect()
    for i, ens in enumerate(drawn):
        yield f"random_{i:03d}", ens


def corpus() -> Iterator[tuple[str, Ensemble | EmlcError]]:
    """Every model, or the error its file is refused with."""
    for source in (_files, _published, _goldens, _trained, _random):
        yield from source()


def _outputs(ens: Ensemble) -> Iterator[tuple[str, Callable[[], str | bytes]]]:
    """(file name, thunk) for every emitter on every (target, level) build of ``ens``."""
    yield "input.emlir", lambda: print_ir(ens)
    for level in LEVELS:
        speed = level != "Os"
        for target in TARGETS:
            try:
                res = optimize(ens, level=level, target=target)
            except EmlcError as e:
                yield f"{target}_{level}.error", lambda e=e: f"error: {e}\n"
                continue
            out = res.ensemble
            stem = f"{target}_{level}"
            yield f"{stem}.emlir", lambda out=out, res=res: f"layout {res.layout}\n{print_ir(out)}"
            for layout in ("inline", "table"):
                yield f"{stem}_{layout}.h", lambda out=out, t=target, lay=layout, fast=speed: emit(
                    out, "c", target=t, name="m", layout=lay, speed=fast)
            yield f"{stem}.ll", lambda out=out, t=target: emit(out, "llvm", target=t, name="m")
            if target == "host":
                yield f"{level}.py", lambda out=out: emit(out, "micropython", name="m")
                for flavor in ("emlearn", "emlc"):
                    yield f"{level}_{flavor}.csv", lambda out=out, f=flavor: emit(out, "csv", csv_flavor=f)


def write_corpus(dest: Path, only: str | None = None) -> int:
    dest.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []
    for model, ens in corpus():
        if only and only not in model:
            continue
        folder = dest / model
        folder.mkdir(exist_ok=True)
        outputs = _outputs(ens) if isinstance(ens, Ensemble) else [("load.error", lambda e=ens: f"error: {e}\n")]
        for name, make in outputs:
            try:
                text = make()
            except EmlcError as e:
                name, text = f"{name}.error", f"error: {e}\n"
            data = text if isinstance(text, bytes) else text.encode()
            (folder / name).write_bytes(data)
            lines.append(f"{hashlib.sha256(data).hexdigest()}  {model}/{name}")
        print(f"{model}: {sum(1 for _ in folder.iterdir())} files", file=sys.stderr)
    (dest / MANIFEST).write_text("\n".join(sorted(lines, key=lambda s: s[66:])) + "\n")
    return len(lines)


def _manifest(folder: Path) -> dict[str, str]:
    return {line[66:]: line[:64] for line in (folder / MANIFEST).read_text().splitlines()}


def compare(a: Path, b: Path) -> int:
    """Name every file that differs or exists on one side only; 0 when all are identical."""
    ma, mb = _manifest(a), _manifest(b)
    bad = sorted(k for k in ma.keys() | mb.keys() if ma.get(k) != mb.get(k))
    for k in bad:
        side = "only in " + str(a if k not in mb else b) if (k in ma) != (k in mb) else "differs"
        print(f"{side}: {k}")
    print(f"{len(ma.keys() | mb.keys())} files compared, {len(bad)} differ")
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=textwrap.dedent(__doc__.split("\n\n", 1)[1]))
    p.add_argument("dest", nargs="?", type=Path, help="directory to write the corpus into")
    p.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"), help="compare two written corpora")
    p.add_argument("--only", help="emit only models whose name contains this text (quick checks)")
    args = p.parse_args(argv)
    if args.compare:
        return compare(*args.compare)
    if args.dest is None:
        p.error("give a directory to write into, or --compare BEFORE AFTER")
    n = write_corpus(args.dest, args.only)
    print(f"{n} files written to {args.dest} ({MANIFEST} lists their sha256)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
