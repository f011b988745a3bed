"""Learn XOR (Goodfellow et al., Deep Learning, 6.1) with the generated gradient module.

    symdiff compile examples/xor.toml -o xor_grad.py && python3 examples/xor_train.py

First checks the book's hand-made solution, then trains from a small random start by
gradient descent on the mean squared error until the network rounds to [0, 1, 1, 0].
Two ReLUs are barely enough: about half the random starts end in a local minimum (mean
squared error 1/6 or 1/8) or with a dead unit, so a run that has not learned XOR starts
again from a new random start (the seed is fixed, so the output is the same every time).
"""

from __future__ import annotations

import sys

import numpy as np
from generated import gradient_module

X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
Y = np.array([0.0, 1.0, 1.0, 0.0])
STEPS = 3000
LEARNING_RATE = 0.1
RESTARTS = 20


def train(xor, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One run of full-batch gradient descent from a random start."""
    params = {
        "W": rng.normal(0.0, 1.0, (2, 2)),
        "c": np.full(2, 0.1),  # small positive biases keep the ReLUs active at first
        "w": rng.normal(0.0, 1.0, 2),
        "b": np.array(0.0),
    }
    for step in range(STEPS + 1):
        loss, grads = xor.loss_and_grad(X=X, y=Y, **params)
        if step % 1000 == 0:
            print(f"  step {step:5d}  loss {loss:.3e}")
        for name, grad in zip(("W", "c", "w", "b"), grads, strict=True):
            params[name] = params[name] - LEARNING_RATE * grad
    return params


def main() -> int:
    xor = gradient_module("xor")
    book = xor.predict(X=X, W=np.ones((2, 2)), c=np.array([0.0, -1.0]),
                       w=np.array([1.0, -2.0]), b=np.array(0.0))
    print(f"the book's solution outputs {book}")
    rng = np.random.default_rng(0)
    for attempt in range(1, RESTARTS + 1):
        print(f"run {attempt}:")
        params = train(xor, rng)
        predictions = xor.predict(X=X, **params)
        print(f"  predictions {np.round(predictions, 4)}")
        if np.array_equal(np.round(predictions), Y):
            print(f"learned XOR: predictions round to {np.round(predictions)}")
            return 0
    print("did not learn XOR", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
