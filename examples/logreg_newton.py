"""Fit logistic regression by Newton's method with the generated Hessian.

    symdiff compile examples/logreg_newton.toml -o logreg_newton_grad.py
    python3 examples/logreg_newton.py

Each iteration solves H step = g with the module's `loss_hess` and `loss_grad`; Newton's
method converges quadratically, so the gradient norm falls to round-off within a few steps.
"""

from __future__ import annotations

import sys

import numpy as np
from generated import gradient_module

TOLERANCE = 1e-10
MAX_ITERATIONS = 10


def data(rng: np.random.Generator, n: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """Two features and an intercept column; labels drawn from a true logistic model."""
    features = rng.normal(size=(n, 2))
    X = np.column_stack([np.ones(n), features])
    true_w = np.array([-0.5, 2.0, -1.0])
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-X @ true_w))).astype(float)
    return X, y


def main() -> int:
    logreg = gradient_module("logreg_newton")
    X, y = data(np.random.default_rng(0))
    lam = np.array(1e-3)
    w = np.zeros(3)
    for iteration in range(1, MAX_ITERATIONS + 1):
        g = logreg.loss_grad(X=X, y=y, lam=lam, w=w)
        H = logreg.loss_hess(X=X, y=y, lam=lam, w=w)
        w = w - np.linalg.solve(H, g)
        loss = logreg.loss(X=X, y=y, lam=lam, w=w)
        norm = np.linalg.norm(logreg.loss_grad(X=X, y=y, lam=lam, w=w))
        print(f"iteration {iteration}: loss {loss:.12f}  |grad| {norm:.2e}")
        if norm < TOLERANCE:
            accuracy = np.mean((logreg.prob(X=X, w=w) > 0.5) == (y > 0.5))
            print(f"converged in {iteration} iterations: w = {np.round(w, 4)}, "
                  f"training accuracy {accuracy:.1%}")
            return 0
    print(f"no convergence in {MAX_ITERATIONS} iterations", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
