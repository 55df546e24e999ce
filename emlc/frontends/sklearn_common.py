"""What every scikit-learn lowering shares: the ensemble fields common to all estimators
and the IR link of a boosting loss.

Its own module so :mod:`.sklearn` (trees, forests, gradient boosting) and
:mod:`.sklearn_hist` (HistGradientBoosting) both import it at the top, neither
importing the other inside a function.
"""

from __future__ import annotations

from typing import Any

from ..errors import EmlcError
from ..ir.ensemble import Link, LinkMath

#: scikit-learn link classes (``estimator._loss.link``) and the IR link they are: the
#: logistic ones call SciPy's ``expit`` (C exp), the others numpy's ``exp``.
LINKS: dict[str, tuple[Link, tuple[float, ...], LinkMath]] = {
    "IdentityLink": (Link.IDENTITY, (), LinkMath.NUMPY),
    "LogLink": (Link.EXP, (), LinkMath.NUMPY),
    "LogitLink": (Link.SIGMOID, (), LinkMath.LIBM),
    "HalfLogitLink": (Link.SIGMOID, (2.0,), LinkMath.LIBM),
    "MultinomialLogit": (Link.SOFTMAX, (), LinkMath.NUMPY),
}


def common_fields(estimator: Any) -> dict[str, Any]:
    """Ensemble fields every lowering shares: the feature count and, when fitted on a frame, the names."""
    fields: dict[str, Any] = {"n_features": int(estimator.n_features_in_)}
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:
        fields["feature_names"] = tuple(str(n) for n in names)
    return fields


def link_of(estimator: Any) -> tuple[Link, tuple[float, ...], LinkMath]:
    """The IR link, its parameters and arithmetic for a boosting estimator's loss, or an
    error naming the loss."""
    link = type(estimator._loss.link).__name__
    if link not in LINKS:
        raise EmlcError(
            f"{type(estimator).__name__} with loss {estimator.loss!r} (link {link}) is unsupported; "
            f"supported links: {', '.join(LINKS)}"
        )
    return LINKS[link]
