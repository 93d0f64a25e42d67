"""The small, safe expression language of policies: conditions and formulas.

    compile_expr('type == "survey.answered" and attributes.score <= 2')  -> Expr
    expr(ctx)       the value (an ExpressionError when values do not fit their operators)
    expr.test(ctx)  its truthiness, with a runtime ExpressionError counting as False

Source is compiled once, by a Pratt parser, into a tree of Python closures; Python's own
eval/compile/ast are never used. Lowest precedence first: ``or``, ``and``, ``not``, comparisons
(``== != < <= > >= in``, ``not in``; never chained), ``+ -``, ``* / %``, unary ``-``, then
``a.b``, ``a[k]`` and calls of the whitelisted functions in `expr_ops.FUNCTIONS`.

Values: ints and Decimals (``0.10`` is a Decimal, never a float), strings, booleans
(``true``/``True``), null (``null``/``None``), lists, durations (``15m``, ``1h30m``) as
timedelta, and whatever the context holds. ``a.b`` is a mapping key or a public non-callable
attribute; a missing one is null, and ordering comparisons with null are false.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from makegood.domain import expr_ops as ops
from makegood.domain.errors import ExpressionError
from makegood.domain.expr_lexer import Token, parse_duration, tokenize

__all__ = ["Expr", "ExpressionError", "compile_expr", "parse_duration"]

Fn = Callable[[Mapping[str, Any]], Any]

MAX_DEPTH = 64  # nesting of the tree; evaluation recurses once per level
_EMPTY: Mapping[str, Any] = MappingProxyType({})
_CONSTANTS: dict[str, bool | None] = {"true": True, "True": True, "false": False, "False": False}
_CONSTANTS |= {"null": None, "None": None}
_COMPARE = 40
_LBP = {"or": 10, "and": 20, "in": _COMPARE, "+": 50, "-": 50, "*": 60, "/": 60, "%": 60}
_LBP |= dict.fromkeys(("==", "!=", "<", "<=", ">", ">="), _COMPARE)
_LBP |= {".": 80, "[": 80, "(": 80}
_NOT, _UNARY = 30, 70
_ARITHMETIC = {"+": ops.add, "-": ops.sub, "*": ops.mul, "/": ops.div, "%": ops.mod}
_FAST_ORDER = (int, str, timedelta, datetime)  # types that compare exactly without help


@dataclass(frozen=True, slots=True)
class Expr:
    """A compiled expression. `names` are the top-level names it reads from the context."""

    source: str
    names: frozenset[str]
    _fn: Fn = field(repr=False, compare=False)

    def __call__(self, ctx: Mapping[str, Any]) -> Any:
        return self._fn(ctx)

    def test(self, ctx: Mapping[str, Any]) -> bool:
        try:
            return bool(self._fn(ctx))
        except ExpressionError:
            return False


def compile_expr(source: str) -> Expr:
    """Compile `source`; ExpressionError (with a 1-based column) when it does not parse."""
    parser = _Parser(source)
    node = parser.parse()
    return Expr(source, frozenset(parser.names), node.fn)


@dataclass(slots=True)
class _Node:
    fn: Fn
    const: bool = False
    height: int = 1
    path: tuple[str, ...] | None = None  # a dotted name, walked by a single closure


def _const(value: Any) -> _Node:
    def fn(ctx: Mapping[str, Any]) -> Any:
        return value

    return _Node(fn, const=True)


def _arith_message(error: ArithmeticError) -> str:
    if isinstance(error, ZeroDivisionError):
        return "division by zero"
    if isinstance(error, OverflowError):
        return "result out of range"
    return f"invalid arithmetic ({type(error).__name__})"


class _Parser:
    def __init__(self, source: str) -> None:
        if not isinstance(source, str):
            raise ExpressionError(f"an expression must be a string, not {type(source).__name__}")
        self.source = source
        self.tokens = tokenize(source)
        self.pos = 0
        self.depth = 0
        self.names: set[str] = set()

    # --- token stream ----------------------------------------------------------------------

    def error(self, message: str, column: int) -> ExpressionError:
        return ExpressionError(message, self.source, column)

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.pos + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.peek()
        self.pos += 1
        return token

    def expect(self, text: str, what: str) -> Token:
        token = self.advance()
        if token.kind != "op" or token.text != text:
            raise self.error(f"expected {what}, found {token.describe()}", token.column)
        return token

    def lbp(self) -> int:
        token = self.peek()
        if token.kind not in ("op", "kw"):
            return 0
        if token.text == "not":  # only `not in` continues an expression
            following = self.peek(1)
            return _COMPARE if following.kind == "kw" and following.text == "in" else 0
        return _LBP.get(token.text, 0)

    # --- grammar ---------------------------------------------------------------------------

    def parse(self) -> _Node:
        node = self.expression(0)
        token = self.peek()
        if token.kind != "end":
            found = token.describe()
            raise self.error(f"expected an operator or end of input, found {found}", token.column)
        return node

    def expression(self, rbp: int) -> _Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error("expression nested too deeply", self.peek().column)
        left = self.prefix(self.advance(), rbp)
        while rbp < self.lbp():
            left = self.infix(self.advance(), left)
        self.depth -= 1
        return left

    def prefix(self, token: Token, rbp: int) -> _Node:
        kind, text = token.kind, token.text
        if kind in ("num", "dur", "str"):
            return _const(token.value)
        if kind == "kw" and text in _CONSTANTS:
            return _const(_CONSTANTS[text])
        if kind == "name":
            return self.name(token)
        if kind == "kw" and text == "not" and rbp <= _NOT:
            operand = self.expression(_NOT)
            of = operand.fn
            return self.wrap(lambda ctx: not of(ctx), token, operand)
        if kind == "op" and text == "-":
            return self.apply(ops.neg, token, self.expression(_UNARY))
        if kind == "op" and text == "(":
            node = self.expression(0)
            self.expect(")", "')'")
            return node
        if kind == "op" and text == "[":
            return self.list_literal(token)
        raise self.error(f"expected an operand, found {token.describe()}", token.column)

    def infix(self, token: Token, left: _Node) -> _Node:
        text = token.text
        if text in ("or", "and"):
            right = self.expression(_LBP[text])
            lf, rf = left.fn, right.fn
            if text == "or":
                return self.wrap(lambda ctx: bool(lf(ctx) or rf(ctx)), token, left, right)
            return self.wrap(lambda ctx: bool(lf(ctx) and rf(ctx)), token, left, right)
        if text in _ARITHMETIC:
            return self.apply(_ARITHMETIC[text], token, left, self.expression(_LBP[text]))
        if text == ".":
            return self.attribute(left)
        if text == "[":
            key = self.expression(0)
            self.expect("]", "']'")
            return self.apply(ops.index, token, left, key)
        if text == "(":
            raise self.error("only the built-in functions can be called", token.column)
        if text == "not":
            self.advance()  # the `in` of `not in`
        right = self.expression(_COMPARE)
        if self.lbp() == _COMPARE:
            following = self.peek()
            raise self.error(
                f"comparisons cannot be chained; found {following.describe()} (use 'and')",
                following.column,
            )
        return self.comparison(token, left, right)

    def name(self, token: Token) -> _Node:
        if self.peek().kind == "op" and self.peek().text == "(":
            return self.call(token)
        if token.text.startswith("_"):
            raise self.error(f"names starting with '_' are not allowed: {token.text}", token.column)
        self.names.add(token.text)
        return self.path_node((token.text,), token)

    def attribute(self, left: _Node) -> _Node:
        token = self.advance()
        if token.kind not in ("name", "kw"):
            found = token.describe()
            raise self.error(f"expected an attribute name after '.', found {found}", token.column)
        key = token.text
        if key.startswith("_"):
            raise self.error(
                f"attributes starting with '_' are not accessible: {key}", token.column
            )
        if left.path is not None:
            return self.path_node((*left.path, key), token)
        return self.apply(lambda obj: ops.get(obj, key), token, left)

    def list_literal(self, token: Token) -> _Node:
        items = self.arguments("]")
        return self.apply(lambda *values: values, token, *items) if items else _const(())

    def arguments(self, closer: str) -> list[_Node]:
        items: list[_Node] = []
        while not (self.peek().kind == "op" and self.peek().text == closer):
            items.append(self.expression(0))
            if not (self.peek().kind == "op" and self.peek().text == ","):
                break
            self.advance()
        self.expect(closer, f"',' or '{closer}'")
        return items

    def call(self, token: Token) -> _Node:
        name = token.text
        if name not in ops.FUNCTIONS:
            known = ", ".join(sorted(ops.FUNCTIONS))
            raise self.error(f"unknown function {name!r} (known: {known})", token.column)
        self.advance()  # (
        args = self.arguments(")")
        fewest, most, function = ops.FUNCTIONS[name]
        if not fewest <= len(args) <= most:
            wanted = f"{fewest}" if fewest == most else f"{fewest} to {most}"
            raise self.error(f"{name}() takes {wanted} arguments, not {len(args)}", token.column)
        return self.apply(function, token, *args)

    def comparison(self, token: Token, left: _Node, right: _Node) -> _Node:
        text = token.text
        if text in ("==", "!="):
            if left.const and not right.const:
                left, right = right, left
            test = _equality(left, right, negate=text == "!=")
            return self.wrap(test, token, left, right)
        if text in ("in", "not"):
            negate = text == "not"
            strings = _strings(right)
            if strings is not None:
                return self.wrap(_among(left, strings, negate), token, left, right)
            if negate:
                return self.apply(lambda a, b: not ops.contains(a, b), token, left, right)
            return self.apply(ops.contains, token, left, right)
        compare, constant = ops.COMPARISONS[text], _constant(right)
        if isinstance(constant, _FAST_ORDER) and type(constant) is not bool:
            source, column = self.source, token.column
            root, key, walk = _lookup(left)

            def fast(ctx: Mapping[str, Any]) -> Any:
                value = walk(ctx) if root is None else ctx.get(root)
                if key is not None:
                    value = value.get(key) if type(value) is dict else walk(ctx)
                if value is None:
                    return False
                try:
                    return compare(value, constant)
                except (TypeError, ArithmeticError):
                    message = f"cannot apply '{text}' to {ops.kind(value)} and {ops.kind(constant)}"
                    raise ExpressionError(message, source, column) from None

            return self.wrap(fast, token, left, right)
        return self.apply(lambda a, b: ops.order(compare, text, a, b), token, left, right)

    # --- nodes -----------------------------------------------------------------------------

    def apply(self, fn: Callable[..., Any], token: Token, *children: _Node) -> _Node:
        """A node applying `fn` to the children's values; a Fault becomes an ExpressionError."""
        source, column = self.source, token.column
        fns = tuple(child.fn for child in children)
        run: Fn
        if len(fns) == 1:
            (af,) = fns

            def run(ctx: Mapping[str, Any]) -> Any:
                try:
                    return fn(af(ctx))
                except (ops.Fault, ArithmeticError) as error:
                    raise _runtime(error, source, column) from None

        elif len(fns) == 2 and children[1].const:  # `x + 15m`, `x * 0.10`: no call for 15m
            af, b = fns[0], _constant(children[1])

            def run(ctx: Mapping[str, Any]) -> Any:
                try:
                    return fn(af(ctx), b)
                except (ops.Fault, ArithmeticError) as error:
                    raise _runtime(error, source, column) from None

        elif len(fns) == 2:
            af, bf = fns

            def run(ctx: Mapping[str, Any]) -> Any:
                try:
                    return fn(af(ctx), bf(ctx))
                except (ops.Fault, ArithmeticError) as error:
                    raise _runtime(error, source, column) from None

        else:

            def run(ctx: Mapping[str, Any]) -> Any:
                try:
                    return fn(*[f(ctx) for f in fns])
                except (ops.Fault, ArithmeticError) as error:
                    raise _runtime(error, source, column) from None

        return self.wrap(run, token, *children)

    def wrap(self, run: Fn, token: Token, *children: _Node) -> _Node:
        """A node for the closure `run`, folded now when every child is a constant."""
        height = 1 + max((child.height for child in children), default=0)
        if height > MAX_DEPTH:
            raise self.error("expression nested too deeply", token.column)
        if children and all(child.const for child in children):
            return _const(run(_EMPTY))
        return _Node(run, height=height)

    def path_node(self, path: tuple[str, ...], token: Token) -> _Node:
        if len(path) > MAX_DEPTH:
            raise self.error("expression nested too deeply", token.column)
        return _Node(_walker(path, self.source, token.column), height=1, path=path)


def _runtime(error: Exception, source: str, column: int) -> ExpressionError:
    if isinstance(error, ArithmeticError):
        return ExpressionError(_arith_message(error), source, column)
    return ExpressionError(str(error), source, column)


def _walker(path: tuple[str, ...], source: str, column: int) -> Fn:
    """One closure for `root.a.b`: dicts by key, other objects through `ops.get`."""
    root, keys = path[0], path[1:]
    if not keys:

        def name(ctx: Mapping[str, Any]) -> Any:
            return ctx.get(root)

        return name
    if len(keys) == 1:
        (key,) = keys

        def attribute(ctx: Mapping[str, Any]) -> Any:
            obj = ctx.get(root)
            if type(obj) is dict:
                return obj.get(key)
            try:
                return ops.get(obj, key)
            except ops.Fault as error:
                raise ExpressionError(str(error), source, column) from None

        return attribute

    def walk(ctx: Mapping[str, Any]) -> Any:
        obj = ctx.get(root)
        try:
            for key in keys:
                obj = obj.get(key) if type(obj) is dict else ops.get(obj, key)
        except ops.Fault as error:
            raise ExpressionError(str(error), source, column) from None
        return obj

    return walk


def _constant(node: _Node) -> Any:
    return node.fn(_EMPTY) if node.const else None


def _strings(node: _Node) -> frozenset[str] | None:
    """The set behind a constant list of strings, for a hashed `in`."""
    items = _constant(node)
    if type(items) is tuple and items and all(type(item) is str for item in items):
        return frozenset(items)
    return None


def _lookup(node: _Node) -> tuple[str | None, str | None, Fn]:
    """How a comparison reads its operand without a call of its own: ``(root, key, fn)``
    for a name (``type``: key None) or a name and a key (``attributes.score``), whose value
    is ``ctx.get(root)``, then ``.get(key)`` on a dict or else ``fn(ctx)`` (the walker, which
    reads it again and handles the other objects); ``(None, None, fn)`` for any other node,
    whose value is ``fn(ctx)``. The closures below inline these lines: one call per
    comparison instead of two, for the conditions policies are made of."""
    if node.path is not None and len(node.path) <= 2:
        return node.path[0], (node.path[1] if len(node.path) == 2 else None), node.fn
    return None, None, node.fn


def _among(left: _Node, strings: frozenset[str], negate: bool) -> Fn:
    """``left in [constant strings]`` as a hashed lookup (``not in`` when `negate`)."""
    root, key, walk = _lookup(left)

    def among(ctx: Mapping[str, Any]) -> bool:
        value = walk(ctx) if root is None else ctx.get(root)
        if key is not None:
            value = value.get(key) if type(value) is dict else walk(ctx)
        try:
            return (value in strings) is not negate
        except TypeError:  # unhashable, so not a string
            return negate

    return among


def _equality(left: _Node, right: _Node, negate: bool) -> Fn:
    """``left == right`` (``!=`` when `negate`); a constant right side is compared directly
    when that is exact: null by identity, a string by plain ``==``."""
    lf, rf = left.fn, right.fn
    if not right.const:
        if negate:
            return lambda ctx: not ops.eq(lf(ctx), rf(ctx))
        return lambda ctx: ops.eq(lf(ctx), rf(ctx))
    constant = rf(_EMPTY)
    if constant is not None and type(constant) is not str:
        if negate:
            return lambda ctx: not ops.eq(lf(ctx), constant)
        return lambda ctx: ops.eq(lf(ctx), constant)
    root, key, walk = _lookup(left)
    if constant is None:

        def null(ctx: Mapping[str, Any]) -> bool:
            value = walk(ctx) if root is None else ctx.get(root)
            if key is not None:
                value = value.get(key) if type(value) is dict else walk(ctx)
            return (value is None) is not negate

        return null

    def string(ctx: Mapping[str, Any]) -> Any:  # a string equals only a string: == is exact
        value = walk(ctx) if root is None else ctx.get(root)
        if key is not None:
            value = value.get(key) if type(value) is dict else walk(ctx)
        return not (value == constant) if negate else value == constant

    return string
