"""The public extension API: an op defined here, in this one file, with symdiff.define_op
(the error function, checked against math.erf), works everywhere a library op does; bad
definitions are refused when they are made; stop_gradient blocks every derivative order.

This module is also the `--ops` module of the spec tests below: specs see `user_erf`
only when they name it."""

from __future__ import annotations

import math
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import symdiff as sd
from symdiff.ops.custom import OpDefinitionError
from tests.fd import check_grads
from tests.targets import TARGETS

ROOT = Path(__file__).resolve().parents[1]
TWO_OVER_ROOT_PI = 2 / math.sqrt(math.pi)


def erf_impl(x):
    """The error function, elementwise (math.erf on each element)."""
    return np.vectorize(math.erf, otypes=[np.float64])(x).astype(np.result_type(x))


def erf_vjp(g, x, out):
    """d erf(x) / dx = 2 / sqrt(pi) * exp(-x**2), built with symdiff ops."""
    return g * (TWO_OVER_ROOT_PI * sd.exp(-sd.square(x)))


user_erf = sd.define_op("user_erf", erf_impl, vjp=erf_vjp)


def _erf(x):
    return np.vectorize(math.erf)(x)


def _derivatives(x, k):
    """The first k derivatives of erf at x, from the Hermite recurrence."""
    base = TWO_OVER_ROOT_PI * np.exp(-x * x)
    hermite = [np.ones_like(x), 2 * x]
    for n in range(1, k):
        hermite.append(2 * x * hermite[n] - 2 * n * hermite[n - 1])
    return [(-1) ** n * hermite[n] * base for n in range(k)]


POINT = np.array([-1.3, -0.2, 0.4, 1.7])


def test_value_grad_and_higher_derivatives():
    x = sd.var("x", (4,))
    y = user_erf(x)
    np.testing.assert_allclose(sd.evaluate(y, {x: POINT}), _erf(POINT), rtol=1e-15)
    d1, d2, d3 = _derivatives(POINT, 3)
    np.testing.assert_allclose(sd.evaluate(sd.grad(sd.sum(y), x), {x: POINT}), d1, rtol=1e-14)
    hessian = sd.evaluate(sd.hessian(sd.sum(y), x), {x: POINT})
    np.testing.assert_allclose(hessian, np.diag(d2), rtol=1e-13, atol=1e-15)
    v = np.array([0.5, -1.0, 2.0, 0.25])
    np.testing.assert_allclose(sd.evaluate(sd.hvp(sd.sum(y), x, v), {x: POINT}), d2 * v,
                               rtol=1e-13)
    np.testing.assert_allclose(sd.evaluate(sd.jvp(y, x, v), {x: POINT}), d1 * v, rtol=1e-14)
    np.testing.assert_allclose(sd.evaluate(sd.derivative(y, x, order=3), {x: POINT}), d3,
                               rtol=1e-13)


def test_against_finite_differences_in_a_composition():
    x = sd.var("x", (3,))
    w = sd.var("w", (3,))
    cost = sd.sum(user_erf(x * w) ** 2 + sd.sin(user_erf(w)))
    rng = np.random.default_rng(0)
    check_grads(cost, [x, w], {x: rng.standard_normal(3), w: rng.standard_normal(3)}, rng,
                order=2)


def test_generated_module_needs_only_numpy(tmp_path, target):
    x = sd.var("x", (4,))
    y = user_erf(x)
    f = sd.function([x], [y, sd.grad(sd.sum(y), x)], target=target)
    assert "def erf_impl(x):" in f.source and "import math" in f.source
    value, grad = f(POINT)
    np.testing.assert_allclose(value, _erf(POINT), rtol=1e-15)
    np.testing.assert_allclose(grad, _derivatives(POINT, 1)[0], rtol=1e-14)
    f.save(tmp_path / "erf_module.py")
    script = ("import sys; sys.path.insert(0, sys.argv[1]); import numpy as np, erf_module\n"
              "assert 'symdiff' not in sys.modules and 'tests' not in sys.modules\n"
              "print(erf_module.f(np.full(4, 0.5))[0][0])")
    out = subprocess.run([sys.executable, "-I", "-c", script, str(tmp_path)], text=True,
                         capture_output=True, check=True).stdout
    assert float(out) == pytest.approx(math.erf(0.5), rel=1e-15)


def test_show_stats_and_pickle():
    x = sd.var("x", ("n",))
    y = user_erf(x)
    assert "user_erf(x)" in sd.show(y)
    assert sd.stats(sd.sum(y), {"n": 10}).forward_flops == 20  # erf and the sum, 10 each
    assert pickle.loads(pickle.dumps(sd.grad(sd.sum(y), x))) is sd.grad(sd.sum(y), x)


# -- specs name the module that defines the op -----------------------------------------------

SPEC = textwrap.dedent("""\
    name = "erf model"
    [inputs]
    x = { shape = ["n"] }
    [params]
    w = { shape = [] }
    [define]
    loss = "sum(user_erf(w * x) ** 2)"
    [outputs]
    loss = "loss"
    [derivatives]
    loss_grad = { of = "loss", wrt = "w" }
    """)


def test_spec_calls_a_user_op_only_through_ops(tmp_path):
    path = tmp_path / "erf.toml"
    path.write_text(SPEC)
    with pytest.raises(sd.SpecError, match="unknown function user_erf"):
        sd.load_spec(path)
    spec = sd.load_spec(path, ops=[sys.modules[__name__]])
    module = sd.spec_module(spec)
    xv = np.array([0.3, -0.8])
    want = sum(2 * math.erf(0.7 * a) * _derivatives(np.array(0.7 * a), 1)[0] * a for a in xv)
    assert module.loss_grad(xv, 0.7) == pytest.approx(want, rel=1e-14)


def _cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "symdiff", *args], cwd=cwd, text=True,
                          capture_output=True, timeout=120)


def test_cli_ops_flag(tmp_path):
    path = tmp_path / "erf.toml"
    path.write_text(SPEC)
    out = tmp_path / "erf_grad.py"
    done = _cli("compile", str(path), "--ops", "tests.test_custom_ops", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert "def erf_impl" in out.read_text()
    assert _cli("check", str(path), "--ops", "tests.test_custom_ops").returncode == 0
    shown = _cli("show", str(path), "--ops", "tests.test_custom_ops", "--of", "loss")
    assert "user_erf(" in shown.stdout
    missing = _cli("compile", str(path), "--ops", "no_such_module_here")
    assert missing.returncode == 2 and "no_such_module_here" in missing.stderr
    empty = _cli("compile", str(path), "--ops", "tests.fd")
    assert empty.returncode == 2 and "tests.fd" in empty.stderr and "no op" in empty.stderr
    without = _cli("compile", str(path))
    assert without.returncode == 2 and "unknown function user_erf" in without.stderr


# -- definitions refused when they are made -------------------------------------------------------

def _closure_impl():
    scale = 2.0

    def impl(x):
        return x * scale

    return impl


def impl_using_pytest(x):
    return x + pytest.approx(0).expected


def identity_vjp(g, x, out):
    return g


@pytest.mark.parametrize("impl, why", [
    (lambda x: x, "it is a lambda"),
    (_closure_impl(), "closure"),
    (math.erf, "not a Python function"),
    (impl_using_pytest, "module 'pytest'"),
])
def test_impl_that_codegen_cannot_copy(impl, why):
    with pytest.raises(OpDefinitionError, match=why):
        sd.define_op("bad_impl", impl, vjp=identity_vjp)


def test_a_lambda_impl_is_fine_with_a_lowering_of_its_own():
    from symdiff.ops.lowering import A0, Call

    def lower(x, out):
        return Call("np.sinh", (A0,), out=True)

    def sinh_vjp(g, x, out):
        return g * (sd.exp(x) + sd.exp(-x)) / 2

    user_sinh = sd.define_op("user_sinh", lambda x: np.sinh(x), vjp=sinh_vjp, lower=lower)
    x = sd.var("x", (2,))
    for target in TARGETS:  # (the op is defined once per session: no target fixture)
        f = sd.function([x], sd.grad(sd.sum(user_sinh(x)), x), target=target)
        np.testing.assert_allclose(f(np.array([0.1, 2.0])), np.cosh([0.1, 2.0]), rtol=1e-15)


def test_other_bad_definitions():
    with pytest.raises(OpDefinitionError, match="already defined"):
        sd.define_op("user_erf", erf_impl, vjp=erf_vjp)
    with pytest.raises(OpDefinitionError, match="already defined"):
        sd.define_op("exp", erf_impl, vjp=erf_vjp)
    with pytest.raises(OpDefinitionError, match="2 rule.*1 operand"):
        sd.define_op("two_rules", erf_impl, vjp=[erf_vjp, erf_vjp])
    with pytest.raises(OpDefinitionError, match="identifier"):
        sd.define_op("not a name", erf_impl, vjp=erf_vjp)
    with pytest.raises(OpDefinitionError, match="jvp="):
        sd.define_op("shaped", erf_impl, vjp=erf_vjp, shape=lambda x: x.shape)


def test_non_elementwise_user_op_with_static_attribute():
    """A user's op with a shape rule, a static attribute, its own JVP and a batch rule."""

    def rowsum_vjp(g, x, out, scale=1.0):
        return sd.broadcast_to(sd.expand_dims(g, 1), x.shape) * scale

    def rowsum_jvp(t, x, out, scale=1.0):
        return sd.sum(t, axis=1) * scale

    rowsum = sd.define_op("user_rowsum", scaled_rowsum, vjp=rowsum_vjp, jvp=rowsum_jvp,
                          shape=lambda x, scale=1.0: x.shape[:1])
    x = sd.var("x", (3, 4))
    y = rowsum(x, scale=2.0)
    xv = np.arange(12.0).reshape(3, 4)
    np.testing.assert_allclose(sd.evaluate(y, {x: xv}), 2 * xv.sum(1))
    check_grads(sd.sum(sd.sin(y)), [x], {x: xv / 10}, np.random.default_rng(0), order=2)
    for target in TARGETS:  # (the op is defined once per session: no target fixture)
        f = sd.function([x], [y, sd.grad(sd.sum(y ** 2), x)], target=target)
        np.testing.assert_allclose(f(xv)[0], 2 * xv.sum(1))
    hessian = sd.evaluate(sd.hessian(sd.sum(y ** 2), x), {x: xv})  # 8 on each row's block
    want = 8 * np.einsum("ij,kl->ikjl", np.eye(3), np.ones((4, 4)))
    np.testing.assert_allclose(hessian, want)


def scaled_rowsum(x, scale=1.0):
    return x.sum(axis=1) * scale


# -- stop_gradient ---------------------------------------------------------------------------------

def test_stop_gradient_has_zero_derivative_of_every_order(target):
    x = sd.var("x", (3,))
    xv = np.array([0.5, -1.0, 2.0])
    y = sd.sum(sd.stop_gradient(x) * sd.sin(x))  # d/dx = x * cos(x), not sin + x cos
    np.testing.assert_allclose(sd.evaluate(sd.grad(y, x), {x: xv}), xv * np.cos(xv))
    np.testing.assert_allclose(sd.evaluate(sd.hessian(y, x), {x: xv}), np.diag(-xv * np.sin(xv)),
                               atol=1e-15)
    np.testing.assert_allclose(sd.evaluate(sd.jvp(sd.stop_gradient(x), x, xv), {x: xv}), 0)
    assert np.all(sd.evaluate(sd.derivative(sd.stop_gradient(x * x), x, 2), {x: xv}) == 0)
    f = sd.function([x], [y, sd.grad(y, x)], target=target)
    np.testing.assert_allclose(f(xv)[1], xv * np.cos(xv))
    blocked = sd.grad(sd.sum(sd.stop_gradient(x) ** 2), x)
    assert np.all(sd.evaluate(blocked, {x: xv}) == 0)
