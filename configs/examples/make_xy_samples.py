"""Write xy_samples.csv, the data file of own_data.yaml: 800 scattered samples of a function that is not in the
registry, f(x, y) = sin(3x)·exp(−y²) + x·y on [−1, 1]², as a CSV with a header (x,y,f) and every float written
as its shortest round-tripping repr, so the file holds the float64 values exactly.

    python3 configs/examples/make_xy_samples.py      # rewrites the file; the same bytes every time
"""

from pathlib import Path

import numpy as np

ROWS = 800
SEED = 2024


def f(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.sin(3 * x) * np.exp(-y**2) + x * y


def main() -> Path:
    xy = np.random.default_rng(SEED).uniform(-1.0, 1.0, size=(ROWS, 2))
    lines = ["x,y,f"] + [f"{x!r},{y!r},{v!r}" for x, y, v in
                         zip(xy[:, 0].tolist(), xy[:, 1].tolist(), f(xy[:, 0], xy[:, 1]).tolist())]
    path = Path(__file__).with_name("xy_samples.csv")
    path.write_text("\n".join(lines) + "\n")
    return path


if __name__ == "__main__":
    print(main())
