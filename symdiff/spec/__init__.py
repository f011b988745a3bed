"""Model specs: a TOML file naming inputs, params, definitions and the functions to generate.

`load_spec` reads one into graph nodes (expressions parsed safely, never eval'd);
`compile_spec` turns it into the source of a standalone NumPy module, and `spec_module`
into that module, loaded.
"""

from .compile import compile_spec, spec_module
from .errors import SpecError
from .loader import KINDS, FunctionPlan, Spec, load_spec, loads_spec

__all__ = ["KINDS", "FunctionPlan", "Spec", "SpecError", "compile_spec", "load_spec",
           "loads_spec", "spec_module"]
