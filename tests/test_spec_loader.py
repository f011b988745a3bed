"""Loading model specs: the contract of DESIGN.md ("Model spec") and one located SpecError
per kind of mistake."""

from __future__ import annotations

import numpy as np
import pytest

import symdiff as sd
from symdiff.spec import SpecError, load_spec, loads_spec

XOR = """\
name = "xor"
[inputs]
X = { shape = ["n", 2] }
y = { shape = ["n"] }
[params]
W = { shape = [2, 2] }
c = { shape = [2] }
w = { shape = [2] }
b = { shape = [] }
[define]
h = "relu(X @ W + c)"
yhat = "h @ w + b"
loss = "mean((yhat - y)**2)"
[outputs]
predict = "yhat"
loss = "loss"
[derivatives]
loss_grad = { of = "loss", wrt = ["W", "c", "w", "b"] }
loss_and_grad = { of = "loss", wrt = ["W", "c", "w", "b"], kind = "value_and_grad" }
loss_hess_w = { of = "loss", wrt = "w", kind = "hessian" }
loss_hvp_w = { of = "loss", wrt = "w", kind = "hvp" }
"""


@pytest.fixture(scope="module")
def xor():
    return loads_spec(XOR, file="xor.toml")


def arg_names(plan):
    return [a.name for a in plan.args]


def test_symbols_keep_declaration_order_and_shapes(xor):
    assert list(xor.inputs) == ["X", "y"]
    assert list(xor.params) == ["W", "c", "w", "b"]
    assert xor.inputs["X"].shape == ("n", 2) and xor.params["b"].shape == ()
    assert all(node.dtype == "float64" for node in xor.symbols.values())
    assert xor.name == "xor" and xor.path == "xor.toml"


def test_defines_are_named_nodes_built_with_the_api(xor):
    X, W, c = xor.inputs["X"], xor.params["W"], xor.params["c"]
    assert xor.defines["h"] is sd.relu(X @ W + c)
    assert [xor.defines[k].label for k in ("h", "yhat", "loss")] == ["h", "yhat", "loss"]


def test_output_arguments_are_the_symbols_used_inputs_first(xor):
    predict = xor.function("predict")
    assert arg_names(predict) == ["X", "W", "c", "w", "b"]  # y is not used by yhat
    assert predict.kind == "output" and predict.outputs is xor.defines["yhat"]


def test_derivative_arguments_are_those_of_the_expression_plus_wrt(xor):
    for name in ("loss_grad", "loss_and_grad", "loss_hess_w"):
        assert arg_names(xor.function(name)) == ["X", "y", "W", "c", "w", "b"]
    assert arg_names(xor.function("loss_hvp_w")) == ["X", "y", "W", "c", "w", "b", "v"]


def test_return_structures(xor):
    loss, params = xor.defines["loss"], list(xor.params.values())
    grads = xor.function("loss_grad").outputs
    assert isinstance(grads, tuple) and grads == tuple(sd.grad(loss, params))
    assert [g.shape for g in grads] == [(2, 2), (2,), (2,), ()]
    w = xor.params["w"]
    value, inner = xor.function("loss_and_grad").outputs
    assert value is loss and inner == grads
    assert xor.function("loss_hess_w").outputs.shape == (2, 2)
    hvp = xor.function("loss_hvp_w")
    assert hvp.outputs.shape == (2,) and hvp.v.shape == w.shape and hvp.v.name == "v"


def test_the_books_xor_solution(xor):
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    values = {"X": X, "W": np.ones((2, 2)), "c": np.array([0.0, -1.0]),
              "w": np.array([1.0, -2.0]), "b": 0.0, "y": np.array([0.0, 1.0, 1.0, 0.0])}
    yhat, loss = sd.evaluate([xor.defines["yhat"], xor.defines["loss"]], values)
    np.testing.assert_array_equal(yhat, [0.0, 1.0, 1.0, 0.0])
    assert loss == 0.0


def test_single_wrt_gives_one_node_and_unused_args_stay():
    spec = loads_spec("""
[inputs]
X = { shape = ["n", 3] }
k = { shape = ["n"], dtype = "int64" }
[params]
W = { shape = [3] }
V = { shape = [3] }
[derivatives]
g = { of = "sum(X @ V)", wrt = "W" }
""")
    plan = spec.function("g")
    assert isinstance(plan.outputs, sd.Node) and plan.outputs.shape == (3,)
    assert arg_names(plan) == ["X", "W", "V"]  # W unused by `of` but still an argument
    assert spec.inputs["k"].dtype == "int64"


def test_symbolic_dims_are_shared_across_symbols():
    spec = loads_spec('[inputs]\nA = { shape = ["n", "m"] }\nB = { shape = ["m"] }\n'
                      '[outputs]\nf = "A @ B"\n')
    assert spec.function("f").outputs.shape == ("n",)


def test_tuple_output():
    spec = loads_spec('[inputs]\nx = { shape = [2] }\n[outputs]\nf = "(exp(x), sum(x))"\n')
    out = spec.function("f").outputs
    assert isinstance(out, tuple) and [o.shape for o in out] == [(2,), ()]


def test_name_defaults_to_the_file_stem(tmp_path):
    path = tmp_path / "tiny_model.toml"
    path.write_text('[inputs]\nx = { shape = [] }\n[outputs]\nf = "x * 2"\n')
    assert load_spec(path).name == "tiny_model"


# -- errors: one row per mistake ------------------------------------------------------------

HEAD = """\
[inputs]
X = { shape = ["n", 2] }
y = { shape = ["n"] }
k = { shape = ["n"], dtype = "int64" }
[params]
W = { shape = [2, 3] }
w = { shape = [2] }
"""

# Each row: id, spec text, (section, key, line, column) expected, a message fragment.
ERRORS = [
    ("toml syntax", HEAD + "[define]\nh = relu(X)\n", (None, None, 9, 5),
     "TOML syntax error: Invalid value"),
    ("toml duplicate key", HEAD + "[define]\nh = \"X\"\nh = \"y\"\n", (None, None, 10, 8),
     "TOML syntax error: Cannot overwrite a value"),
    ("unknown top-level", HEAD + "[defines]\nh = \"X\"\n", ("", "defines", 8, None),
     "unknown top-level key 'defines'; did you mean 'define'?"),
    ("unknown name", HEAD + "[define]\nh = \"relu(X @ Wx)\"\n", ("define", "h", 9, 10),
     "unknown name 'Wx'; did you mean 'W'?"),
    ("unknown function", HEAD + "[define]\nh = \"rellu(X @ W)\"\n", ("define", "h", 9, 1),
     "unknown function rellu(); did you mean relu()?"),
    ("disallowed attribute", HEAD + "[define]\nh = \"X.__class__\"\n", ("define", "h", 9, 1),
     "attribute access .__class__ is not allowed"),
    ("disallowed lambda", HEAD + "[define]\nh = \"X @ (lambda: W)\"\n", ("define", "h", 9, 6),
     "a lambda is not allowed"),
    ("disallowed call", HEAD + "[define]\nh = \"open('x')\"\n", ("define", "h", 9, 1),
     "unknown function open()"),
    ("disallowed comprehension", HEAD + "[define]\nh = \"[x for x in X]\"\n",
     ("define", "h", 9, 1), "a list comprehension is not allowed"),
    ("string literal", HEAD + "[define]\nh = \"X + 'one'\"\n", ("define", "h", 9, 5),
     "a string literal is not allowed here"),
    ("shape mismatch", HEAD + "[define]\nh = \"relu(X @ W) + w\"\n", ("define", "h", 9, 13),
     "`relu(X @ W)` has shape (n, 3), `w` has shape (2,)"),
    ("shape mismatch in output", HEAD + "[outputs]\nf = \"X @ W @ w\"\n",
     ("outputs", "f", 9, 7), "contracted dims differ"),
    ("shape mismatch in of", HEAD + "[derivatives]\ng = { of = \"sum(X @ y)\", wrt = \"w\" }\n",
     ("derivatives", "g.of", 9, 7), "matmul"),
    ("cycle", HEAD + "[define]\na = \"b * 2\"\nb = \"exp(a)\"\n", ("define", "a", 9, 1),
     "[define] has a cycle: a -> b -> a"),
    ("self reference", HEAD + "[define]\na = \"X + a\"\n", ("define", "a", 9, 5),
     "[define] has a cycle: a -> a"),
    ("forward reference", HEAD + "[define]\na = \"X * b\"\nb = \"X + 1\"\n",
     ("define", "a", 9, 5), "'b' is used before it is defined"),
    ("wrt names nothing", HEAD + "[derivatives]\ng = { of = \"sum(X @ w)\", wrt = \"ww\" }\n",
     ("derivatives", "g.wrt", 9, None), "wrt names 'ww', which is not an input or param; "
     "did you mean 'w'?"),
    ("wrt names a define", HEAD + "[define]\nz = \"X @ w\"\n[derivatives]\n"
     "g = { of = \"sum(z)\", wrt = [\"w\", \"z\"] }\n", ("derivatives", "g.wrt", 11, None),
     "wrt names 'z', a [define] entry"),
    ("wrt integer input", HEAD + "[derivatives]\ng = { of = \"sum(X @ w)\", wrt = \"k\" }\n",
     ("derivatives", "g.wrt", 9, None), "wrt names 'k', which has dtype int64"),
    ("wrt empty", HEAD + "[derivatives]\ng = { of = \"sum(X @ w)\", wrt = [] }\n",
     ("derivatives", "g.wrt", 9, None), "wrt must be a symbol name or a non-empty list"),
    ("wrt twice", HEAD + "[derivatives]\ng = { of = \"sum(X @ w)\", wrt = [\"w\", \"w\"] }\n",
     ("derivatives", "g.wrt", 9, None), "wrt names 'w' twice"),
    ("missing wrt", HEAD + "[derivatives]\ng = { of = \"sum(X @ w)\" }\n",
     ("derivatives", "g", 9, None), "missing field 'wrt'"),
    ("duplicate input and param", HEAD + "X = { shape = [2] }\n", ("params", "X", 8, None),
     "'X' is defined twice: in [inputs] and in [params]"),
    ("define shadows a symbol", HEAD + "[define]\nw = \"X\"\n", ("define", "w", 9, None),
     "'w' is defined twice: in [params] and in [define]"),
    ("duplicate function", HEAD + "[outputs]\nf = \"X\"\n[derivatives]\n"
     "f = { of = \"sum(X @ w)\", wrt = \"w\" }\n", ("derivatives", "f", 11, None),
     "function 'f' is defined twice: in [outputs] and in [derivatives]"),
    ("unknown kind", HEAD + "[derivatives]\ng = { of = \"sum(X @ w)\", wrt = \"w\", "
     "kind = \"hesian\" }\n", ("derivatives", "g.kind", 9, None),
     "unknown kind 'hesian'; did you mean 'hessian'?"),
    ("missing of", HEAD + "[derivatives]\ng = { wrt = \"w\" }\n", ("derivatives", "g", 9, None),
     "missing field 'of'"),
    ("unknown field", HEAD + "[derivatives]\ng = { of = \"sum(X)\", wtr = \"w\" }\n",
     ("derivatives", "g.wtr", 9, None), "unknown field 'wtr'; did you mean 'wrt'?"),
    ("of not scalar", HEAD + "[derivatives]\ng = { of = \"X @ w\", wrt = \"w\" }\n",
     ("derivatives", "g.of", 9, None), "has shape (n,) and dtype float64; a grad needs a "
     "float scalar"),
    ("hessian of a list", HEAD + "[derivatives]\ng = { of = \"sum(X @ w)\", wrt = [\"w\"], "
     "kind = \"hessian\" }\n", ("derivatives", "g.wrt", 9, None), "needs a single wrt"),
    ("hessian of a symbolic shape", HEAD + "[derivatives]\ng = { of = \"sum(X)\", "
     "wrt = \"X\", kind = \"hessian\" }\n", ("derivatives", "g.wrt", 9, None),
     "a hessian needs a wrt of fixed shape, but X has shape (n, 2)"),
    ("hvp argument clash", "[params]\nv = { shape = [2] }\n[derivatives]\n"
     "g = { of = \"sum(v**3)\", wrt = \"v\", kind = \"hvp\" }\n", ("derivatives", "g", 4, None),
     "adds an argument named 'v'"),
    ("bad symbol name", '[inputs]\n"my x" = { shape = [] }\n', ("inputs", "my x", 2, None),
     "'my x' is not a valid name"),
    ("reserved symbol name", "[inputs]\nnp = { shape = [] }\n", ("inputs", "np", 2, None),
     "reserved"),
    ("builtin symbol name", "[inputs]\ninput = { shape = [] }\n", ("inputs", "input", 2, None),
     "'input' cannot be used as a name: it is a Python builtin"),
    ("non-ASCII symbol name", "[params]\n\"θ\" = { shape = [] }\n", ("params", "θ", 2, None),
     "generated code uses ASCII names only"),
    ("builtin function name", "[inputs]\nx = { shape = [] }\n[outputs]\nmax = \"x\"\n",
     ("outputs", "max", 4, None), "'max' cannot be used as a function name: it is a Python "
     "builtin"),
    ("bad shape", '[inputs]\nx = { shape = [2.5] }\n', ("inputs", "x.shape", 2, None),
     "shape must be a list of non-negative ints and symbolic dim names"),
    ("bad dtype", '[inputs]\nx = { dtype = "complex64" }\n', ("inputs", "x.dtype", 2, None),
     "dtype must be one of bool, int64, float16, float32, float64"),
    ("symbol not a table", "[inputs]\nx = [2, 3]\n", ("inputs", "x", 2, None),
     "must be a table"),
    ("define not a string", "[inputs]\nx = { shape = [] }\n[define]\nz = 3\n",
     ("define", "z", 4, None), "must be an expression string"),
    ("derivative not a table", "[inputs]\nx = { shape = [] }\n[derivatives]\ng = \"x\"\n",
     ("derivatives", "g", 4, None), "must be a table"),
]


@pytest.mark.parametrize("text, where, fragment", [row[1:] for row in ERRORS],
                         ids=[row[0] for row in ERRORS])
def test_spec_error_is_located(text, where, fragment):
    with pytest.raises(SpecError) as info:
        loads_spec(text, file="model.toml")
    err = info.value
    assert fragment in err.message
    assert err.file == "model.toml"
    assert (err.section, err.key, err.line, err.column) == where
    assert str(err).startswith(f"model.toml:{err.line}")


def test_error_message_reads_well():
    text = HEAD + "[define]\nh = \"relu(X @ Wx)\"\n"
    with pytest.raises(SpecError) as info:
        loads_spec(text, file="model.toml")
    assert str(info.value) == (
        "model.toml:9, [define] h, column 10 of the expression: unknown name 'Wx'; did you "
        "mean 'W'? (known names: W, X, k, w, y)\n"
        "    relu(X @ Wx)\n"
        "             ^")


def test_missing_file_is_a_spec_error(tmp_path):
    with pytest.raises(SpecError, match="cannot read the spec"):
        load_spec(tmp_path / "nope.toml")


# -- names are read as Python reads them (NFKC), and the loader scales (issue 16) ----------

def test_lookalike_define_key_is_refused_naming_both_keys():
    text = ('[inputs]\nx = { shape = [3] }\n[define]\n"\uff58" = "x * 100"\n'
            '[outputs]\nf = "sum(\uff58)"\n')
    with pytest.raises(SpecError) as info:
        loads_spec(text, file="m.toml")
    err = info.value
    assert (err.section, err.key, err.line) == ("define", "\uff58", 4)
    assert "'x' (in [inputs]) and '\uff58' (in [define])" in err.message
    assert "NFKC" in err.message


def test_two_define_keys_that_normalize_alike_are_refused():
    text = ('[inputs]\nx = { shape = [3] }\n[define]\n"\uff59" = "x * 100"\ny = "x"\n'
            '[outputs]\nf = "sum(y)"\n')
    with pytest.raises(SpecError, match="same name 'y'") as info:
        loads_spec(text, file="m.toml")
    assert info.value.line == 5


def test_a_non_ascii_define_name_is_read_normalized():
    # the expression's identifier is NFKC-normalized by Python; the key must be too
    text = ('[inputs]\nx = { shape = [3] }\n[define]\n"\uff59" = "x * 100"\n'
            '[outputs]\nf = "sum(y)"\ng = "sum(\uff59)"\n'
            '[derivatives]\nd = { of = "sum(\uff59)", wrt = "\uff58" }\n')
    spec = loads_spec(text)
    assert spec.function("f").outputs is spec.function("g").outputs
    assert spec.lookup("\uff59") is spec.defines["y"]
    assert spec.function("d").wrt == (spec.inputs["x"],)


def test_symbolic_dims_are_normalized_too():
    text = ('[inputs]\nx = { shape = ["\uff4e"] }\ny = { shape = ["n"] }\n'
            '[outputs]\nf = "x + y"\ng = "broadcast_to(x, shape=(2, \'\uff4e\'))"\n')
    spec = loads_spec(text)
    assert spec.inputs["x"].shape == spec.inputs["y"].shape == ("n",)
    assert spec.function("g").outputs.shape == (2, "n")


def test_a_spec_of_thousands_of_entries_finds_each_key_line_from_one_scan(monkeypatch):
    import symdiff.spec.loader as loader

    scans = []
    real = loader._key_lines
    monkeypatch.setattr(loader, "_key_lines", lambda lines: scans.append(1) or real(lines))
    body = "\n".join(f"d{i} = \"x * {i}\"" for i in range(3000))
    text = f"[inputs]\nx = {{ shape = [3] }}\n[define]\n{body}\n[outputs]\nf = \"d2999\"\n"
    spec = loads_spec(text)
    assert len(spec.defines) == 3000
    assert len(scans) == 1
    with pytest.raises(SpecError) as info:
        loads_spec(text.replace('d2999 = "x * 2999"', 'd2999 = "x * nope"'))
    assert info.value.line == 3003


@pytest.mark.parametrize("text", [
    '[inputs]\nx = { shape = [3], dtype = "' + "a" * 10000 + '" }\n',
    '[inputs]\nx = { shape = [' + "1, " * 5000 + '"-"] }\n',
    '[inputs]\n"' + "b" * 10000 + '" = { shape = [3] }\n',
    '[inputs]\nx = { shape = [3] }\n[outputs]\nf = "' + " + ".join(["x"] * 5000) + ' + y"\n',
])
def test_errors_never_echo_a_huge_value_in_full(text):
    with pytest.raises(SpecError) as info:
        loads_spec(text, file="m.toml")
    assert len(str(info.value)) < 700
