"""Convolution and pooling beyond the op table: the course's back-propagation rules for one
conv layer written out by hand, a small CNN's gradient and Hessian-vector product against
finite differences, the generated module, JAX as an independent oracle, the build-time
errors, and the pooling tie rule."""

from __future__ import annotations

import re
import sys

import numpy as np
import pytest

import symdiff as sd
from tests.fd import check_grads, numerical_jvp


def _raises(*fragments: str):
    return pytest.raises(sd.ShapeError,
                         match="(?s)" + "".join(f"(?=.*{re.escape(f)})" for f in fragments))


def test_one_conv_layer_matches_the_hand_written_backprop(rng):
    """L = sum(relu(conv(x, W) + b) * T): delta = T * [z > 0]; dL/dW[o, c, i, j] is the sum
    over batch and positions of delta[n, o, p, q] * x[n, c, p + i, q + j]; dL/db the sum of
    delta; dL/dx the 'full' correlation of delta with the flipped kernel."""
    x_v = rng.standard_normal((2, 3, 6, 5))
    w_v = rng.standard_normal((4, 3, 3, 2))
    b_v = rng.standard_normal(4)
    t_v = rng.standard_normal((2, 4, 4, 4))
    x, w, b, t = sd.var("x", x_v.shape), sd.var("W", w_v.shape), sd.var("b", (4,)), \
        sd.var("T", t_v.shape)
    z = sd.conv2d(x, w) + b[:, None, None]
    loss = sd.sum(sd.relu(z) * t)
    gx, gw, gb = sd.evaluate(sd.grad(loss, [x, w, b]), {x: x_v, w: w_v, b: b_v, t: t_v})

    zv = np.zeros((2, 4, 4, 4))
    for p in range(4):
        for q in range(4):
            zv[:, :, p, q] = np.einsum("ncij,ocij->no", x_v[:, :, p:p + 3, q:q + 2], w_v)
    zv += b_v[:, None, None]
    delta = t_v * (zv > 0)
    want_w = np.zeros_like(w_v)
    for i in range(3):
        for j in range(2):
            want_w[:, :, i, j] = np.einsum("nopq,ncpq->oc", delta, x_v[:, :, i:i + 4, j:j + 4])
    padded = np.pad(delta, ((0, 0), (0, 0), (2, 2), (1, 1)))
    flipped = w_v[:, :, ::-1, ::-1]
    want_x = np.zeros_like(x_v)
    for p in range(6):
        for q in range(5):
            want_x[:, :, p, q] = np.einsum("noij,ocij->nc", padded[:, :, p:p + 3, q:q + 2],
                                           flipped)
    np.testing.assert_allclose(gw, want_w, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gb, delta.sum(axis=(0, 2, 3)), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gx, want_x, rtol=1e-10, atol=1e-12)


def _small_cnn():
    x = sd.var("x", ("n", 1, 6, 6))
    w1 = sd.var("w1", (3, 1, 3, 3))
    w2 = sd.var("w2", (3 * 2 * 2, 4))
    labels = sd.var("y", ("n",), "int64")
    h = sd.max_pool2d(sd.tanh(sd.conv2d(x, w1, padding=1)), 3)
    logits = sd.reshape(h, (-1, 12)) @ w2
    loss = -sd.mean(sd.take_along_axis(sd.log_softmax(logits, -1), labels[:, None], 1))
    return x, w1, w2, labels, loss


def test_cnn_loss_gradient_and_hvp_against_differences(rng):
    x, w1, w2, labels, loss = _small_cnn()
    point = {x: rng.standard_normal((3, 1, 6, 6)), w1: rng.standard_normal((3, 1, 3, 3)),
             w2: rng.standard_normal((12, 4)), labels: rng.integers(0, 4, 3)}
    check_grads(loss, [w1, w2], point, rng, order=2, rtol=1e-5)
    v = rng.standard_normal((3, 1, 3, 3))
    got = sd.evaluate(sd.hvp(loss, w1, sd.const(v)), point)
    grad = sd.grad(loss, w1)
    want = numerical_jvp(lambda p: sd.evaluate(grad, p), point, {w1: v})
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


def test_hessian_through_strided_conv_and_padded_pool(rng, target):
    """sd.hessian batches the graph (unfold's and fold's batching rules): the whole Hessian
    of a strided, padded conv and max pool, against differences of the gradient, and the
    generated code against the interpreter."""
    x, w = sd.var("x", (2, 2, 5, 5)), sd.var("w", (3, 2, 3, 3))
    y = sd.sum(sd.tanh(sd.max_pool2d(sd.conv2d(x, w, padding=1, stride=2), 2, padding=1)))
    point = {x: rng.standard_normal((2, 2, 5, 5)), w: rng.standard_normal((3, 2, 3, 3))}
    hessian = sd.evaluate(sd.hessian(y, w), point)
    t = rng.standard_normal((3, 2, 3, 3))
    grad = sd.grad(y, w)
    want = numerical_jvp(lambda p: sd.evaluate(grad, p), point, {w: t}, 1e-5)
    np.testing.assert_allclose(np.tensordot(hessian, t, 4), want, rtol=1e-7, atol=1e-9)
    generated = sd.function([x, w], sd.hessian(y, w), target=target)
    np.testing.assert_allclose(generated(point[x], point[w]), hessian, rtol=1e-12,
                               atol=1e-13)

def test_generated_cnn_module_imports_only_numpy_and_its_target(rng, target):
    x, w1, w2, labels, loss = _small_cnn()
    f = sd.function([x, w1, w2, labels], [loss, *sd.grad(loss, [w1, w2])], target=target)
    imports = {line.split()[1] for line in f.source.splitlines()
               if line.startswith(("import ", "from "))}
    allowed = {"numpy", "numba"} if target == "numba" else {"numpy"}
    assert all(m in allowed or m in sys.stdlib_module_names for m in imports), imports
    point = {x: rng.standard_normal((5, 1, 6, 6)), w1: rng.standard_normal((3, 1, 3, 3)),
             w2: rng.standard_normal((12, 4)), labels: rng.integers(0, 4, 5)}
    got = f(*point.values())
    want = sd.evaluate([loss, *sd.grad(loss, [w1, w2])], point)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kw", [{}, {"stride": 2, "padding": 1}, {"dilation": (2, 1),
                                                                  "groups": 2},
                                {"padding": "same"}])
def test_conv2d_and_its_gradients_agree_with_jax(rng, kw):
    jax = pytest.importorskip("jax", reason="JAX is the independent convolution oracle")
    jax.config.update("jax_enable_x64", True)
    x_v, w_v = rng.standard_normal((2, 4, 7, 6)), rng.standard_normal((6, 2 if kw.get("groups")
                                                                        else 4, 3, 3))
    x, w = sd.var("x", x_v.shape), sd.var("w", w_v.shape)
    y = sd.conv2d(x, w, **kw)
    loss = sd.sum(sd.sin(y))
    got = sd.evaluate([y, *sd.grad(loss, [x, w])], {x: x_v, w: w_v})

    def conv(a, b):
        stride = kw.get("stride", 1)
        padding = kw.get("padding", 0)
        pad = "SAME" if padding == "same" else [(padding, padding)] * 2
        dilation = kw.get("dilation", 1)
        return jax.lax.conv_general_dilated(
            a, b, (stride, stride), pad,
            rhs_dilation=dilation if isinstance(dilation, tuple) else (dilation,) * 2,
            feature_group_count=kw.get("groups", 1))

    want_y = conv(x_v, w_v)
    want_gx, want_gw = jax.grad(lambda a, b: jax.numpy.sum(jax.numpy.sin(conv(a, b))),
                                (0, 1))(x_v, w_v)
    for a, b in zip(got, [want_y, want_gx, want_gw], strict=True):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-10, atol=1e-10)


def test_conv1d_is_conv2d_over_a_unit_axis(rng):
    x_v, w_v = rng.standard_normal((2, 3, 9)), rng.standard_normal((4, 3, 3))
    x, w = sd.var("x", x_v.shape), sd.var("w", w_v.shape)
    one = sd.conv1d(x, w, stride=2, padding=2, dilation=2)
    two = sd.conv2d(x[:, :, None, :], w[:, :, None, :], stride=(1, 2), padding=(0, 2),
                    dilation=(1, 2))[:, :, 0, :]
    a, b = sd.evaluate([one, two], {x: x_v, w: w_v})
    np.testing.assert_allclose(a, b, rtol=1e-12)


# -- errors at graph-building time ------------------------------------------------------------

def test_channel_mismatch_names_both_shapes():
    x, w = sd.var("x", (2, 3, 8, 8)), sd.var("w", (4, 2, 3, 3))
    with _raises("conv2d", "3 channels", "x (2, 3, 8, 8)", "w (4, 2, 3, 3)"):
        sd.conv2d(x, w)
    with _raises("conv2d", "groups=2", "x (2, 3, 8, 8)", "w (4, 2, 3, 3)"):
        sd.conv2d(x, w, groups=2)


def test_kernel_larger_than_padded_input():
    x, w = sd.var("x", (2, 3, 4, 4)), sd.var("w", (4, 3, 5, 5))
    with _raises("conv2d", "kernel spans (5, 5)", "(4, 4)", "x (2, 3, 4, 4)", "w (4, 3, 5, 5)"):
        sd.conv2d(x, w)
    sd.conv2d(x, w, padding=1)  # fits once padded
    with _raises("conv1d", "kernel spans (7,)", "v (1, 1, 4)", "k (1, 1, 3)"):
        sd.conv1d(sd.var("v", (1, 1, 4)), sd.var("k", (1, 1, 3)), dilation=3)
    with _raises("max_pool2d", "kernel spans (5, 5)"):
        sd.max_pool2d(x, 5)


@pytest.mark.parametrize("kw, words", [({"stride": 0}, "stride must be at least 1"),
                                       ({"dilation": (1, 0)}, "dilation must be at least 1"),
                                       ({"padding": "full"}, "unknown padding 'full'"),
                                       ({"padding": "same", "stride": 2}, "stride 1"),
                                       ({"padding": -1}, "non-negative"),
                                       ({"groups": 0}, "groups")])
def test_bad_arguments_name_both_operands(kw, words):
    x, w = sd.var("x", (2, 4, 8, 8)), sd.var("w", (4, 4, 3, 3))
    with _raises("conv2d", words, "x (2, 4, 8, 8)", "w (4, 4, 3, 3)"):
        sd.conv2d(x, w, **kw)


def test_rank_and_dtype_are_checked():
    with _raises("conv2d", "rank 4"):
        sd.conv2d(sd.var("x", (3, 8, 8)), sd.var("w", (4, 3, 3, 3)))
    with pytest.raises(sd.ShapeError, match="float"):
        sd.conv1d(sd.var("x", (1, 2, 5), "int64"), sd.var("w", (1, 2, 3)))


# -- pooling -------------------------------------------------------------------------------

def test_max_pool_ties_share_the_derivative_evenly():
    x = sd.var("x", (1, 1, 2, 4))
    value = np.array([[[[1.0, 1.0, 0.0, 2.0], [0.0, 1.0, 2.0, 2.0]]]])
    g = sd.evaluate(sd.grad(sd.sum(sd.max_pool2d(x, 2)), x), {x: value})
    np.testing.assert_allclose(g, [[[[1 / 3, 1 / 3, 0, 1 / 3], [0, 1 / 3, 1 / 3, 1 / 3]]]])


def test_max_pool_padding_never_wins(rng):
    x = sd.var("x", (1, 2, 3, 3))
    value = -10 - rng.random((1, 2, 3, 3))  # every element below the zero a 0-pad would be
    y = sd.evaluate(sd.max_pool2d(x, 2, stride=2, padding=1), {x: value})
    assert np.all(y < -9)
    assert y.shape == (1, 2, 2, 2)


def test_specs_call_conv1d_avg_pool2d_and_layer_norm_with_their_keywords(tmp_path, rng):
    path = tmp_path / "ops.toml"
    path.write_text('''name = "ops"
[inputs]
x = { shape = ["n", 2, 9] }
img = { shape = ["n", 2, 6, 6] }
[params]
w = { shape = [4, 1, 3] }
[define]
y = "conv1d(x, w, stride=1, padding='same', dilation=2, groups=2)"
pooled = "avg_pool2d(img, (3, 2), stride=(3, 2), padding=(1, 0))"
loss = "sum(layer_norm(y, axis=-1, eps=0.001) * y) + sum(pooled)"
[outputs]
pooled = "pooled"
[derivatives]
loss_grad = { of = "loss", wrt = "w" }
''')
    module = sd.spec_module(path)
    x_v, img_v, w_v = (rng.standard_normal((3, 2, 9)), rng.standard_normal((3, 2, 6, 6)),
                       rng.standard_normal((4, 1, 3)))
    x, w = sd.var("x", (3, 2, 9)), sd.var("w", (4, 1, 3))
    y = sd.conv1d(x, w, padding="same", dilation=2, groups=2)
    want = sd.evaluate(sd.grad(sd.sum(sd.layer_norm(y, eps=0.001) * y), w), {x: x_v, w: w_v})
    np.testing.assert_allclose(module.loss_grad(x=x_v, img=img_v, w=w_v), want, rtol=1e-12)
    img = sd.var("img", (3, 2, 6, 6))
    pooled = sd.evaluate(sd.avg_pool2d(img, (3, 2), (3, 2), (1, 0)), {img: img_v})
    np.testing.assert_allclose(module.pooled(img=img_v), pooled, rtol=1e-12)
