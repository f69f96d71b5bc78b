"""SPICE parameter expressions (``{R_tune * 0.5}``) evaluated safely, on numbers or on arrays.

The text is parsed by :mod:`ast` and only arithmetic is walked: numbers (with SPICE suffixes:
``10k``, ``2.2u``, ``1meg``), parameter names (case-insensitive, as in SPICE), ``+ - * / **``
(``^`` is ``**``), parentheses and a few functions (``sqrt exp ln log log10 abs sin cos tan atan
sinh cosh tanh pow min max``) and the constant ``pi``. Nothing is ever ``eval``-ed.

Values may be floats, numpy arrays (a batch of circuits) or torch tensors: pass ``functions`` with
the library's versions of the functions for anything but numbers and numpy arrays.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

import numpy as np

from kaspix_spice.netlist import SCALE

__all__ = ["NUMPY_FUNCTIONS", "ExpressionError", "evaluate"]

#: A number with an optional SPICE scale suffix and unit letters, not part of a name (``R1`` stays a name).
_LITERAL = re.compile(r"(?<![\w.])((?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)(meg|mil|[tgkmunpf])?([a-z]*)", re.IGNORECASE)

NUMPY_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "sqrt": np.sqrt,
    "exp": np.exp,
    "ln": np.log,
    "log": np.log,
    "log10": np.log10,
    "abs": np.abs,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "atan": np.arctan,
    "sinh": np.sinh,
    "cosh": np.cosh,
    "tanh": np.tanh,
    "pow": np.power,
    "min": np.minimum,
    "max": np.maximum,
}
_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv, ast.Pow: operator.pow}
_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg}


class ExpressionError(ValueError):
    """An expression that does not parse, or names something unknown."""


def _python_text(text: str) -> str:
    """The expression as Python source: SPICE literals become plain floats, ``^`` becomes ``**``."""

    def literal(match: re.Match[str]) -> str:
        number, scale, _unit = match.groups()
        return repr(float(number) * (SCALE[scale.lower()] if scale else 1.0))

    return _LITERAL.sub(literal, text.strip().strip("{}'").replace("^", "**"))


@lru_cache(maxsize=4096)
def _parse(text: str) -> ast.Expression:
    try:
        return ast.parse(_python_text(text), mode="eval")
    except SyntaxError:
        raise ExpressionError(f"cannot read the expression {text!r}") from None


def evaluate(text: str, names: Mapping[str, Any], *, functions: Mapping[str, Callable[..., Any]] | None = None) -> Any:
    """The value of a SPICE expression.

    Args:
        text: ``R_tune * 0.5``, with or without the braces or quotes, or a plain number (``4.7k``).
        names: Parameter values by name; looked up case-insensitively.
        functions: The functions by name (default: numpy's, :data:`NUMPY_FUNCTIONS`).

    Raises:
        ExpressionError: the text is not arithmetic, or names an unknown parameter or function.
    """
    table = {k.lower(): v for k, v in names.items()}
    library = NUMPY_FUNCTIONS if functions is None else functions

    def walk(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            return float(node.value)
        if isinstance(node, ast.Name):
            key = node.id.lower()
            if key in table:
                return table[key]
            if key == "pi":
                return math.pi
            raise ExpressionError(f"unknown parameter {node.id!r} in {text!r}")
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            return _BINARY[type(node.op)](walk(node.left), walk(node.right))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            return _UNARY[type(node.op)](walk(node.operand))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
            name = node.func.id.lower()
            if name not in library:
                raise ExpressionError(f"unknown function {node.func.id!r} in {text!r}; known: {', '.join(sorted(library))}")
            return library[name](*(walk(arg) for arg in node.args))
        raise ExpressionError(f"{text!r} is not plain arithmetic ({type(node).__name__} is not allowed)")

    return walk(_parse(text))
