"""Exceptions raised by symdiff; each message names the node, operand or key at fault."""


class SymdiffError(Exception):
    """Base class of every error symdiff raises on purpose."""


class ShapeError(SymdiffError, ValueError):
    """Operand shapes or dtypes that an op cannot accept."""


class GradError(SymdiffError, ValueError):
    """A derivative that cannot be taken as asked (non-scalar cost, integer wrt, ...)."""


class BindingError(SymdiffError, ValueError):
    """Arguments given to `evaluate` (or a generated function) that do not fit the variables."""
