"""Compile time of symdiff: grad + optimize (+ codegen when the `codegen` package is there)
for deep MLPs, and the graph sizes of an MLP gradient and Hessian-vector product before
and after optimize; and the start-up cost of `import symdiff` and of the `symdiff compile`
command against `import numpy`.

    python3 benchmarks/compile_time.py

Times grow with graph size; the per-layer columns show whether that growth is linear.
"""

from __future__ import annotations

import gc
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import symdiff as sd
from symdiff.graph import topo_order

ROOT = Path(__file__).resolve().parents[1]

try:
    import codegen
except ImportError:  # the back end is optional for this benchmark
    codegen = None


def mlp_loss(sizes: list[int], batch: str | int = "n", weight_decay: float = 1e-4):
    """ReLU MLP with softmax cross-entropy and weight decay: (loss, inputs, params)."""
    X = sd.var("X", (batch, sizes[0]))
    Y = sd.var("Y", (batch, sizes[-1]))
    params = []
    h = X
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        W = sd.var(f"W{i + 1}", (a, b))
        c = sd.var(f"b{i + 1}", (b,))
        params += [W, c]
        z = h @ W + c
        h = sd.relu(z).named(f"h{i + 1}") if i < len(sizes) - 2 else z.named("logits")
    xent = sd.mean(-sd.sum(Y * sd.log_softmax(h), axis=1))
    decay = params[0] ** 2
    total = sd.sum(decay)
    for W in params[2::2]:
        total = total + sd.sum(W ** 2)
    loss = (xent + weight_decay * total).named("loss")
    return loss, [X, Y], params


def _timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def _size(nodes) -> int:
    return len(topo_order(nodes))


def deep_mlp_table(depths=(16, 64, 256), width: int = 64) -> None:
    print(f"Deep MLP, width {width}: grad + optimize"
          + (" + codegen.emit_module" if codegen else " (codegen package absent: skipped)"))
    head = f"{'layers':>6} {'nodes':>7} {'->opt':>6} {'grad s':>8} {'optimize s':>10}"
    head += f" {'codegen s':>9}" if codegen else ""
    head += f" {'total s':>8} {'ms/layer':>9}"
    print(head)
    for depth in depths:
        gc.collect()
        loss, inputs, params = mlp_loss([width] * depth + [10])
        grads, t_grad = _timed(lambda loss=loss, params=params: sd.grad(loss, params))
        opt, t_opt = _timed(lambda grads=grads: sd.optimize(grads))
        t_gen = 0.0
        if codegen:
            fn = codegen.Function("loss_grad", inputs + params, tuple(opt))
            _, t_gen = _timed(lambda fn=fn: codegen.emit_module([fn], title="deep mlp"))
        total = t_grad + t_opt + t_gen
        row = (f"{depth:>6} {_size(grads):>7} {_size(opt):>6} {t_grad:>8.3f} {t_opt:>10.3f}")
        row += f" {t_gen:>9.3f}" if codegen else ""
        row += f" {total:>8.3f} {1000 * total / depth:>9.2f}"
        print(row)


def mlp_784_table() -> None:
    print("\nMLP 784-256-256-10 (ReLU, softmax cross-entropy, weight decay)")
    loss, _, params = mlp_loss([784, 256, 256, 10])
    grads = sd.grad(loss, params)
    W1 = params[0]
    V = sd.var("V", W1.shape)
    raw_hvp = sd.jvp(sd.grad(loss, W1), W1, V)  # forward over the raw reverse graph
    hvp = sd.hvp(loss, W1, V)  # what sd.hvp builds: the gradient is optimized first
    print(f"{'graph':<22} {'nodes':>6} {'ops':>5} {'-> nodes':>8} {'ops':>5} "
          f"{'optimize ms':>11}")
    for name, nodes in (("loss", [loss]), ("gradient (all params)", grads),
                        ("hvp (W1), raw jvp", [raw_hvp]), ("hvp (W1), sd.hvp", [hvp])):
        (opt, report), _ = _timed(lambda nodes=nodes: sd.optimize(nodes, report=True))
        print(f"{name:<22} {report.nodes_before:>6} {report.ops_before:>5} "
              f"{report.nodes_after:>8} {report.ops_after:>5} {1000 * report.seconds:>11.1f}")


def _wall(argv: list[str], repeats: int = 7) -> float:
    """Median wall time of a fresh process running `argv` (seconds)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, cwd=ROOT)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def startup_table() -> None:
    """`import symdiff` against `import numpy`, and the whole `symdiff compile` command, each
    in fresh processes, interleaved (aims: at most 0.3 s over NumPy, and under 0.6 s)."""
    print("\nStartup (fresh processes, medians of 7)")
    python = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "out.py")
        rows = [("python -c 'import numpy'", [python, "-c", "import numpy"]),
                ("python -c 'import symdiff'", [python, "-c", "import symdiff"]),
                ("symdiff compile mlp_relu_xent.toml",
                 [python, "-m", "symdiff", "compile", "examples/mlp_relu_xent.toml", "-o", out])]
        times = {name: _wall(argv) for name, argv in rows}
    for name, seconds in times.items():
        print(f"{name:<36} {seconds:>6.3f} s")
    extra = times["python -c 'import symdiff'"] - times["python -c 'import numpy'"]
    print(f"{'import symdiff - import numpy':<36} {extra:>6.3f} s")


if __name__ == "__main__":
    deep_mlp_table()
    mlp_784_table()
    startup_table()
