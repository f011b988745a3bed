"""The array-API target (codegen/array_api.py): generated functions give the NumPy target's
float64 results on NumPy, array_api_strict (the reference implementation, which refuses
everything outside the standard), PyTorch CPU tensors, JAX arrays and Dask arrays, and on
Dask they compute nothing until asked."""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pytest

import symdiff as sd
from symdiff.shapes import is_float
from symdiff.spec import load_spec, spec_module
from tests.examples_support import EXAMPLES, EXAMPLES_DIR, ROOT, run, symdiff_command

pytest.importorskip("array_api_compat", reason="the array-API target needs array-api-compat "
                    "(pip install 'symdiff[array-api]')")

# Dask's linalg.solve takes one matrix, not a stack: the GP's Hessian solves a batch of them.
DASK_UNSUPPORTED = {("gp_regression", "nlml_hess")}
# Gradients of hundreds of ops (windows of a CNN, attention heads) whose Dask task graphs
# take Dask minutes to optimise on small chunks; the other specs cover Dask.
DASK_SLOW = ("cnn_digits", "attention")
# Specs with loops (sd.scan, the op table's "scan" rows): the array-API target does not
# generate loops (a clear error, tested below).
LOOP_EXAMPLES = ("rnn",)
# JAX dispatches (and compiles) op by op outside jit, slowly: a few specs show it works.
JAX_EXAMPLES = ("logreg_newton",)
RTOL = 1e-10  # other libraries sum and multiply matrices in their own order


@dataclass(frozen=True)
class Backend:
    """How to move NumPy test data into one array library and results back."""

    name: str
    to: Callable[[np.ndarray], object]
    back: Callable[[object], np.ndarray]
    context: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext


def _numpy() -> Backend:
    return Backend("numpy", np.asarray, np.asarray)


def _strict() -> Backend:
    strict = pytest.importorskip("array_api_strict", reason="array_api_strict is not installed "
                                 "(pip install 'symdiff[test]')")

    @contextlib.contextmanager
    def honest() -> Iterator[None]:  # no data-dependent shapes, no boolean indexing either
        with strict.ArrayAPIStrictFlags(data_dependent_shapes=False, boolean_indexing=False):
            yield

    return Backend("array_api_strict", strict.asarray, lambda x: np.asarray(x), honest)


def _torch() -> Backend:
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install "
                                "'symdiff[torch]', a CPU-only build)")
    return Backend("torch", lambda a: torch.from_numpy(np.array(a)),
                   lambda x: x.numpy(force=True))


def _jax() -> Backend:
    jax = pytest.importorskip("jax", reason="JAX is not installed")
    jnp = pytest.importorskip("jax.numpy")
    return Backend("jax", jnp.asarray, np.asarray, functools.partial(jax.enable_x64, True))


def _dask() -> Backend:
    da = pytest.importorskip("dask.array", reason="Dask is not installed (pip install "
                             "'symdiff[dask]')")
    return Backend("dask", lambda a: da.from_array(np.asarray(a), chunks=3 if np.ndim(a) else ()),
                   lambda x: np.asarray(x.compute(scheduler="synchronous")), _no_compute)


@contextlib.contextmanager
def _no_compute() -> Iterator[None]:
    """Any computation of a Dask graph while the generated function runs is an error."""
    import dask

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the generated function computed a Dask graph")

    with dask.config.set(scheduler=refuse):
        yield


BACKENDS = {"numpy": _numpy, "array_api_strict": _strict, "torch": _torch, "jax": _jax,
            "dask": _dask}


@pytest.fixture(params=list(BACKENDS))
def backend(request: pytest.FixtureRequest) -> Backend:
    return BACKENDS[request.param]()


def leaves(value: object) -> list:
    if isinstance(value, tuple | list):
        return [leaf for v in value for leaf in leaves(v)]
    return [value]


def run_on(backend: Backend, fn: Callable, args: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Call `fn` with the arguments in the backend's arrays; the results as NumPy arrays
    (each checked to be the backend's own array type)."""
    with backend.context():
        got = leaves(fn(**{k: backend.to(v) for k, v in args.items()}))
        if backend.name == "dask":
            import dask.array as da

            assert all(isinstance(g, da.Array) for g in got), [type(g) for g in got]
    return [backend.back(g) for g in got]


def assert_matches(got: list[np.ndarray], want: list, what: str) -> None:
    assert len(got) == len(want), what
    for k, (g, w) in enumerate(zip(got, want, strict=True)):
        w = np.asarray(w)
        assert g.shape == w.shape, f"{what} output {k}: shape {g.shape}, want {w.shape}"
        assert g.dtype == w.dtype, f"{what} output {k}: dtype {g.dtype}, want {w.dtype}"
        np.testing.assert_allclose(g, w, rtol=RTOL, atol=1e-12, err_msg=f"{what} output {k}")


# -- the example specs ---------------------------------------------------------------------

@functools.cache
def example_modules(name: str) -> tuple:
    spec = load_spec(EXAMPLES_DIR / f"{name}.toml")
    return spec, spec_module(spec), spec_module(spec, target="array-api")


def spec_arguments(spec: sd.Spec, plan: object, rng: np.random.Generator) -> dict:
    """Random float64 arguments (int64 labels in 0..2), symbolic dims of size 6."""
    args = {}
    for node in plan.args:
        shape = tuple(d if isinstance(d, int) else 6 for d in node.shape)
        args[node.name] = rng.integers(0, 3, shape) if node.dtype == "int64" else \
            rng.standard_normal(shape)
    return args


def _spec_runs() -> list[tuple[str, str]]:
    """(example, backend) pairs: every spec on every backend, but JAX on JAX_EXAMPLES only
    (op-by-op dispatch is slow), Dask on none of DASK_SLOW, and no loop specs."""
    return [(name, backend) for name in EXAMPLES if name not in LOOP_EXAMPLES
            for backend in BACKENDS
            if not (backend == "jax" and name not in JAX_EXAMPLES)
            and not (backend == "dask" and name in DASK_SLOW)]


@pytest.mark.parametrize(("name", "backend_name"), _spec_runs())
def test_example_specs_match_the_numpy_target(name, backend_name, rng):
    backend = BACKENDS[backend_name]()
    spec, numpy_module, module = example_modules(name)
    for plan in spec.functions:
        if backend.name == "dask" and (name, plan.name) in DASK_UNSUPPORTED:
            continue
        args = spec_arguments(spec, plan, rng)
        want = leaves(getattr(numpy_module, plan.name)(**args))
        got = run_on(backend, getattr(module, plan.name), args)
        assert_matches(got, want, f"{name}.{plan.name} on {backend.name}")


def test_mlp_value_grad_hessian_and_hvp_through_sd_function(backend, rng):
    """The Python API's own MLP: loss, gradient, a Hessian and a Hessian-vector product."""
    X = sd.var("X", shape=("n", 4))
    y = sd.var("y", shape=("n",))
    W = sd.var("W", shape=(4, 3))
    w = sd.var("w", shape=(3,))
    v = sd.var("v", shape=(3,))
    loss = sd.mean(sd.softplus(-y * (sd.tanh(X @ W) @ w))) + 0.1 * sd.sum(W * W)
    outputs = [loss, sd.grad(loss, [W, w]), sd.hessian(loss, w), sd.hvp(loss, w, v)]
    inputs = [X, y, W, w, v]
    numpy_fn = sd.function(inputs, outputs)
    fn = sd.function(inputs, outputs, target="array-api")
    args = {"X": rng.standard_normal((8, 4)), "y": np.sign(rng.standard_normal(8)),
            "W": rng.standard_normal((4, 3)), "w": rng.standard_normal(3),
            "v": rng.standard_normal(3)}
    assert_matches(run_on(backend, fn, args), leaves(numpy_fn(**args)),
                   f"MLP on {backend.name}")


# -- every op, on the reference implementation -------------------------------------------------

def _first_case_of_each_op() -> list:
    from tests.test_ops_table import CASES

    seen: dict[str, object] = {}
    for c in CASES:
        seen.setdefault(c.op, c)
    return list(seen.values())


@pytest.mark.parametrize("c", [c for c in _first_case_of_each_op() if c.op != "scan"],
                         ids=lambda c: c.op)
def test_every_op_value_and_vjp_on_array_api_strict(c, rng):
    """Each op of the table (its first row), value and VJP, on array_api_strict (which
    refuses anything outside the standard), against the NumPy target."""
    from tests.test_ops_table import _instance

    backend = _strict()
    inputs, y, point = _instance(c, rng)
    outputs, args = [y], list(inputs)
    values = {f"a{k}": point[x] for k, x in enumerate(inputs)}
    if c.diff and is_float(y.dtype):
        ct = sd.var("ct", shape=y.shape, dtype=y.dtype)
        outputs.append(sd.vjp(y, [inputs[i] for i in c.diff], ct))
        args.append(ct)
        values["ct"] = rng.standard_normal(np.shape(sd.evaluate(y, point))).astype(y.dtype)
    numpy_fn = sd.function(args, outputs)
    fn = sd.function(args, outputs, target="array-api")
    want = leaves(numpy_fn(*values.values()))
    with backend.context():
        got = leaves(fn(*[backend.to(v) for v in values.values()]))
    assert_matches([backend.back(g) for g in got], want, c.id)


def test_einsum_lowering_handles_diagonals_batches_and_implicit_outputs(rng):
    """The standard has no einsum: the target contracts pairwise with matmul."""
    from codegen.array_api import _einsum

    strict = _strict()
    a, b, c = rng.standard_normal((2, 3, 3)), rng.standard_normal((2, 3, 4)), \
        rng.standard_normal((4, 5))
    with strict.context():
        xp = __import__("array_api_strict")
        for subscripts, operands in [("bii->bi", (a,)), ("bij,bjk->bik", (a, b)),
                                     ("bij,bjk,kl->il", (a, b, c)), ("ij,ij", (a[0], a[1])),
                                     ("bii,bik->k", (a, b)), ("kl", (c,)), ("lk", (c,))]:
            got = _einsum(xp, subscripts, *[xp.asarray(o) for o in operands])
            np.testing.assert_allclose(np.asarray(got), np.einsum(subscripts, *operands),
                                       rtol=1e-12, err_msg=subscripts)


# -- laziness and errors --------------------------------------------------------------------

def test_dask_arguments_give_dask_results_and_compute_nothing(rng):
    """The logistic-regression gradient and Hessian on chunked Dask arrays: Dask arrays come
    back (a computation while the function runs would raise), and computing them gives the
    NumPy target's numbers."""
    spec, numpy_module, module = example_modules("logreg_newton")
    backend = _dask()
    for plan in spec.functions:
        args = spec_arguments(spec, plan, rng)
        got = run_on(backend, getattr(module, plan.name), args)
        assert_matches(got, leaves(getattr(numpy_module, plan.name)(**args)), plan.name)


def test_a_data_dependent_size_is_a_clear_error(rng):
    da = pytest.importorskip("dask.array", reason="Dask is not installed")
    x = sd.var("x", shape=("n",))
    fn = sd.function([x], sd.sum(sd.exp(x)), target="array-api")
    data = da.from_array(rng.standard_normal(10), chunks=5)
    with pytest.raises(ValueError, match=r"argument 'x' has an unknown, data-dependent size "
                                         r"on axis 0.*cannot stay lazy.*compute_chunk_sizes"):
        fn(data[data > 0])


def test_arrays_of_two_libraries_are_refused(rng):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    x, w = sd.var("x", shape=(3,)), sd.var("w", shape=(3,))
    fn = sd.function([x, w], x @ w, target="array-api")
    with pytest.raises(TypeError, match="one array API library.*numpy.*torch"):
        fn(np.ones(3), torch.ones(3, dtype=torch.float64))


def test_arguments_are_checked_as_in_the_numpy_target():
    strict = _strict()
    x, w = sd.var("x", shape=("n", 3)), sd.var("w", shape=("n",))
    fn = sd.function([x, w], w @ x, target="array-api")
    xp = __import__("array_api_strict")
    with strict.context():
        with pytest.raises(ValueError, match=r"argument 'w' must have shape \(n,\), got "
                                             r"shape \(4,\); n = 2 \(set by argument 'x'\)"):
            fn(xp.ones((2, 3)), xp.ones(4))
        with pytest.raises(ValueError, match="argument 'x' must be a float64 array of shape "
                                             r"\(n, 3\), got dtype .*complex128"):
            fn(xp.ones((2, 3), dtype=xp.complex128), xp.ones(2))
        got = fn(xp.ones((2, 3), dtype=xp.int64), [1.0, 2.0])  # cast and converted
    assert np.asarray(got).tolist() == [3.0, 3.0, 3.0]


def halve(x):
    """A user's op through a NumPy-level helper (copied into NumPy modules only)."""
    return x / 2


def test_an_op_without_an_array_api_lowering_is_named():
    op = sd.define_op("halve_np_only", halve, vjp=[lambda g, x, out: g / 2])
    x = sd.var("x", shape=(3,))
    with pytest.raises(sd.SymdiffError, match="op 'halve_np_only' has no array-API lowering"):
        sd.function([x], op(x), target="array-api")
    with pytest.raises(sd.SymdiffError, match="unknown target 'cuda'"):
        sd.function([x], x, target="cuda")


def test_generated_modules_use_the_standard_only():
    """No NumPy, no out=, no in-place update: what array_api_strict, JAX and Dask need."""
    from symdiff.spec import compile_spec

    for name in EXAMPLES:
        if name in LOOP_EXAMPLES:
            continue
        source = compile_spec(EXAMPLES_DIR / f"{name}.toml", target="array-api")
        assert not re.search(r"^import numpy", source, re.M) and "np." not in source, name
        assert "out=" not in source, name
        body = [line for line in source.splitlines() if re.match(r"^    \w", line)]
        assert not [line for line in body if re.search(r"\s[-+*/@]=\s", line)], name
        assert not [line for line in body if re.match(r"^\s+\w+\[.*\] = ", line)], name
        assert "import array_api_compat" in source


def test_cli_compiles_the_array_api_target(tmp_path):
    out = tmp_path / "xor_xp.py"
    result = run(symdiff_command("compile", str(EXAMPLES_DIR / "xor.toml"), "--target",
                                 "array-api", "-o", str(out)), cwd=ROOT)
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert "xp = _namespace(" in text and "def loss_grad(" in text


def test_a_loop_is_refused_by_name():
    """sd.scan lowers for the NumPy and numba targets; here the error names the op."""
    x = sd.var("x", (3, 2))
    _, ys = sd.scan(lambda h, xt: (h + xt, h * xt), sd.zeros((2,), "float64"), x)
    with pytest.raises(sd.SymdiffError, match="loops .sd.scan. are generated for the NumPy"):
        sd.function([x], ys, target="array-api")
