"""Compile time of symdiff: grad + optimize (+ codegen when the `codegen` package is there)
for deep MLPs, and the graph sizes of an MLP gradient and Hessian-vector product before
and after optimize; and the start-up cost of `import symdiff` and of the `symdiff compile`
command against `import numpy`.

    python3 benchmarks/compile_time.py            # everything
    python3 benchmarks/compile_time.py scale      # the scaling shapes of issue 16 only

Times grow with graph size; the per-layer columns show whether that growth is linear, and
the scale table prints the growth factor from a 10k-node to an 80k-node chain (8x the
nodes: about 8x is linear, 9-10x is n log n, 64x would be quadratic).
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
    if sys.dont_write_bytecode:  # e.g. PYTHONDONTWRITEBYTECODE=1: every import compiles
        print("(bytecode caching is off in this environment: each process compiles every "
              "module from source; unset PYTHONDONTWRITEBYTECODE for the usual figures)")


def tanh_chain(steps: int):
    """sum(tanh(tanh(...tanh(x)))): about 4 nodes per step once differentiated."""
    x = sd.var("x", (8,))
    h = x
    for _ in range(steps):
        h = sd.tanh(h)
    return sd.sum(h), x


def many_terms(terms: int):
    """sum(x + sin(2x) + sin(3x) + ...): one input read by every term."""
    x = sd.var("x", (8,))
    total = x * 1.0
    for i in range(1, terms):
        total = total + sd.sin(x * float(i))
    return sd.sum(total), x


def _cpu_timed(fn):
    """Like _timed, in CPU seconds of this process: steadier on a shared machine."""
    start = time.process_time()
    result = fn()
    return result, time.process_time() - start


def _stages(loss, x) -> tuple[int, float, float, float]:
    """(nodes, grad s, optimize s, sd.function s) of one graph, in CPU seconds."""
    gc.collect()
    g, t_grad = _cpu_timed(lambda: sd.grad(loss, x))
    nodes = _size([loss, g])
    opt, t_opt = _cpu_timed(lambda: sd.optimize([loss, g]))
    _, t_fn = _cpu_timed(lambda: sd.function([x], opt))
    return nodes, t_grad, t_opt, t_fn


def spec_text(entries: int) -> str:
    body = "\n".join(f'd{i} = "x * {i} + sin(x)"' for i in range(entries))
    return f'[inputs]\nx = {{ shape = [3] }}\n[define]\n{body}\n[outputs]\nf = "d{entries - 1}"\n'


def scale_table() -> None:
    """Issue 16's shapes: grad, optimize and sd.function (of the optimized graph) each."""
    from symdiff.spec import loads_spec

    print("\nScale: tanh chains, a sum of many terms, a spec of many entries (CPU seconds; "
          "function = sd.function of the optimized graph)")
    print(f"{'graph':<22} {'nodes':>7} {'grad s':>8} {'optimize s':>10} {'function s':>10} "
          f"{'total s':>8}")
    totals = {}
    shapes = [(f"tanh chain {n // 1000}k nodes", lambda n=n: tanh_chain(n // 4), n)
              for n in (10_000, 20_000, 40_000, 80_000)]
    shapes.append(("sum of 5000 terms", lambda: many_terms(5000), None))
    for name, build, n in shapes:
        loss, x = build()
        nodes, t_grad, t_opt, t_fn = _stages(loss, x)
        total = t_grad + t_opt + t_fn
        if n:
            totals[n] = total
        print(f"{name:<22} {nodes:>7} {t_grad:>8.2f} {t_opt:>10.2f} {t_fn:>10.2f} {total:>8.2f}")
        del loss, x
    print(f"growth from 10k to 80k nodes: {totals[80_000] / totals[10_000]:.1f}x "
          "(8x linear, about 9-10x n log n)")
    text = spec_text(3000)
    _, t_load = _cpu_timed(lambda: loads_spec(text))
    print(f"spec with 3000 [define] entries: loaded in {t_load:.2f} s")


if __name__ == "__main__":
    if sys.argv[1:] != ["scale"]:
        deep_mlp_table()
        mlp_784_table()
        startup_table()
    scale_table()
