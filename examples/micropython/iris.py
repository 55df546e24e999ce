"""Classify three iris flowers in MicroPython with emlc's pure-Python runtime.

On the host:
    emlc ../models/iris_xgb.json -O2 --emit csv -o iris.csv
Copy `iris.csv`, this file and `runtime/micropython/emlc_trees.py` to the device
(e.g. `mpremote cp iris.csv iris.py emlc_trees.py :`), then `import iris`.
"""

import emlc_trees

FLOWERS = (
    (5.1, 3.5, 1.4, 0.2),  # setosa
    (6.4, 3.2, 4.5, 1.5),  # versicolor
    (6.3, 3.3, 6.0, 2.5),  # virginica
)

model = emlc_trees.load("iris.csv")
for i, flower in enumerate(FLOWERS):
    print("flower %d: class %s" % (i, model.predict(flower)))
