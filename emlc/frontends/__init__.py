"""Frontends: lower trained models from scikit-learn, XGBoost, LightGBM and ONNX into the IR.

- ``load``: ``emlc.load`` for objects and files (format sniffing, size limits, pickles
  refused unless trusted), dispatching to one frontend per library.
- ``sklearn`` (trees, forests, gradient boosting, isolation forests), ``sklearn_hist``
  (HistGradientBoosting), sharing ``sklearn_common``; ``xgboost``; ``lightgbm``; ``onnx``.
- ``treebuild``: ``SourceTreeBuilder`` and ``build_tree``, which walk a library's nodes
  into IR tree columns, and ``Tables`` for leaf rows and category sets.
"""

from .load import load

__all__ = ["load"]
