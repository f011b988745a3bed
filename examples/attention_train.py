"""Train the transformer block of examples/attention.toml on its toy task (at each position
of a sequence of 8 tokens from 0..5, predict the largest token so far) with Adam on the
generated gradient, and report the per-token accuracy on fresh sequences.

    symdiff compile examples/attention.toml -o attention_grad.py
    python3 examples/attention_train.py
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from generated import gradient_module
from mlp_digits import progress

T, VOCAB, BATCH = 8, 6, 64
PARAMS = ("E", "P", "g1", "s1", "Wq", "Wk", "Wv", "Wo", "g2", "s2", "W1", "c1", "W2", "c2",
          "U")
SHAPES = {"E": (6, 8), "P": (8, 8), "g1": (8,), "s1": (8,), "Wq": (8, 2, 4), "Wk": (8, 2, 4),
          "Wv": (8, 2, 4), "Wo": (2, 4, 8), "g2": (8,), "s2": (8,), "W1": (8, 16), "c1": (16,),
          "W2": (16, 8), "c2": (8,), "U": (8, 6)}


def batch(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    tokens = rng.integers(0, VOCAB, (n, T))
    return np.eye(VOCAB)[tokens], np.maximum.accumulate(tokens, axis=1)


def init_params(rng: np.random.Generator) -> dict[str, np.ndarray]:
    params = {}
    for name, shape in SHAPES.items():
        if name in ("g1", "g2"):
            params[name] = np.ones(shape)  # layer norm scales start at 1, shifts at 0
        elif len(shape) == 1:
            params[name] = np.zeros(shape)
        else:
            params[name] = rng.normal(0.0, 1.0 / np.sqrt(shape[0]), shape)
    return params


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    block = gradient_module("attention")
    params = init_params(rng)
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v = {k: np.zeros_like(v) for k, v in params.items()}
    rate, beta1, beta2 = 0.01, 0.9, 0.999
    for step in range(1, args.steps + 1):
        X, labels = batch(rng, BATCH)
        loss, grads = block.loss_and_grad(X=X, labels=labels, **params)
        for name, g in zip(PARAMS, grads, strict=True):  # Adam
            m[name] = beta1 * m[name] + (1 - beta1) * g
            v[name] = beta2 * v[name] + (1 - beta2) * g * g
            m_hat, v_hat = m[name] / (1 - beta1 ** step), v[name] / (1 - beta2 ** step)
            params[name] = params[name] - rate * m_hat / (np.sqrt(v_hat) + 1e-8)
        if step % 50 == 0 or step == args.steps:
            progress(step, args.steps, f"loss {loss:.4f}")
    X, labels = batch(rng, 1000)
    logits = block.logits(X=X, **{k: params[k] for k in PARAMS})
    print(f"per-token accuracy on 1000 fresh sequences: "
          f"{np.mean(logits.argmax(-1) == labels):.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
