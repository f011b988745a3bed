"""Train the small convolutional network of examples/cnn_digits.toml on the handwritten
digits bundled with scikit-learn, by minibatch SGD with momentum on the generated gradient.

    python3 -m pip install -e ".[examples]"
    symdiff compile examples/cnn_digits.toml -o cnn_digits_grad.py
    python3 examples/cnn_digits.py            # about 98% test accuracy in a few seconds

8x8 images with one channel (pixels scaled to [0, 1] and centred), 10 classes, a quarter
of the images held out for testing, the same split and progress bar as mlp_digits.py.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from generated import gradient_module
from mlp_digits import progress

BATCH = 32
LEARNING_RATE = 0.05  # at the first epoch; it decays by DECAY each epoch
DECAY = 0.9
MOMENTUM = 0.9
WEIGHT_DECAY = 1e-4
PARAMS = ("K1", "b1", "K2", "b2", "W", "c")


def load_data(rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        sys.exit('this example needs scikit-learn: python3 -m pip install -e ".[examples]"')
    digits = load_digits()
    order = rng.permutation(len(digits.images))
    test, train = order[: len(order) // 4], order[len(order) // 4:]
    images = digits.images[:, None, :, :] / 16.0  # (n, 1, 8, 8): one channel
    images = images - images[train].mean()
    return images[train], digits.target[train], images[test], digits.target[test]


def init_params(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """He initialization: each kernel's weights have variance 2 / (inputs it sums)."""
    return {"K1": rng.normal(0.0, np.sqrt(2.0 / 9), (16, 1, 3, 3)), "b1": np.zeros(16),
            "K2": rng.normal(0.0, np.sqrt(2.0 / 144), (32, 16, 3, 3)), "b2": np.zeros(32),
            "W": rng.normal(0.0, np.sqrt(1.0 / 128), (128, 10)), "c": np.zeros(10)}


def accuracy(cnn, X: np.ndarray, labels: np.ndarray, params: dict[str, np.ndarray]) -> float:
    return float(np.mean(np.argmax(cnn.logits(X=X, **params), axis=1) == labels))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    cnn = gradient_module("cnn_digits")
    X_train, y_train, X_test, y_test = load_data(rng)
    params = init_params(rng)
    velocity = {k: np.zeros_like(v) for k, v in params.items()}
    lam = np.array(WEIGHT_DECAY)
    print(f"{len(X_train)} training and {len(X_test)} test images of 8x8 pixels, conv 3x3 "
          f"(16) -> pool -> conv 3x3 (32) -> pool -> dense (10), {args.epochs} epochs")
    for epoch in range(1, args.epochs + 1):
        order = rng.permutation(len(X_train))
        rate = LEARNING_RATE * DECAY ** (epoch - 1)
        total = 0.0
        for start in range(0, len(order), BATCH):
            batch = order[start:start + BATCH]
            cost, grads = cnn.cost_and_grad(X=X_train[batch], labels=y_train[batch], lam=lam,
                                            **params)
            for name, g in zip(PARAMS, grads, strict=True):
                velocity[name] = MOMENTUM * velocity[name] - rate * g
                params[name] = params[name] + velocity[name]
            total += cost * len(batch)
        progress(epoch, args.epochs, f"epoch cost {total / len(order):.4f}")
    train_acc = accuracy(cnn, X_train, y_train, params)
    test_acc = accuracy(cnn, X_test, y_test, params)
    print(f"training accuracy {train_acc:.1%}, test accuracy {test_acc:.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
