"""Re-create the bundled example models (small, so they live in the repository).

    python examples/make_models.py

Each model is trained on a dataset that ships with scikit-learn, with fixed seeds.
"""

from __future__ import annotations

from pathlib import Path

from sklearn.datasets import load_iris
from xgboost import XGBClassifier

HERE = Path(__file__).resolve().parent / "models"


def main() -> None:
    HERE.mkdir(exist_ok=True)
    X, y = load_iris(return_X_y=True)
    model = XGBClassifier(n_estimators=10, max_depth=3, random_state=0)
    model.fit(X, y)
    model.save_model(HERE / "iris_xgb.json")
    print(f"wrote {HERE / 'iris_xgb.json'}")


if __name__ == "__main__":
    main()
