"""sd.scan: values, derivatives (against finite differences and against the same loop
unrolled by hand in symdiff, an independent graph), second derivatives, checkpointing,
generated code against the interpreter, and the build-time errors."""

from __future__ import annotations

import numpy as np
import pytest
from fd import assert_close, check_grads

import symdiff as sd

STEPS, UNITS, INPUTS = 5, 3, 2


@pytest.fixture
def rnn():
    """An Elman tanh RNN: its variables, a point, and builders for the scan-based and the
    unrolled loss (mean of the squared outputs plus the final state)."""
    rng = np.random.default_rng(7)
    W = sd.var("W", (INPUTS, UNITS))
    U = sd.var("U", (UNITS, UNITS))
    b = sd.var("b", (UNITS,))
    xs = sd.var("xs", (STEPS, INPUTS))
    h0 = sd.var("h0", (UNITS,))
    point = {W: rng.standard_normal((INPUTS, UNITS)) * 0.5,
             U: rng.standard_normal((UNITS, UNITS)) * 0.5,
             b: rng.standard_normal(UNITS) * 0.5,
             xs: rng.standard_normal((STEPS, INPUTS)),
             h0: rng.standard_normal(UNITS) * 0.5}

    def cell(h, x):
        return sd.tanh(x @ W + h @ U + b)

    def scanned(checkpoint=None):
        def step(h, x):
            h = cell(h, x)
            return h, sd.sum(h * h)
        hT, ys = sd.scan(step, h0, xs, checkpoint=checkpoint)
        return sd.sum(ys * np.arange(1.0, STEPS + 1)) + sd.sum(hT)

    def unrolled():
        h, total = h0, 0.0
        for t in range(STEPS):
            h = cell(h, xs[t])
            total = total + (t + 1.0) * sd.sum(h * h)
        return total + sd.sum(h)

    return (W, U, b, xs, h0), point, scanned, unrolled


def _same(a, b, what):
    for x, y in zip(a, b, strict=True):
        assert_close(x, y, 1e-10, what)


def test_value_and_gradient_match_the_unrolled_loop(rnn):
    wrt, point, scanned, unrolled = rnn
    a = sd.evaluate([scanned()] + sd.grad(scanned(), list(wrt)), point)
    b = sd.evaluate([unrolled()] + sd.grad(unrolled(), list(wrt)), point)
    _same(a, b, "scan vs unrolled")


def test_gradients_against_finite_differences(rnn):
    wrt, point, scanned, _ = rnn
    check_grads(scanned(), list(wrt), point, np.random.default_rng(1))


def test_second_derivatives_against_finite_differences(rnn):
    (W, U, b, xs, h0), point, scanned, _ = rnn
    check_grads(scanned(), [U, xs], point, np.random.default_rng(2), order=2)


@pytest.mark.parametrize("checkpoint", [1, 2, 3, 5, 7])
def test_checkpointed_gradient_and_hvp_match_the_unrolled_loop(rnn, checkpoint):
    wrt, point, scanned, unrolled = rnn
    v = sd.const(np.random.default_rng(3).standard_normal((UNITS, UNITS)))
    U = wrt[1]
    a = sd.evaluate(sd.grad(scanned(checkpoint), list(wrt)) + [sd.hvp(scanned(checkpoint),
                                                                      U, v)], point)
    b = sd.evaluate(sd.grad(unrolled(), list(wrt)) + [sd.hvp(unrolled(), U, v)], point)
    _same(a, b, f"checkpoint={checkpoint}")


def test_hessian_jacobian_and_hvp_match_the_unrolled_loop(rnn):
    (W, U, b, xs, h0), point, scanned, unrolled = rnn
    v = sd.const(np.random.default_rng(4).standard_normal(UNITS))
    for build in (lambda f: sd.hessian(f, b), lambda f: sd.hessian(f, b, mode="rev"),
                  lambda f: sd.hvp(f, b, v), lambda f: sd.jacobian(sd.grad(f, h0), W)):
        _same(sd.evaluate([build(scanned())], point), sd.evaluate([build(unrolled())], point),
              "second order")


def test_reverse_over_reverse_matches_the_unrolled_loop(rnn):
    (W, U, b, xs, h0), point, scanned, unrolled = rnn

    def gg(f):
        return sd.grad(sd.sum(sd.grad(f, U) ** 2), [W, U, xs])

    _same(sd.evaluate(gg(scanned()), point), sd.evaluate(gg(unrolled()), point), "grad grad")


@pytest.mark.parametrize("checkpoint", [None, 2])
def test_generated_code_matches_the_interpreter(rnn, checkpoint, target):
    wrt, point, scanned, _ = rnn
    outs = [scanned(checkpoint)] + sd.grad(scanned(checkpoint), list(wrt))
    f = sd.function(list(wrt), outs, target=target)
    _same(f(*[point[v] for v in wrt]), sd.evaluate(outs, point), "codegen")
    assert "for t in range(steps):" in f.source and "for t in range(steps - 1, -1, -1):" \
        in f.source
    hess = sd.hessian(scanned(checkpoint), wrt[2])
    g = sd.function(list(wrt), hess, target=target)
    _same([g(*[point[v] for v in wrt])], [sd.evaluate(hess, point)], "codegen hessian")


def test_cotangent_of_the_final_carry_only_and_of_ys_only(rnn):
    (W, U, b, xs, h0), point, _, _ = rnn

    def step(h, x):
        h = sd.tanh(x @ W + h @ U + b)
        return h, h

    hT, ys = sd.scan(step, h0, xs)
    h = h0
    hs = []
    for t in range(STEPS):
        h = sd.tanh(xs[t] @ W + h @ U + b)
        hs.append(h)
    for mine, ref in ((sd.sum(hT), sd.sum(h)), (sd.sum(ys), sd.sum(sd.stack(hs)))):
        _same(sd.evaluate(sd.grad(mine, [W, U, xs, h0]), point),
              sd.evaluate(sd.grad(ref, [W, U, xs, h0]), point), "partial cotangent")


def test_zero_length_sequence(target):
    h0 = sd.var("h0", (3,))
    xs = sd.var("xs", (0, 3))
    w = sd.var("w", (3,))
    hT, ys = sd.scan(lambda h, x: (h * w + x, sd.sum(h)), h0, xs)
    loss = sd.sum(hT) + sd.sum(ys)
    point = {h0: np.arange(3.0), xs: np.zeros((0, 3)), w: np.ones(3)}
    value, g_h0, g_w, y = sd.evaluate([loss] + sd.grad(loss, [h0, w]) + [ys], point)
    assert value == 3.0 and y.shape == (0,)
    np.testing.assert_array_equal(g_h0, np.ones(3))
    np.testing.assert_array_equal(g_w, np.zeros(3))
    f = sd.function([h0, xs, w], [hT, ys] + sd.grad(loss, [h0, w]), target=target)
    out = f(point[h0], point[xs], point[w])
    np.testing.assert_array_equal(out[0], np.arange(3.0))
    assert out[1].shape == (0,)
    assert not np.shares_memory(out[0], point[h0])


def test_carry_tuple_and_several_sequences():
    rng = np.random.default_rng(5)
    a0, b0 = sd.var("a0", (2,)), sd.var("b0", ())
    xs, zs = sd.var("xs", (4, 2)), sd.var("zs", (4,))
    k = sd.var("k", (2,))

    def step(carry, inputs):
        a, s = carry
        x, z = inputs
        a = sd.sin(a * k + x) * z
        return (a, s + sd.sum(a)), (a, s * z)

    (aT, sT), (ys1, ys2) = sd.scan(step, (a0, b0), (xs, zs))
    loss = sd.sum(aT) + sT + sd.sum(ys1 ** 2) + sd.sum(ys2)
    point = {a0: rng.standard_normal(2), b0: np.array(0.3), xs: rng.standard_normal((4, 2)),
             zs: rng.standard_normal(4), k: rng.standard_normal(2)}
    check_grads(loss, [a0, b0, xs, zs, k], point, rng)
    a, s, r1, r2 = a0, b0, [], []
    for t in range(4):
        a = sd.sin(a * k + xs[t]) * zs[t]
        r1.append(a)
        r2.append(s * zs[t])
        s = s + sd.sum(a)
    ref = sd.sum(a) + s + sd.sum(sd.stack(r1) ** 2) + sd.sum(sd.stack(r2))
    _same(sd.evaluate([loss] + sd.grad(loss, [a0, k]), point),
          sd.evaluate([ref] + sd.grad(ref, [a0, k]), point), "tuple carry")


def test_body_ignoring_x_and_scan_by_length():
    c0 = sd.var("c0", (2,))
    m = sd.var("m", (2, 2))
    xs = sd.var("xs", (3, 5))
    cT, ys = sd.scan(lambda c, x: (sd.tanh(c @ m), None), c0, xs)
    cL, _ = sd.scan(lambda c, x: (sd.tanh(c @ m), None), c0, length=3)
    assert ys is None
    rng = np.random.default_rng(6)
    point = {c0: rng.standard_normal(2), m: rng.standard_normal((2, 2)),
             xs: rng.standard_normal((3, 5))}
    ref = c0
    for _ in range(3):
        ref = sd.tanh(ref @ m)
    _same(sd.evaluate([cT, cL, sd.grad(sd.sum(cT), m)], point),
          sd.evaluate([ref, ref, sd.grad(sd.sum(ref), m)], point), "body ignores x")
    check_grads(sd.sum(cL), [c0, m], point, rng)


def test_symbolic_length_and_batch(target):
    h0 = sd.var("h0", ("n", 3))
    xs = sd.var("xs", ("T", "n", 3))
    u = sd.var("u", (3, 3))
    hT, ys = sd.scan(lambda h, x: (sd.tanh(h @ u + x), sd.sum(h, axis=1)), h0, xs)
    assert ys.shape == ("T", "n")
    loss = sd.sum(hT) + sd.sum(ys)
    rng = np.random.default_rng(8)
    point = {h0: rng.standard_normal((4, 3)), xs: rng.standard_normal((6, 4, 3)),
             u: rng.standard_normal((3, 3)) * 0.5}
    outs = [loss] + sd.grad(loss, [h0, xs, u])
    f = sd.function([h0, xs, u], outs, target=target)
    _same(f(point[h0], point[xs], point[u]), sd.evaluate(outs, point), "symbolic dims")
    check_grads(loss, [h0, u], point, rng)


def test_reverse_scan():
    xs = sd.var("xs", (4,))
    c, ys = sd.scan(lambda c, x: (c * 0.5 + x, c), sd.const(0.0), xs, reverse=True)
    value = sd.evaluate([c, ys], {xs: np.array([1.0, 2.0, 3.0, 4.0])})
    assert value[0] == 1.0 + 0.5 * (2.0 + 0.5 * (3.0 + 0.5 * 4.0))
    np.testing.assert_array_equal(value[1], [2.0 + 0.5 * (3.0 + 0.5 * 4.0), 3.0 + 2.0, 4.0,
                                             0.0])


# -- errors -----------------------------------------------------------------------------------

def test_carry_changing_shape_names_both():
    h0 = sd.var("h0", (3,))
    xs = sd.var("xs", (4, 3))
    with pytest.raises(sd.ShapeError, match=r"init h0 is float64 \(3,\).*returns .* \(\)"):
        sd.scan(lambda h, x: (sd.sum(h * x), x), h0, xs)


def test_carry_changing_dtype_names_both():
    h0 = sd.var("h0", (3,), "float32")
    xs = sd.var("xs", (4, 3))
    with pytest.raises(sd.ShapeError, match=r"init h0 is float32.*float64"):
        sd.scan(lambda h, x: (h + x, x), h0, xs)


def test_sequences_of_different_lengths():
    with pytest.raises(sd.ShapeError, match=r"different lengths.*a \(4, 2\), b \(5,\)"):
        sd.scan(lambda c, x: (c, x[0]), sd.const(0.0), (sd.var("a", (4, 2)), sd.var("b", (5,))))


def test_length_disagreeing_with_the_sequences_and_no_length():
    with pytest.raises(sd.ShapeError, match="length=3 but the sequences have length 4"):
        sd.scan(lambda c, x: (c, x), sd.const(0.0), sd.var("a", (4,)), length=3)
    with pytest.raises(sd.ShapeError, match="give xs or length"):
        sd.scan(lambda c, x: (c, None), sd.const(0.0))


@pytest.mark.parametrize("bad", [lambda c, x: c, lambda c, x: (c,), lambda c, x: (c, x, x),
                                 lambda c, x: [c]])
def test_body_must_return_a_pair(bad):
    with pytest.raises(sd.ShapeError, match=r"must return a pair \(carry, y\)"):
        sd.scan(bad, sd.var("c", (2,)), sd.var("xs", (3, 2)))


def test_bad_checkpoint():
    with pytest.raises(sd.ShapeError, match="checkpoint must be a positive int"):
        sd.scan(lambda c, x: (c + x, None), sd.var("c", ()), sd.var("xs", (3,)), checkpoint=0)
    with pytest.raises(sd.ShapeError, match="forward loops only"):
        sd.scan(lambda c, x: (c + x, None), sd.var("c", ()), sd.var("xs", (3,)), checkpoint=2,
                reverse=True)
    with pytest.raises(sd.ShapeError, match="checkpoint needs an int length"):
        sd.scan(lambda c, x: (c + x, None), sd.var("c", ()), sd.var("xs", ("T",)),
                checkpoint=2)


def test_closed_over_parameters_are_operands_of_the_scan(rnn):
    (W, U, b, xs, h0), point, scanned, _ = rnn
    loss = scanned()
    scans = [n for n in sd.graph.topo_order([loss]) if n.op is not None and n.op.name == "scan"]
    assert scans and {W, U, b} <= set(scans[0].inputs)


@pytest.mark.parametrize("checkpoint", [None, 2, 3])
def test_y_is_the_old_carry_with_checkpoints(checkpoint):
    """ys that are the carry itself (not a new value): stored as ys, not twice; the
    forward-over-reverse derivative through checkpointed segments still matches."""
    rng = np.random.default_rng(9)
    h0, xs, u = sd.var("h0", (2,)), sd.var("xs", (5, 2)), sd.var("u", (2, 2))
    _, hs = sd.scan(lambda h, x: (sd.tanh(h @ u + x), h), h0, xs, checkpoint=checkpoint)
    loss = sd.sum(sd.sin(hs))
    h, parts = h0, []
    for t in range(5):
        parts.append(h)
        h = sd.tanh(h @ u + xs[t])
    ref = sd.sum(sd.sin(sd.stack(parts)))
    point = {h0: rng.standard_normal(2), xs: rng.standard_normal((5, 2)),
             u: rng.standard_normal((2, 2)) * 0.5}
    v = sd.const(rng.standard_normal((2, 2)))
    _same(sd.evaluate(sd.grad(loss, [h0, xs, u]) + [sd.hvp(loss, u, v)], point),
          sd.evaluate(sd.grad(ref, [h0, xs, u]) + [sd.hvp(ref, u, v)], point), "old carry")


# -- specs ----------------------------------------------------------------------------------

SPEC = """
name = "loop"
[inputs]
X = {{ shape = ["T", 2] }}
[params]
u = {{ shape = [2, 2] }}
h0 = {{ shape = [2] }}
[scan.rnn]
{table}
[define]
loss = "sum(H ** 2) + sum(h_last)"
[outputs]
loss = "loss"
[derivatives]
loss_grad = {{ of = "loss", wrt = ["u", "h0"] }}
"""

GOOD = """carry = { h = "h0" }
xs = { x = "X" }
body = { h = "tanh(h @ u + x)" }
ys = { H = "h" }
final = { h_last = "h" }"""


def test_spec_scan_compiles_and_matches_the_api():
    from symdiff.spec import loads_spec

    spec = loads_spec(SPEC.format(table=GOOD))
    X, u, h0 = spec.inputs["X"], spec.params["u"], spec.params["h0"]
    hT, H = sd.scan(lambda h, x: (sd.tanh(h @ u + x), sd.tanh(h @ u + x)), h0, X)
    ref = sd.sum(H ** 2) + sd.sum(hT)
    rng = np.random.default_rng(10)
    point = {X: rng.standard_normal((4, 2)), u: rng.standard_normal((2, 2)),
             h0: rng.standard_normal(2)}
    module = sd.spec_module(spec)
    got = module.loss_grad(X=point[X], u=point[u], h0=point[h0])
    _same(got, sd.evaluate(sd.grad(ref, [u, h0]), point), "spec scan")


@pytest.mark.parametrize("table,message", [
    (GOOD.replace('body = { h = "tanh(h @ u + x)" }', 'body = { g = "h" }'),
     r"\[scan.rnn\] body.*never gives the next value of carry 'h'"),
    (GOOD.replace("tanh(h @ u + x)", "sum(h @ u + x)"),
     r"\[scan.rnn\] body.*carry changes type"),
    (GOOD.replace("tanh(h @ u + x)", "tanh(h @ u + y)"), r"\[scan.rnn\] body\.h.*'y'"),
    (GOOD + "\nlenght = 3", r"\[scan.rnn\] lenght.*unknown key"),
    (GOOD.replace('ys = { H = "h" }', 'ys = { H = "z" }'), r"\[scan.rnn\] ys.*'z'"),
    (GOOD.replace('final = { h_last = "h" }', 'final = { h_last = "x" }'),
     r"\[scan.rnn\] final.*not a carry"),
])
def test_spec_scan_errors_name_the_key(table, message):
    from symdiff.spec import loads_spec

    with pytest.raises(sd.SpecError, match=message):
        loads_spec(SPEC.format(table=table))


# -- inspection -------------------------------------------------------------------------------

def _small_loop():
    W, xs, h0 = sd.var("W", (3, 3)), sd.var("xs", (5, 3)), sd.var("h0", (3,))
    hT, ys = sd.scan(lambda h, x: (sd.tanh(h @ W + x), sd.sum(h)), h0, xs, name="rnn",
                     carry_names=["h"])
    return (W, xs, h0), sd.sum(ys) + sd.sum(hT)


def test_listing_shows_each_body_once_as_an_indented_block():
    (W, _, _), loss = _small_loop()
    text = sd.show(loss)
    assert text.count("loop rnn: 5 steps; carry (h), x (x)") == 1
    assert "    | %5    : float64[3]    = tanh(%4)" in text
    assert "    | -- next carry %5; ys %6 --" in text
    grad_text = sd.show(sd.grad(loss, W))
    assert "loop rnn_vjp: 5 steps from the last step" in grad_text
    # the reverse body's lines carry their provenance
    assert "= square(tanh_stored)" in grad_text and "via tanh.vjp[arg 0]" in grad_text


def test_dot_draws_each_body_as_a_cluster():
    pytest.importorskip("pydot", reason="to_dot needs pydot")
    (W, _, _), loss = _small_loop()
    dot = sd.to_dot(sd.grad(loss, W))
    assert dot.count("subgraph cluster_loop") == 2
    assert 'label="loop rnn_vjp: 5 steps from the last"' in dot
    assert 'label="final carry"' in dot and 'label="x[t]"' in dot


def test_stats_latex_and_pickling_pass_through_loops():
    import pickle

    (W, xs, h0), loss = _small_loop()
    g = sd.grad(loss, W)
    assert "scan" in str(sd.stats(g))
    assert r"\operatorname{scan}_{rnn\_vjp}" in sd.latex(g)
    rng = np.random.default_rng(11)
    point = {W: rng.standard_normal((3, 3)), xs: rng.standard_normal((5, 3)),
             h0: rng.standard_normal(3)}
    again = pickle.loads(pickle.dumps(g))
    np.testing.assert_array_equal(sd.evaluate(again, {v.name: point[v] for v in point}),
                                  sd.evaluate(g, point))


@pytest.mark.parametrize("checkpoint", [2, 3])
def test_reverse_over_reverse_through_checkpoints(rnn, checkpoint):
    (W, U, b, xs, h0), point, scanned, unrolled = rnn

    def gg(f):
        return sd.grad(sd.sum(sd.grad(f, U) ** 2), [W, U, xs, h0])

    _same(sd.evaluate(gg(scanned(checkpoint)), point), sd.evaluate(gg(unrolled()), point),
          "grad grad checkpoint")


def test_readme_loop_example_runs():
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    (block,) = [b for b in re.findall(r"^```python\n(.*?)^```", readme, flags=re.M | re.S)
                if b.startswith("# an Elman RNN")]
    scope: dict = {}
    exec(compile(block, "README.md", "exec"), scope)  # noqa: S102 - the README's own code
    assert scope["f"].source.count("for t in range") == 2


def test_int_carry_constant_y_and_no_carry(target):
    xs, w = sd.var("xs", (4, 2)), sd.var("w", (2,))

    def step(c, x):
        i, h = c
        return (i + 1, h * w + x * sd.astype(i, "float64")), sd.const(2.0)

    (i, h), ys = sd.scan(step, (sd.const(0), sd.const(np.zeros(2))), xs)
    point = {xs: np.arange(8.0).reshape(4, 2), w: np.array([0.5, 2.0])}
    loss = sd.sum(h) + sd.sum(ys)
    outs = [i, h, ys] + sd.grad(loss, [w, xs])
    f = sd.function([xs, w], outs, target=target)
    _same(f(point[xs], point[w]), sd.evaluate(outs, point), "int carry")
    assert sd.evaluate(i, point) == 4
    check_grads(loss, [w, xs], point, np.random.default_rng(12))
    _, ys2 = sd.scan(lambda c, x: (c, sd.sin(x) * w), (), xs)
    check_grads(sd.sum(ys2), [w, xs], point, np.random.default_rng(13))


def test_nested_loops_and_an_outer_expression_read_inside(target):
    """A scan in a scan's body, reading an outer expression (exp(w) / 2, made an operand
    of both loops): values, gradients, generated code, Hessian and grad of grad against
    the doubly unrolled loop."""
    rng = np.random.default_rng(14)
    xs, w, c0 = sd.var("xs", (3, 4, 2)), sd.var("w", (2,)), sd.var("c0", (2,))
    w2 = sd.exp(w) * 0.5

    def outer(c, x):
        inner, ys = sd.scan(lambda d, xx: (sd.tanh(d * w2 + xx), sd.sum(d)), c, x)
        return inner * w, ys

    cT, ys = sd.scan(outer, c0, xs)
    loss = sd.sum(cT) + sd.sum(ys ** 2)
    c, parts = c0, []
    for i in range(3):
        d, row = c, []
        for j in range(4):
            row.append(sd.sum(d))
            d = sd.tanh(d * w2 + xs[i, j])
        c = d * w
        parts.append(sd.stack(row))
    ref = sd.sum(c) + sd.sum(sd.stack(parts) ** 2)
    point = {xs: rng.standard_normal((3, 4, 2)), w: rng.standard_normal(2),
             c0: rng.standard_normal(2)}

    def derived(f):
        return [f] + sd.grad(f, [w, xs, c0]) + [sd.hessian(f, w),
                                                 sd.grad(sd.sum(sd.grad(f, w) ** 2), w)]

    mine = sd.evaluate(derived(loss), point)
    _same(mine, sd.evaluate(derived(ref), point), "nested")
    f = sd.function([xs, w, c0], derived(loss)[:4], target=target)
    _same(f(point[xs], point[w], point[c0]), mine[:4], "nested codegen")


def test_reverse_scan_derivatives(target):
    rng = np.random.default_rng(15)
    xs, u, c0 = sd.var("xs", (4, 2)), sd.var("u", (2, 2)), sd.var("c0", (2,))
    cT, ys = sd.scan(lambda c, x: (sd.tanh(c @ u + x), sd.sum(c * x)), c0, xs, reverse=True)
    loss = sd.sum(cT) + sd.sum(ys * np.arange(1.0, 5.0))
    point = {xs: rng.standard_normal((4, 2)), u: rng.standard_normal((2, 2)) * 0.5,
             c0: rng.standard_normal(2)}
    check_grads(loss, [xs, u, c0], point, rng, order=2)
    outs = [loss] + sd.grad(loss, [xs, u, c0])
    f = sd.function([xs, u, c0], outs, target=target)
    _same(f(point[xs], point[u], point[c0]), sd.evaluate(outs, point), "reverse codegen")
