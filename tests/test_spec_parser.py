"""The spec expression parser: accepted syntax builds exactly the API's nodes (nodes are
interned, so equal construction gives the identical node); refused syntax gives a SpecError
at the right column, and nothing is ever evaluated."""

from __future__ import annotations

import numpy as np
import pytest

import symdiff as sd
from symdiff.ops import spec_functions
from symdiff.spec import SpecError
from symdiff.spec.parser import Location, parse_expression, referenced_names

X = sd.var("X", ("n", 3))
W = sd.var("W", (3, 2))
c = sd.var("c", (2,))
v = sd.var("v", (3,))
s = sd.var("s", ())
k = sd.var("k", ("n",), "int64")
NAMES = {"X": X, "W": W, "c": c, "v": v, "s": s, "k": k}
WHERE = Location("model.toml", "define", "h")


def parse(text: str, **kw):
    return parse_expression(text, NAMES, WHERE, **kw)


# Each row: spec text, and the same expression written with the Python API.
ACCEPTED = [
    ("X @ W + c", lambda: X @ W + c),
    ("X[k]", lambda: X[k]),
    ("X[arange('n'), k]", lambda: X[sd.arange("n"), k]),
    ("X[[0, 2]]", lambda: X[[0, 2]]),
    ("relu(X @ W + c)", lambda: sd.relu(X @ W + c)),
    ("-X", lambda: -X),
    ("+X", lambda: X),
    ("X ** 2 / 3 - 1", lambda: X ** 2 / 3 - 1),
    ("2 * s", lambda: 2 * s),
    ("1.5e-3 * s", lambda: 1.5e-3 * s),
    ("X.T", lambda: X.T),
    ("X.T @ X", lambda: X.T @ X),
    ("X[0]", lambda: X[0]),
    ("X[:, 1]", lambda: X[:, 1]),
    ("X[..., -1]", lambda: X[..., -1]),
    ("X[:, None, 0:2]", lambda: X[:, None, 0:2]),
    ("v[::2]", lambda: v[::2]),
    ("sum(X, axis=0)", lambda: sd.sum(X, axis=0)),
    ("sum(X, 1, True)", lambda: sd.sum(X, 1, True)),
    ("mean(X, axis=(0, 1), keepdims=True)", lambda: sd.mean(X, axis=(0, 1), keepdims=True)),
    ("log_softmax(X @ W, axis=-1)", lambda: sd.log_softmax(X @ W, axis=-1)),
    ("logsumexp(X, axis=1)", lambda: sd.logsumexp(X, axis=1)),
    ("where(X > 0, X, 0.1 * X)", lambda: sd.where(X > 0, X, 0.1 * X)),
    ("X >= 1", lambda: X >= 1),
    ("X == 1", lambda: sd.equal(X, 1)),
    ("X != v", lambda: sd.not_equal(X, v)),
    ("maximum(X, 0)", lambda: sd.maximum(X, 0)),
    ("transpose(X, axes=(1, 0))", lambda: sd.transpose(X, (1, 0))),
    ("reshape(W, (-1,))", lambda: sd.reshape(W, (-1,))),
    ("reshape(W, (2, 3))", lambda: sd.reshape(W, (2, 3))),
    ("broadcast_to(c, ('n', 2))", lambda: sd.broadcast_to(c, ("n", 2))),
    ("concatenate([X, X], axis=1)", lambda: sd.concatenate([X, X], axis=1)),
    ("stack([v, v, v])", lambda: sd.stack([v, v, v])),
    ("einsum('ni,ij->nj', X, W)", lambda: sd.einsum("ni,ij->nj", X, W)),
    ("astype(k, 'float64')", lambda: sd.astype(k, "float64")),
    ("expand_dims(v, 0)", lambda: sd.expand_dims(v, 0)),
    ("[1.0, 2.0] * c", lambda: sd.const(np.array([1.0, 2.0])) * c),
    ("dot(v, v)", lambda: sd.dot(v, v)),
    ("variance(X, axis=0, ddof=1) + std(X, 0)",
     lambda: sd.variance(X, axis=0, ddof=1) + sd.std(X, 0)),
    ("norm(v, ord='inf') + norm(v, 1) + norm(X)",
     lambda: sd.norm(v, ord=np.inf) + sd.norm(v, 1) + sd.norm(X)),
    ("cumsum(X, axis=1) + flip(X, 1)", lambda: sd.cumsum(X, axis=1) + sd.flip(X, 1)),
    ("squeeze(expand_dims(v, 0)) + swapaxes(W, 0, 1)[0] + moveaxis(W, 0, -1)[1]",
     lambda: sd.squeeze(sd.expand_dims(v, 0)) + sd.swapaxes(W, 0, 1)[0]
     + sd.moveaxis(W, 0, -1)[1]),
    ("tile(v, (2, 1)) + repeat(v, 2)[:3] + pad(v, (1, 0), constant_values=1.5)[:3]",
     lambda: sd.tile(v, (2, 1)) + sd.repeat(v, 2)[:3]
     + sd.pad(v, (1, 0), constant_values=1.5)[:3]),
    ("outer(v, c) + inner(W, c)[:, None] + tensordot(v, W, 1)"
     " + tensordot(W, W, ((1,), (1,)))[:, :1]",
     lambda: sd.outer(v, c) + sd.inner(W, c)[:, None] + sd.tensordot(v, W, 1)
     + sd.tensordot(W, W, ((1,), (1,)))[:, :1]),
    ("diag(v) + trace(W[:2]) + diag(W, k=-1)[0]",
     lambda: sd.diag(v) + sd.trace(W[:2]) + sd.diag(W, k=-1)[0]),
    ("split(v, 3)[2] + split(v, [1])[0]", lambda: sd.split(v, 3)[2] + sd.split(v, [1])[0]),
    ("einsum('ii->i', W[:2]) + einsum('ii', W[:2])",
     lambda: sd.einsum("ii->i", W[:2]) + sd.einsum("ii", W[:2])),
    ("X // 2 + X % v", lambda: X // 2 + X % v),
    ("2 % s", lambda: 2 % s),
    ("clip(X, 0, v)", lambda: sd.clip(X, 0, v)),
    ("clip(X, hi=1)", lambda: sd.clip(X, hi=1)),
    ("logaddexp(X, 0) + erf(X) + arctan(s) + sinh(s) + cosh(s) + log2(s) + log10(s)",
     lambda: sd.logaddexp(X, 0) + sd.erf(X) + sd.arctan(s) + sd.sinh(s) + sd.cosh(s)
     + sd.log2(s) + sd.log10(s)),
    ("floor(X) + ceil(X) + round(X) + arcsin(s) + arccos(s)",
     lambda: sd.floor(X) + sd.ceil(X) + sd.round(X) + sd.arcsin(s) + sd.arccos(s)),
    ("subtract(add(X, 1), multiply(X, divide(X, 2))) + power(negative(s), 2) + reciprocal(s)",
     lambda: sd.subtract(sd.add(X, 1), sd.multiply(X, sd.divide(X, 2)))
     + sd.power(sd.negative(s), 2) + sd.reciprocal(s)),
    ("sigmoid(s) * softplus(s) + tanh(s) + exp(s) + log1p(s) + expm1(s) + sin(s) + cos(s)",
     lambda: sd.sigmoid(s) * sd.softplus(s) + sd.tanh(s) + sd.exp(s) + sd.log1p(s)
     + sd.expm1(s) + sd.sin(s) + sd.cos(s)),
]


@pytest.mark.parametrize("text, api", ACCEPTED, ids=[t for t, _ in ACCEPTED])
def test_accepted_expression_is_the_api_node(text, api):
    assert parse(text) is api()


def test_every_whitelisted_name_is_an_api_function():
    for name in spec_functions():
        assert callable(getattr(sd, name)), name


def test_a_literal_alone_is_a_constant():
    node = parse("0.25")
    assert node.kind == "const" and node.dtype == "float64" and float(node.value) == 0.25


def test_multiline_expression():
    assert parse("relu(X @ W\n     + c)") is sd.relu(X @ W + c)


def test_top_level_tuple_only_where_allowed():
    assert parse("(X @ W, c)", allow_tuple=True) == (X @ W, c)
    with pytest.raises(SpecError, match="not allowed"):
        parse("(X @ W, c)")


def test_referenced_names_skip_function_names():
    names = [n for n, _ in referenced_names("relu(X @ W) + sum(c)", WHERE)]
    assert sorted(names) == ["W", "X", "c"]


# Each row: expression, a fragment of the message, the 1-based column it must point at.
REFUSED = [
    ("X @ Wx", "unknown name 'Wx'", 5),
    ("relu(X @ Wx)", "did you mean 'W'", 10),
    ("rellu(X)", "unknown function rellu(); did you mean relu()", 1),
    ("exec('1')", "unknown function exec()", 1),
    ("__import__('os')", "unknown function __import__()", 1),
    ("W(X)", "'W' is a symbol, not a function", 1),
    ("relu", "relu is a function; call it", 1),
    ("X.sum()", "method calls (.sum(...)) are not allowed", 1),
    ("X.shape", "attribute access .shape is not allowed", 1),
    ("X.__class__", "attribute access .__class__ is not allowed", 1),
    ("lambda: X", "a lambda is not allowed", 1),
    ("(lambda: X)()", "a lambda is not allowed", 2),
    ("[x for x in X]", "a list comprehension is not allowed", 1),
    ("sum(x for x in X)", "a generator expression is not allowed", 4),
    ("{X: 1}", "a dict is not allowed", 1),
    ("X + 'a'", "a string literal is not allowed here", 5),
    ("f'{X}'", "an f-string is not allowed", 1),
    ("X if s else W", "use where(c, a, b)", 1),
    ("X > 0 and X < 1", "`and` is not allowed", 1),
    ("not X", "`not` is not allowed", 1),
    ("0 < X < 1", "chained comparisons", 1),
    ("split(v, 3)", "gives 3 pieces; pick one by its number", 1),
    ("split(v, 3)[3]", "there is no piece 3", 13),
    ("1 + split(v, 3)", "gives 3 pieces; pick one by its number", 5),
    ("exp(split(v, 3))", "gives 3 pieces; pick one by its number", 5),
    ("X << 2", "the operator << is not supported", 3),
    ("X | 2", "the operator | is not supported", 3),
    ("X is W", "only < <= > >= == != comparisons", 3),
    ("X[c]", "indices must be integers", 1),
    ("X[0.5]", "an index must be an integer literal", 3),
    ("sum(X, axis=c)", "axis= (an int, a tuple of ints or None) must be a literal", 13),
    ("sum(X, axis='0')", "a string literal is not allowed as axis=", 13),
    ("sum(X, keepdims=1)", "keepdims= must be True or False", 17),
    ("sum(X, axes=0)", "bad arguments to sum(): got an unexpected keyword argument 'axes'", 1),
    ("relu(X, W)", "bad arguments to relu()", 1),
    ("sum(**{'axis': 0})", "**keyword unpacking is not allowed", 7),
    ("relu(*[X])", "a starred argument is not allowed", 6),
    ("concatenate(X)", "concatenate() takes a list of expressions", 13),
    ("X @ (W := W)", "an assignment expression (:=) is not allowed", 6),
    ("X @", "invalid syntax: invalid syntax (the expression ends too early)", 4),
    ("X + * 2", "invalid syntax", 5),
    ("héé + * 2", "invalid syntax", 7),
    ("relu(X", "invalid syntax: '(' was never closed", 5),
    ("", "the expression is empty", None),
    ("1j * X", "a complex literal is not allowed", 1),
    ("None", "None is not a tensor", 1),
    ("k * 123456789012345678901234567890", "outside the int64 range", 5),
    ("astype(k, 'no such dtype')", "data type 'no such dtype' not understood", 1),
]


@pytest.mark.parametrize("text, fragment, column", REFUSED, ids=[t for t, _, _ in REFUSED])
def test_refused_expression_is_located(text, fragment, column):
    with pytest.raises(SpecError) as info:
        parse(text)
    err = info.value
    assert fragment in err.message
    assert (err.file, err.section, err.key) == ("model.toml", "define", "h")
    assert err.column == column
    if column is not None:
        caret_line = str(err).splitlines()[-1]
        assert caret_line.index("^") - 4 == column - 1  # the caret sits under the column


# Shape errors inside an expression: the column of the offending sub-expression (for a
# binary operator, the operator), with the operand shapes in the message.
SHAPE_ERRORS = [
    ("X @ c", "`X` has shape (n, 3), `c` has shape (2,)", 3),
    ("relu(X @ W + v)", "`X @ W` has shape (n, 2), `v` has shape (3,)", 12),
    ("sum(X @ W, axis=2)", "axis 2 is out of range", 1),
    ("log(X) + exp(X @ W) * v", "`exp(X @ W)` has shape (n, 2), `v` has shape (3,)", 21),
    ("v[5]", "out of bounds", 1),
    ("X[0:2]", "symbolic size n", 1),
    ("reshape(W, (4,))", "sizes differ", 1),
    ("log(k > 0)", "log", 1),
]


@pytest.mark.parametrize("text, fragment, column", SHAPE_ERRORS,
                         ids=[t for t, _, _ in SHAPE_ERRORS])
def test_shape_error_points_at_the_subexpression(text, fragment, column):
    with pytest.raises(SpecError) as info:
        parse(text)
    assert fragment in info.value.message
    assert info.value.column == column


def test_column_counts_characters_not_bytes():
    with pytest.raises(SpecError) as info:
        parse("relu(X) + héé")
    assert info.value.column == 11


def test_multiline_error_reports_the_line():
    with pytest.raises(SpecError) as info:
        parse("relu(X @ W\n  + v)")
    err = info.value
    assert (err.expr_line, err.column) == (2, 3)
    assert "line 2, column 3 of the expression" in str(err)


@pytest.mark.parametrize("newline", ["\r", "\r\n"])
def test_carriage_return_breaks_lines_as_python_does(newline):
    """Python's parser counts a lone \\r (or \\r\\n) as a line break: the error is located
    on that line, not an IndexError."""
    with pytest.raises(SpecError) as info:
        parse(f"relu(X @ W{newline}  + v)")
    assert (info.value.expr_line, info.value.column) == (2, 3)


def test_a_syntax_warning_is_not_printed(recwarn):
    with pytest.raises(SpecError, match="invalid syntax"):
        parse("X if 1if X else 2 else X")
    assert not [w for w in recwarn if issubclass(w.category, SyntaxWarning)]


def test_nothing_is_evaluated(tmp_path):
    marker = tmp_path / "pwned"
    with pytest.raises(SpecError):
        parse(f"__import__('pathlib').Path({str(marker)!r}).touch()")
    assert not marker.exists()


def test_too_deep_an_expression_is_a_spec_error():
    # a long left-deep sum is fine (below); deep nesting of calls or powers is refused
    with pytest.raises(SpecError, match="nested too deeply; split it into"):
        parse("-" * 5000 + "s")
    with pytest.raises(SpecError, match="nested too deeply; split it into"):
        parse(" ** ".join(["s"] * 5000))


# -- literal arithmetic: exact as in Python until a literal meets a tensor (issue 16) -------

@pytest.mark.parametrize("text, expected", [
    ("X * 2**64", lambda: X * float(2**64)),          # was folded in int64 to 0 * X
    ("X * 10**19", lambda: X * 1e19),                 # was -8.4e18 * X
    ("X * 10**-3", lambda: X * 0.001),                # was a traceback
    ("X * (2**64 - 2**64 + 1)", lambda: X * 1),       # exact intermediate beyond int64
    ("k + (2**70 - 2**70 + 5)", lambda: k + 5),
    ("X * 123456789012345678901234567890", lambda: X * 1.2345678901234568e29),
    ("k * -(2**63)", lambda: k * -(2**63)),
])
def test_literal_arithmetic_is_exact_until_it_meets_a_tensor(text, expected):
    assert parse(text) is expected()


@pytest.mark.parametrize("text, fragment, column", [
    ("k * 2**64", "outside the int64 range", 5),
    ("maximum(k, 2**70)", "outside the int64 range", 12),
    ("X * 10**400", "too large for float64", 5),
    ("k < 2**63", "outside the int64 range", 5),
    ("2**64", "outside the int64 range", 1),
    ("X * 9**9**9**9", "literal arithmetic is limited to", 9),
    ("X * (1 / (2 - 2))", "divides by zero", 8),
    ("X * (-8) ** 0.5", "complex", 10),
    ("X * 2.0 ** 5000", "overflows", 9),
])
def test_literal_that_does_not_fit_is_refused_at_its_column(text, fragment, column):
    with pytest.raises(SpecError) as info:
        parse(text)
    assert fragment in info.value.message
    assert info.value.column == column


def test_float32_tensor_refuses_a_literal_beyond_float32():
    x32 = sd.var("x32", (3,), "float32")
    with pytest.raises(SpecError, match="too large for float32"):
        parse_expression("x32 * 1e39", {"x32": x32}, WHERE)
    assert parse_expression("x32 * 2**64", {"x32": x32}, WHERE).dtype == "float32"


def test_exponent_tower_is_refused_by_its_estimated_size():
    """Refused from the bit-length estimate, before any power is computed (computing one
    of these would not finish)."""
    from symdiff.spec.parser import MAX_LITERAL_BITS, _result_bits

    assert _result_bits("**", 9, 9**9) > MAX_LITERAL_BITS
    assert _result_bits("**", 2, 2**40) > MAX_LITERAL_BITS
    for text in ("X * 9**9**9**9", "X * (10**10000) ** 10**10000", "X * 2**(2**40)"):
        with pytest.raises(SpecError, match="bits"):
            parse(text)


def test_sum_of_thousands_of_terms_is_not_too_deep():
    text = " + ".join(f"{i} * v" for i in range(5000))
    node = parse(text)
    (value,) = sd.evaluate([node], {v: np.ones(3)})
    assert value[0] == sum(range(5000))


def test_error_echo_is_cut_near_the_column():
    text = " + ".join(["v"] * 4000) + " + nope"
    with pytest.raises(SpecError) as info:
        parse(text)
    message = str(info.value)
    assert len(message) < 600
    echo, caret = message.split("\n")[-2:]
    assert echo[caret.index("^"):].startswith("nope")


@pytest.mark.parametrize("text, fragment", [
    ("X[99999999999999999999]", "outside the int64 range"),
    ("X[:, :2**2]", "must be a literal"),
    ("broadcast_to(s, shape=(9223372036854775808,))", "more elements than any NumPy array"),
    ("broadcast_to(s, shape=(4611686018427387904, 4))", "more elements than any NumPy array"),
    ("broadcast_to(s, shape=(" + "1, " * 70 + "))", "NumPy arrays have at most"),
])
def test_static_literals_numpy_cannot_hold_are_refused(text, fragment):
    with pytest.raises(SpecError) as info:
        parse(text)
    assert fragment in info.value.message
