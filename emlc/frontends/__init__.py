"""Frontends: lower trained models from scikit-learn, XGBoost, LightGBM and ONNX into the IR."""

from .load import load

__all__ = ["load"]
