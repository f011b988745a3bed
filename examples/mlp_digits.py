"""Train the ReLU MLP of Goodfellow et al. 6.5.7 (examples/mlp_relu_xent.toml) on the
handwritten digits bundled with scikit-learn, by minibatch SGD with the generated gradient.

    python3 -m pip install -e ".[examples]"
    symdiff compile examples/mlp_relu_xent.toml -o mlp_relu_xent_grad.py
    python3 examples/mlp_digits.py

    symdiff compile examples/mlp_digits_labels.toml -o mlp_digits_labels_grad.py
    python3 examples/mlp_digits.py --labels   # the same model on integer class labels

8x8 images (64 standardized pixels, plus a constant 1 feature standing in for the hidden
biases the book leaves out), 10 classes, a quarter of the images held out for testing.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from generated import gradient_module

HIDDEN = 64
BATCH = 32
LEARNING_RATE = 0.2  # at the first epoch; it decays by DECAY each epoch
DECAY = 0.97
WEIGHT_DECAY = 1e-3


def progress(done: int, total: int, text: str, width: int = 30) -> None:
    """A one-line text progress bar on stderr."""
    filled = width * done // total
    bar = "#" * filled + "." * (width - filled)
    sys.stderr.write(f"\r[{bar}] {done}/{total} {text}")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def load_data(rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        sys.exit('this example needs scikit-learn: python3 -m pip install -e ".[examples]"')
    digits = load_digits()
    order = rng.permutation(len(digits.data))
    test, train = order[: len(order) // 4], order[len(order) // 4:]
    # standardize each pixel with the training images' statistics (+1 tames the constant
    # border pixels), then append a constant 1: a bias for every hidden unit
    mean, std = digits.data[train].mean(0), digits.data[train].std(0) + 1.0
    X = np.column_stack([(digits.data - mean) / std, np.ones(len(order))])
    Y = np.eye(10)[digits.target]
    return X[train], Y[train], X[test], Y[test]


def accuracy(mlp, X: np.ndarray, Y: np.ndarray, W1: np.ndarray, W2: np.ndarray) -> float:
    return float(np.mean(np.argmax(mlp.logits(X=X, W1=W1, W2=W2), axis=1) == Y.argmax(1)))


def targets(Y: np.ndarray, labels: bool) -> dict[str, np.ndarray]:
    """The cost's target argument: one-hot rows Y, or (--labels) the class indices."""
    return {"labels": Y.argmax(1)} if labels else {"Y": Y}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--labels", action="store_true",
                        help="train examples/mlp_digits_labels.toml, whose cross-entropy "
                             "takes integer class labels instead of one-hot rows")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    mlp = gradient_module("mlp_digits_labels" if args.labels else "mlp_relu_xent")
    X_train, Y_train, X_test, Y_test = load_data(rng)
    d, k = X_train.shape[1], Y_train.shape[1]
    W1 = rng.normal(0.0, np.sqrt(2.0 / d), (d, HIDDEN))  # He initialization for ReLUs
    W2 = rng.normal(0.0, np.sqrt(1.0 / HIDDEN), (HIDDEN, k))
    lam = np.array(WEIGHT_DECAY)
    print(f"{len(X_train)} training and {len(X_test)} test images, {d - 1} pixels, "
          f"{HIDDEN} hidden ReLUs, {args.epochs} epochs")
    for epoch in range(1, args.epochs + 1):
        order = rng.permutation(len(X_train))
        rate = LEARNING_RATE * DECAY ** (epoch - 1)
        total = 0.0
        for start in range(0, len(order), BATCH):
            batch = order[start:start + BATCH]
            cost, (dW1, dW2) = mlp.cost_and_grad(X=X_train[batch], lam=lam, W1=W1, W2=W2,
                                                 **targets(Y_train[batch], args.labels))
            W1 = W1 - rate * dW1
            W2 = W2 - rate * dW2
            total += cost * len(batch)
        progress(epoch, args.epochs, f"epoch cost {total / len(order):.4f}")
    train_acc = accuracy(mlp, X_train, Y_train, W1, W2)
    test_acc = accuracy(mlp, X_test, Y_test, W1, W2)
    print(f"training accuracy {train_acc:.1%}, test accuracy {test_acc:.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
