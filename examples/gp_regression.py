"""Fit the hyperparameters of a Gaussian-process regression by Newton's method on the
negative log marginal likelihood, with the generated gradient and Hessian.

    symdiff compile examples/gp_regression.toml -o gp_regression_grad.py
    python3 examples/gp_regression.py

The data are noisy samples of sin(2 x) (noise standard deviation 0.1, so variance 0.01).
Each iteration takes the Newton step when the Hessian is positive definite and a gradient
step otherwise, halving it until the likelihood improves; it stops when the gradient is at
round-off level, then reports the fitted lengthscale, signal and noise variances.
"""

from __future__ import annotations

import sys

import numpy as np
from generated import gradient_module

TOLERANCE = 1e-8
MAX_ITERATIONS = 50
NOISE_SD = 0.1


def data(rng: np.random.Generator, n: int = 40) -> tuple[np.ndarray, np.ndarray]:
    x = np.sort(rng.uniform(-3.0, 3.0, n))
    return x, np.sin(2.0 * x) + NOISE_SD * rng.standard_normal(n)


def step(g: np.ndarray, h: np.ndarray) -> np.ndarray:
    """The Newton step where the Hessian is positive definite, else the gradient step."""
    if np.all(np.linalg.eigvalsh(h) > 0):
        return -np.linalg.solve(h, g)
    return -g


def main() -> int:
    gp = gradient_module("gp_regression")
    x, y = data(np.random.default_rng(0))
    theta = np.zeros(3)  # lengthscale 1, signal variance 1, noise variance 1
    loss = gp.nlml(x=x, y=y, theta=theta)
    for iteration in range(1, MAX_ITERATIONS + 1):
        g = gp.nlml_grad(x=x, y=y, theta=theta)
        direction = step(g, gp.nlml_hess(x=x, y=y, theta=theta))
        scale = 1.0
        while gp.nlml(x=x, y=y, theta=theta + scale * direction) > loss and scale > 1e-8:
            scale /= 2
        theta = theta + scale * direction
        loss = gp.nlml(x=x, y=y, theta=theta)
        norm = np.linalg.norm(gp.nlml_grad(x=x, y=y, theta=theta))
        print(f"iteration {iteration}: nlml {loss:.10f}  |grad| {norm:.2e}")
        if norm < TOLERANCE:
            ell, sf2, sn2 = np.exp(theta)
            print(f"converged in {iteration} iterations: lengthscale {ell:.3f}, signal "
                  f"variance {sf2:.3f}, noise variance {sn2:.4f} (true {NOISE_SD ** 2:.4f})")
            return 0
    print(f"no convergence in {MAX_ITERATIONS} iterations", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
