"""Matrix-calculus LaTeX (symdiff/inspect/latex.py and the ops' `latex` forms).

Every example spec's derivatives print LaTeX that passes a LaTeX-free check (balanced
braces, `\\left`/`\\right` and `\\begin`/`\\end`, known macros only); the XOR,
logistic-regression and MLP gradients match golden files. Regenerate those after an
intended change with

    SYMDIFF_REGEN_GOLDEN=1 python3 -m pytest tests/test_inspect_latex.py

and review the diff of tests/golden/latex/ before committing it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

import symdiff as sd
from symdiff import cli
from symdiff.ops.base import library_ops
from symdiff.spec import load_spec
from symdiff.spec.compile import flatten, optimized_outputs
from tests.test_ops_table import CASES, _instance

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.toml"))
GOLDEN = Path(__file__).resolve().parent / "golden" / "latex"

KNOWN_MACROS = {
    # structure
    "left", "right", "begin", "end", "frac", "sqrt", "cdot", "top", "odot", "hat",
    "mathbf", "mathrm", "operatorname", "text", "partial", "sum", "infty", "quad",
    # functions
    "exp", "log", "sin", "cos", "tan", "tanh", "sinh", "cosh", "arctan", "arcsin",
    "arccos", "max", "min", "det", "sigma", "le", "ge", "ne", "wedge", "vee", "neg",
    # greek letters SymPy or our names may write
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
    "lambda", "mu", "nu", "xi", "pi", "rho", "tau", "phi", "chi", "psi", "omega",
    "Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Phi", "Psi", "Omega",
    "mathtt", "limits", "prod", "left|", "right|",
    # escapes: a brace, an underscore, a row break
    "{", "}", "_", "\\", ",", " ",
}
ENVIRONMENTS = {"aligned", "bmatrix", "cases", "matrix"}


def latex_problems(text: str) -> list[str]:
    """Why `text` would not compile as math, found without LaTeX: unbalanced braces,
    `\\left`/`\\right` or environments, unknown macros. Empty when it looks sound."""
    problems = []
    macros = re.findall(r"\\([A-Za-z]+|.)", text)
    problems += [f"unknown macro \\{m}" for m in macros if m not in KNOWN_MACROS]
    depth = 0
    for match in re.finditer(r"\\.|[{}]", text):
        token = match.group()
        depth += {"{": 1, "}": -1}.get(token, 0)
        if depth < 0:
            problems.append(f"a '}}' closes nothing at {match.start()}")
            depth = 0
    if depth:
        problems.append(f"{depth} unclosed '{{'")
    lefts = len(re.findall(r"\\left\b", text))
    rights = len(re.findall(r"\\right\b", text))
    if lefts != rights:
        problems.append(f"{lefts} \\left against {rights} \\right")
    stack: list[str] = []
    for kind, env in re.findall(r"\\(begin|end)\{([^}]*)\}", text):
        if env not in ENVIRONMENTS:
            problems.append(f"unknown environment {env}")
        if kind == "begin":
            stack.append(env)
        elif not stack or stack.pop() != env:
            problems.append(f"\\end{{{env}}} does not close the last \\begin")
    problems += [f"\\begin{{{env}}} never ends" for env in stack]
    return problems


@pytest.mark.parametrize("text, problem", [
    (r"\frac{a}{b", "unclosed"),
    (r"a}", "closes nothing"),
    (r"\foo x", "unknown macro"),
    (r"\left(x", "\\left against"),
    (r"\begin{aligned} x \end{bmatrix}", "does not close"),
    (r"\begin{aligned} x", "never ends"),
    (r"\begin{tabular} x \end{tabular}", "unknown environment"),
])
def test_the_check_finds_each_kind_of_problem(text, problem):
    assert any(problem in p for p in latex_problems(text)), latex_problems(text)
    assert latex_problems(r"\left(\frac{a}{b}\right) \odot \mathbf{1}") == []


def derivative_plans(path: Path) -> list:
    return [plan for plan in load_spec(path).functions if plan.kind != "output"]


def latex_of_plan(plan) -> str:
    """The CLI's `show --format latex` text of one function (optimized outputs)."""
    leaves = flatten(optimized_outputs(plan))
    return "\n".join(f"% {plan.name}[{i}]\n{sd.latex(leaf)}" for i, leaf in enumerate(leaves))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_derivative_prints_sound_latex(path):
    plans = derivative_plans(path)
    assert plans, f"{path.name} has no [derivatives]"
    for plan in plans:
        for leaf in flatten(plan.outputs) + flatten(optimized_outputs(plan)):
            text = sd.latex(leaf)
            assert text and latex_problems(text) == [], (plan.name, latex_problems(text), text)


@pytest.mark.parametrize("example, function", [
    ("xor", "loss_grad"), ("logreg_newton", "loss_grad"), ("logreg_newton", "loss_hess"),
    ("mlp_relu_xent", "cost_grad"),
])
def test_golden_latex(example, function):
    (plan,) = [p for p in derivative_plans(ROOT / "examples" / f"{example}.toml")
               if p.name == function]
    text = latex_of_plan(plan) + "\n"
    path = GOLDEN / f"{example}_{function}.tex"
    if os.environ.get("SYMDIFF_REGEN_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden file {path}; run with SYMDIFF_REGEN_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), f"{path.name} changed"


def test_the_cli_shows_the_xor_gradient_as_latex(capsys):
    status = cli.main(["show", str(ROOT / "examples" / "xor.toml"), "--of", "loss_grad",
                       "--format", "latex"])
    out, err = capsys.readouterr()
    assert status == 0, err
    golden = (GOLDEN / "xor_loss_grad.tex").read_text(encoding="utf-8")
    assert out == golden


def course_notes_mlp():
    """The two-layer ReLU network of the course notes, with weight decay."""
    X = sd.var("X", ("n", 3))
    Y = sd.var("Y", ("n", 2))
    W1 = sd.var("W1", (3, 4))
    W2 = sd.var("W2", (4, 2))
    lam = sd.var("lambda", ())
    U1 = (X @ W1).named("U1")
    H = sd.relu(U1).named("H")
    U2 = (H @ W2).named("U2")
    J = (sd.mean((U2 - Y) ** 2) + lam * (sd.sum(W1 ** 2) + sd.sum(W2 ** 2))).named("J")
    return J, W1, W2


def test_a_derivative_is_written_in_terms_of_the_named_intermediates():
    J, W1, _ = course_notes_mlp()
    (grad,) = sd.optimize([sd.grad(J, W1)])
    text = sd.latex(grad)
    assert text.startswith("\\begin{aligned}\nU_{1} &= X W_{1} \\\\\n")
    assert r"H &= \operatorname{relu}\left(U_{1}\right)" in text
    assert r"U_{2} &= H W_{2}" in text
    last = text.splitlines()[-2]
    assert last == (r"\frac{\partial J}{\partial W_{1}} &= 2 \lambda W_{1} + X^\top "
                    r"\left(\frac{2 \left(U_{2} - Y\right)}{2 n} W_{2}^\top \odot "
                    r"\left[U_{1} > 0\right]\right)")
    assert latex_problems(text) == []


@pytest.mark.parametrize("build, expected", [
    (lambda A, B, v: A @ B.T, r"A B^\top"),
    (lambda A, B, v: A * B, r"A \odot B"),
    (lambda A, B, v: (A + B) * 3.0, r"3 \left(A + B\right)"),
    (lambda A, B, v: A - (B - A), r"A - \left(B - A\right)"),
    (lambda A, B, v: sd.sum(A, axis=0), r"\mathbf{1}^\top A"),
    (lambda A, B, v: sd.sum(A, axis=1), r"A \mathbf{1}"),
    (lambda A, B, v: A * v, r"A \operatorname{diag}\left(v\right)"),
    (lambda A, B, v: sd.sigmoid(A @ v), r"\sigma\left(A v\right)"),
    (lambda A, B, v: v @ A, r"v^\top A"),
    (lambda A, B, v: sd.softmax(A, axis=1), r"\operatorname{softmax}\left(A\right)"),
    (lambda A, B, v: sd.log_softmax(A @ B),
     r"\log\operatorname{softmax}\left(A B\right)"),
    (lambda A, B, v: sd.where(A > B, A, 0.0), r"A \odot \left[A > B\right]"),
    (lambda A, B, v: sd.max(A, axis=1), r"\max_{1}\left(A\right)"),
    (lambda A, B, v: (A / B) ** 2, r"\left(\frac{A}{B}\right)^{2}"),
    (lambda A, B, v: A.T ** 3, r"\left(A^\top\right)^{3}"),
    (lambda A, B, v: sd.sum(A * v, axis=(0, 1), keepdims=True),
     r"\mathbf{1}^\top A \operatorname{diag}\left(v\right) \mathbf{1}"),
    (lambda A, B, v: sd.mean(A), r"\operatorname{mean}\left(A\right)"),
    (lambda A, B, v: sd.linalg.inv(A) @ v, r"A^{-1} v"),
    (lambda A, B, v: sd.exp(A) / sd.sum(sd.exp(A)),
     r"\begin{aligned}" "\n" r"U_{1} &= \exp\left(A\right) \\" "\n"
     r"\mathrm{result} &= \frac{U_{1}}{\mathbf{1}^\top U_{1} \mathbf{1}}" "\n"
     r"\end{aligned}"),
])
def test_each_op_writes_its_textbook_form(build, expected):
    A, B = sd.var("A", (3, 3)), sd.var("B", (3, 3))
    v = sd.var("v", (3,))
    assert sd.latex(build(A, B, v), matrix=True) == expected


def square_it(a):
    """a * a, as a user's op."""
    return a * a


def square_it_vjp(g, a, out):
    return 2.0 * a * g


def test_every_library_op_has_a_latex_form_and_user_ops_get_the_default():
    assert all(callable(op.latex) for op in library_ops().values())
    x = sd.var("x", (3,))
    assert sd.latex(sd.stack([x, x]) @ x) == r"\operatorname{stack}\left(x, x\right) x"
    square = sd.define_op("square_it", square_it, vjp=square_it_vjp)
    assert sd.latex(sd.sum(square(x)), matrix=True) == \
        r"\mathbf{1}^\top \operatorname{square\_it}\left(x\right)"


def test_a_large_constant_is_a_name_not_its_digits():
    x = sd.var("x", (10,))
    text = sd.latex(sd.sum(x * sd.const(np.arange(10.0))))
    assert text == r"\mathbf{1}^\top \left(x \odot C_{1}\right)"


def test_the_readme_shows_the_xor_gradient_as_printed():
    golden = (GOLDEN / "xor_loss_grad.tex").read_text(encoding="utf-8")
    block = golden.split("% loss_grad[1]")[0].split("\n", 1)[1]
    assert "```latex\n" + block + "```" in (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("c", CASES, ids=lambda c: c.id)
def test_every_op_of_the_table_and_its_derivative_print_sound_latex(c):
    """Each op's form (and its VJP's) on the op table's instances prints sound LaTeX."""
    inputs, y, _ = _instance(c, np.random.default_rng(0))
    roots = [y]
    if c.diff and y.dtype.startswith("float"):
        roots += [sd.grad(sd.sum(y), inputs[i]) for i in c.diff]
    for root in roots:
        text = sd.latex(root, matrix=True)
        assert latex_problems(text) == [], (latex_problems(text), text)
