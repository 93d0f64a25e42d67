"""The policy expression language: parsing, values, operators, functions, errors, safety."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from makegood.domain.errors import ExpressionError, PolicyError
from makegood.domain.expr import Expr, compile_expr, parse_duration

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@dataclass
class Customer:
    tier: str = "gold"
    lifetime_value: Decimal = Decimal("620")
    _secret: str = "hidden"
    tags: list[str] = field(default_factory=lambda: ["VIP", "newsletter"])

    def delete(self) -> str:
        return "deleted"


CTX: dict[str, Any] = {
    "type": "survey.answered",
    "attributes": {"score": 2, "issue": "damaged", "promised_at": NOW, "ratio": 0.1},
    "lateness": timedelta(minutes=75),
    "order_value": Decimal("84.90"),
    "float_value": 12.5,
    "customer": Customer(),
    "cues": {"churn_threat": False},
    "items": [1, 2, 3],
    "now": NOW,
    "name": "Ada",
}


def ev(source: str, ctx: dict[str, Any] | None = None) -> Any:
    return compile_expr(source)(CTX if ctx is None else ctx)


def syntax_error(source: str) -> ExpressionError:
    with pytest.raises(ExpressionError) as caught:
        compile_expr(source)
    return caught.value


def runtime_error(source: str, ctx: dict[str, Any] | None = None) -> ExpressionError:
    expr = compile_expr(source)
    with pytest.raises(ExpressionError) as caught:
        expr(CTX if ctx is None else ctx)
    assert expr.test(CTX if ctx is None else ctx) is False
    return caught.value


# --- the examples from policies -------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('type == "survey.answered" and attributes.score <= 2', True),
        ("lateness > 60m", True),
        ('attributes.issue in ["missing", "damaged"]', True),
        ("attributes.promised_at + 15m", NOW + timedelta(minutes=15)),
        ("order_value * 0.10", Decimal("8.4900")),
        ("not cues.churn_threat", True),
        ('customer.tier == "gold" or customer.lifetime_value >= 500', True),
    ],
)
def test_policy_examples(source: str, expected: Any) -> None:
    assert ev(source) == expected


def test_expr_is_a_frozen_value_with_names() -> None:
    expr = compile_expr('type == "x" and attributes.score <= 2 and len(customer.tags) > 0')
    assert isinstance(expr, Expr)
    assert expr.names == frozenset({"type", "attributes", "customer"})
    assert expr.source.startswith("type")
    assert expr == compile_expr(expr.source)
    with pytest.raises(AttributeError):
        expr.source = "other"  # type: ignore[misc]


def test_function_names_are_not_context_names() -> None:
    assert compile_expr("min(a, b) + len(c)").names == frozenset({"a", "b", "c"})
    assert compile_expr("len + 1").names == frozenset({"len"})
    assert compile_expr("1 + 2").names == frozenset()


# --- literals -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("42", 42),
        ("0.10", Decimal("0.10")),
        ("'single'", "single"),
        ('"double"', "double"),
        (r'"a \"quoted\" \\ word\n"', 'a "quoted" \\ word\n'),
        (r"'it\'s'", "it's"),
        ("true", True),
        ("True", True),
        ("false", False),
        ("False", False),
        ("null", None),
        ("None", None),
        ("[]", ()),
        ("[1, 'a', [2]]", (1, "a", (2,))),
        ("[1, 2,]", (1, 2)),
    ],
)
def test_literals(source: str, expected: Any) -> None:
    value = ev(source)
    assert value == expected
    assert type(value) is type(expected)


def test_decimals_are_never_floats() -> None:
    assert type(ev("0.10")) is Decimal
    assert ev("0.1 + 0.2 == 0.3") is True
    assert ev("0.1 + 0.2") == Decimal("0.3")
    assert ev("1 / 3 * 3") == Decimal("0.9999999999999999999999999999")
    assert type(ev("7 / 2")) is Decimal
    assert ev("7 / 2") == Decimal("3.5")
    assert ev("6 / 3") == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15m", timedelta(minutes=15)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("2d", timedelta(days=2)),
        ("90s", timedelta(seconds=90)),
        ("500ms", timedelta(milliseconds=500)),
        ("1w", timedelta(weeks=1)),
        ("1d2h3m4s5ms", timedelta(days=1, hours=2, minutes=3, seconds=4, milliseconds=5)),
        ("0s", timedelta(0)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected
    assert ev(text) == expected


@pytest.mark.parametrize("text", ["", "15", "m", "15x", "1.5h", "-5m", "15 m", " 15m", "1h 30m"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_bad_duration_literal_names_its_column() -> None:
    error = syntax_error("lateness > 15x")
    assert error.column == 12
    assert "invalid duration '15x'" in str(error)


# --- names and attributes -------------------------------------------------------------------


def test_names_attributes_and_subscripts() -> None:
    assert ev("name") == "Ada"
    assert ev("attributes.score") == 2
    assert ev('attributes["issue"]') == "damaged"
    assert ev("customer.tier") == "gold"
    assert ev('customer["tier"]') == "gold"
    assert ev("items[0]") == 1
    assert ev("items[-1]") == 3
    assert ev("items[7]") is None
    assert ev("deep.a.b.c", {"deep": {"a": {"b": {"c": 1}}}}) == 1
    assert ev("(attributes).score") == 2


def test_keywords_may_follow_a_dot() -> None:
    assert ev("flags.in", {"flags": {"in": 1}}) == 1


@pytest.mark.parametrize(
    "source",
    ["missing", "attributes.missing", "attributes.missing.deeper", "customer.nothing", "items[10]"],
)
def test_missing_is_null(source: str) -> None:
    assert ev(source) is None


@pytest.mark.parametrize(
    "source",
    [
        "attributes.missing <= 2",
        "attributes.missing > 2",
        "attributes.missing < 60m",
        "attributes.missing >= attributes.score",
        "2 < attributes.missing",
        "attributes.missing == 2",
        "attributes.missing in ['a']",
        "'a' in attributes.missing",
    ],
)
def test_comparisons_with_null_are_false(source: str) -> None:
    assert ev(source) is False
    assert compile_expr(source).test({"attributes": {}}) is False


def test_null_equality() -> None:
    assert ev("attributes.missing == null") is True
    assert ev("attributes.missing != null") is False
    assert ev("null == attributes.missing") is True
    assert ev("attributes.score != null") is True


def test_context_may_be_any_mapping() -> None:
    from types import MappingProxyType

    assert compile_expr("a.b + 1")(MappingProxyType({"a": MappingProxyType({"b": 1})})) == 2


# --- safety ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "attributes.__class__",
        "customer.__class__.__init__",
        "customer._secret",
        "__import__",
        "_private",
        "customer.__dict__",
    ],
)
def test_private_names_do_not_compile(source: str) -> None:
    assert "_" in str(syntax_error(source))


def test_methods_are_not_reachable() -> None:
    assert ev("customer.delete") is None
    assert ev('customer["delete"]') is None
    assert ev("name.upper") is None
    with pytest.raises(ExpressionError, match="only the built-in functions"):
        compile_expr("customer.delete()")
    with pytest.raises(ExpressionError, match="only the built-in functions"):
        compile_expr("name.upper()")


def test_private_subscripts_fail_at_runtime() -> None:
    error = runtime_error('customer["__class__"]')
    assert "not accessible" in str(error)
    runtime_error('customer["_secret"]')
    # On a mapping a key is only a key.
    assert ev('attributes["__class__"]') is None


def test_interpreter_internals_are_opaque() -> None:
    import sys

    runtime_error("mod.path", {"mod": sys})
    runtime_error("cls.mro", {"cls": int})

    def gen() -> Any:
        yield 1

    runtime_error("g.gi_frame", {"g": gen()})


def test_unknown_functions_do_not_compile() -> None:
    error = syntax_error("x + open('f')")
    assert error.column == 5
    assert "unknown function 'open'" in str(error)
    syntax_error("eval('1')")
    syntax_error("getattr(x, 'y')")


def test_deep_nesting_is_refused_not_a_crash() -> None:
    syntax_error("(" * 500 + "1" + ")" * 500)
    syntax_error(" + ".join(["x"] * 500))
    assert ev(" + ".join(["1"] * 500)) == 500  # constants fold, so nothing nests
    syntax_error("not " * 500 + "x")
    syntax_error("x" + ".a" * 500)
    assert ev(" + ".join(["1"] * 30)) == 30


def test_non_string_source_is_an_expression_error() -> None:
    with pytest.raises(ExpressionError):
        compile_expr(42)  # type: ignore[arg-type]


# --- operators and precedence ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("10 - 4 - 3", 3),
        ("2 * 3 % 4", 2),
        ("2 + 7 % 4", 5),
        ("-2 * 3", -6),
        ("- - 2", 2),
        ("-(2 + 3)", -5),
        ("-attributes.score", -2),
        ("1 + 2 == 3", True),
        ("1 < 2 == true", None),
        ("not 1 == 2", True),
        ("not true and false", False),
        ("not (true and false)", True),
        ("true or false and false", True),
        ("(true or false) and false", False),
        ("false or not false", True),
        ("not not 1", True),
        ("1 + 1 in [2, 3]", True),
        ("2 not in [2, 3] or true", True),
        ("-items[0]", -1),
    ],
)
def test_precedence(source: str, expected: Any) -> None:
    if expected is None:
        syntax_error(source)
    else:
        assert ev(source) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("3 == 3", True),
        ("3 == 3.0", True),
        ("3 != 4", True),
        ("'a' == 'a'", True),
        ("'a' == 1", False),
        ("true == 1", False),
        ("1 == true", False),
        ("[1, 2] == items", False),
        ("[1, 2, 3] == items", True),
        ("1 < 2", True),
        ("2 <= 2", True),
        ("3 > 2", True),
        ("2 >= 3", False),
        ("'abc' < 'abd'", True),
        ("60m == 1h", True),
        ("59m < 1h", True),
        ("now > attributes.promised_at - 1m", True),
        ("now >= now", True),
        ("attributes.ratio == 0.1", True),
        ("attributes.ratio <= 0.1", True),
        ("attributes.ratio >= 0.1", True),
        ("float_value > 12", True),
        ("float_value == 12.5", True),
    ],
)
def test_comparisons(source: str, expected: bool) -> None:
    assert ev(source) is expected


def test_comparisons_do_not_chain() -> None:
    error = syntax_error("a < b < c")
    assert error.column == 7
    assert "chained" in str(error)
    assert syntax_error("a == b == c").column == 8
    assert syntax_error("a in b in c").column == 8
    assert syntax_error("a not in b == c").column == 12


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("2 in [1, 2]", True),
        ("2.0 in [1, 2]", True),
        ("true in [1]", False),
        ("'b' in ['a', 'b']", True),
        ("'c' not in ['a', 'b']", True),
        ("'b' not in ['a', 'b']", False),
        ("items in [['x'], ['y']]", False),
        ("'ell' in 'hello'", True),
        ("'ELL' in 'hello'", False),
        ("'issue' in attributes", True),
        ("'nope' in attributes", False),
        ("'nope' not in attributes", True),
        ("2 in items", True),
        ("attributes.issue in ['missing', 'damaged']", True),
        ("attributes.score in ['missing', 'damaged']", False),
        ("attributes.missing not in ['a']", True),
        ("[1] in [[1], [2]]", True),
    ],
)
def test_membership(source: str, expected: bool) -> None:
    assert ev(source) is expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1 + 2", 3),
        ("1 + 0.5", Decimal("1.5")),
        ("float_value + 0.1", Decimal("12.6")),
        ("float_value * 2", Decimal("25.0")),
        ("float_value - 0.5", Decimal("12.0")),
        ("5 - 7", -2),
        ("2.5 * 4", Decimal("10.0")),
        ("1 / 4", Decimal("0.25")),
        ("7 % 3", 1),
        ("-7 % 3", 2),
        ("7 % -3", -2),
        ("7.5 % 2", Decimal("1.5")),
        ("-7.5 % 2", Decimal("0.5")),
        ("'ab' + 'cd'", "abcd"),
        ("[1] + [2]", [1, 2]),
        ("order_value * 0.10", Decimal("8.4900")),
    ],
)
def test_arithmetic(source: str, expected: Any) -> None:
    value = ev(source)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("now + 15m", NOW + timedelta(minutes=15)),
        ("15m + now", NOW + timedelta(minutes=15)),
        ("now - 1d", NOW - timedelta(days=1)),
        ("now - attributes.promised_at", timedelta(0)),
        ("now - (now - 90m)", timedelta(minutes=90)),
        ("1h + 30m", timedelta(minutes=90)),
        ("1h - 90m", timedelta(minutes=-30)),
        ("-15m", timedelta(minutes=-15)),
        ("15m * 2", timedelta(minutes=30)),
        ("2 * 15m", timedelta(minutes=30)),
        ("1h * 0.5", timedelta(minutes=30)),
        ("1h / 4", timedelta(minutes=15)),
        ("1h / 0.5", timedelta(hours=2)),
        ("float_value * 1s", timedelta(seconds=12.5)),
        ("1h / 40m", Decimal("1.5")),
        ("lateness / 1m", Decimal("75")),
    ],
)
def test_time_arithmetic(source: str, expected: Any) -> None:
    value = ev(source)
    assert value == expected
    assert type(value) is type(expected)


def test_datetimes_stay_aware() -> None:
    assert ev("now + 1h").tzinfo is UTC


@pytest.mark.parametrize(
    ("source", "operator", "types"),
    [
        ("1 + 'a'", "+", "integer and string"),
        ("'a' - 'b'", "-", "string and string"),
        ("'a' * 3", "*", "string and integer"),
        ("[1] * 3", "*", "list and integer"),
        ("1h + 1", "+", "duration and integer"),
        ("now + now", "+", "datetime and datetime"),
        ("now * 2", "*", "datetime and integer"),
        ("true + 1", "+", "boolean and integer"),
        ("attributes.missing + 15m", "+", "null and duration"),
        ("1h % 7m", "%", "duration and duration"),
        ("1 < 'a'", "<", "integer and string"),
        ("1h > 5", ">", "duration and integer"),
        ("name > 5", ">", "string and integer"),
        ("1 in 'abc'", "in", "integer and string"),
        ("1 in 5", "in", "integer and integer"),
    ],
)
def test_runtime_type_errors_name_operator_and_types(
    source: str, operator: str, types: str
) -> None:
    ctx = {"now": NOW, "attributes": {}, "name": "Ada"}
    try:
        expr = compile_expr(source)
    except ExpressionError as error:  # constant operands fail while compiling
        message = str(error)
    else:
        with pytest.raises(ExpressionError) as caught:
            expr(ctx)
        assert expr.test(ctx) is False
        message = str(caught.value)
    assert f"'{operator}'" in message
    assert types in message


def test_runtime_errors_carry_source_and_column() -> None:
    error = runtime_error("score + 1h", {"score": 1})
    assert error.source == "score + 1h"
    assert error.column == 7
    assert isinstance(error, PolicyError)


def test_naive_and_aware_datetimes_do_not_mix() -> None:
    naive = datetime(2024, 5, 1, 12, 0)  # noqa: DTZ001 - on purpose
    runtime_error("a - b", {"a": NOW, "b": naive})
    runtime_error("a < b", {"a": NOW, "b": naive})


@pytest.mark.parametrize(
    "source",
    [
        "x / 0",
        "x / 0.0",
        "x % 0",
        "x % 0.0",
        "d / 0",
        "d / 0.0",
        "1h / z",
        "x / (y * 0)",
        "0 * x / 0",
        "z / z",
    ],
)
def test_division_by_zero(source: str) -> None:
    error = runtime_error(source, {"x": 1, "y": 2, "d": timedelta(hours=1), "z": timedelta(0)})
    assert "division by zero" in str(error)


def test_constant_errors_are_found_while_compiling() -> None:
    error = syntax_error("1 / 0")
    assert "division by zero" in str(error)
    assert error.column == 3
    assert "'+'" in str(syntax_error("'a' + 1"))


def test_and_or_short_circuit_and_return_booleans() -> None:
    assert ev("false and 1 / x", {"x": 0}) is False
    assert ev("true or 1 / x", {"x": 0}) is True
    assert ev("1 and 'a'") is True
    assert ev("0 or ''") is False
    assert ev("items and name") is True
    assert ev("not items") is False


def test_test_is_truthiness_with_errors_false() -> None:
    assert compile_expr("items").test(CTX) is True
    assert compile_expr("[]").test(CTX) is False
    assert compile_expr("0m").test(CTX) is False
    assert compile_expr("x + 1 > 0").test({"x": "a"}) is False
    assert compile_expr("x + 1 > 0").test({"x": 1}) is True


# --- functions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("min(3, 1, 2)", 1),
        ("max(3, 1, 2)", 3),
        ("min(items)", 1),
        ("max([0.5, 2])", 2),
        ("min(order_value * 0.10, 20)", Decimal("8.4900")),
        ("max(float_value, 1)", Decimal("12.5")),
        ("min(30m, 1h)", timedelta(minutes=30)),
        ("min(attributes.missing, 2)", None),
        ("abs(-3)", 3),
        ("abs(-2.5)", Decimal("2.5")),
        ("abs(-15m)", timedelta(minutes=15)),
        ("round(2.5)", Decimal("3")),
        ("round(-2.5)", Decimal("-3")),
        ("round(2.345, 2)", Decimal("2.35")),
        ("round(2.344, 2)", Decimal("2.34")),
        ("round(7)", 7),
        ("round(1250, -2)", 1300),
        ("round(float_value)", Decimal("13")),
        ("round(attributes.missing, 2)", None),
        ("len('abc')", 3),
        ("len(items)", 3),
        ("len(attributes)", 4),
        ("len(attributes.missing)", None),
        ("lower('AbC')", "abc"),
        ("upper('AbC')", "ABC"),
        ("lower(attributes.missing)", None),
        ("contains('Please REFUND me', 'refund')", True),
        ("contains('hello', 'bye')", False),
        ("contains(customer.tags, 'vip')", True),
        ("contains(items, 2)", True),
        ("contains(attributes, 'issue')", True),
        ("contains(attributes.missing, 'x')", False),
        ("minutes(90s)", Decimal("1.5")),
        ("hours(lateness)", Decimal("1.25")),
        ("minutes(attributes.missing)", None),
        ("lower(name) == 'ada'", True),
    ],
)
def test_functions(source: str, expected: Any) -> None:
    value = ev(source)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("abs()", "abs() takes 1 arguments, not 0"),
        ("abs(1, 2)", "abs() takes 1 arguments"),
        ("round(1, 2, 3)", "round() takes 1 to 2 arguments"),
        ("contains('a')", "contains() takes 2 arguments"),
        ("min()", "min() takes 1 to 64 arguments"),
        ("lower(1)", "lower() of integer"),
        ("abs('a')", "abs() of string"),
        ("round(1.5, 0.5)", "places must be an integer"),
        ("len(5)", "len() of integer"),
        ("minutes(5)", "minutes() of integer"),
        ("min([])", "min() of an empty list"),
        ("max(1, 'a')", "do not compare"),
    ],
)
def test_function_errors(source: str, message: str) -> None:
    assert message in str(syntax_error(source))


def test_function_errors_at_runtime() -> None:
    assert "lower() of integer" in str(runtime_error("lower(x)", {"x": 1}))


# --- syntax errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "column", "message"),
    [
        ("", 1, "expected an operand, found end of input"),
        ("score <= 2 and", 15, "expected an operand, found end of input"),
        ("1 +", 4, "expected an operand, found end of input"),
        ("(1 + 2", 7, "expected ')', found end of input"),
        ("[1, 2", 6, "expected ',' or ']', found end of input"),
        ("min(1 2)", 7, "expected ',' or ')', found number 2"),
        ("a b", 3, "expected an operator or end of input, found name 'b'"),
        ("a = 1", 3, "did you mean '=='"),
        ("a && b", 3, "did you mean 'and'"),
        ("a ! b", 3, "unexpected character '!'"),
        ("a @ b", 3, "unexpected character '@'"),
        ("'abc", 1, "unterminated string"),
        ("x == 'a\\q'", 8, "unknown escape"),
        ("a.", 3, "expected an attribute name after '.', found end of input"),
        ("a.'b'", 3, "expected an attribute name"),
        ("== 1", 1, "expected an operand, found '=='"),
        ("a == not b", 6, "expected an operand, found 'not'"),
        ("a not b", 3, "expected an operator or end of input, found 'not'"),
        ("a in", 5, "expected an operand"),
        ("a[1", 4, "expected ']'"),
        ("x)", 2, "found ')'"),
        ("1.", 3, "expected an attribute name"),
        ("and", 1, "expected an operand, found 'and'"),
    ],
)
def test_syntax_errors_name_column_and_expectation(source: str, column: int, message: str) -> None:
    error = syntax_error(source)
    assert error.column == column
    assert error.source == source
    assert message in str(error)
    assert f"column {column}" in str(error)


# --- properties -----------------------------------------------------------------------------


@st.composite
def int_expressions(draw: st.DrawFn, depth: int = 0) -> tuple[str, int]:
    """An integer expression as source text, with its value by Python's own arithmetic."""
    if depth >= 4 or draw(st.booleans()):
        value = draw(st.integers(min_value=-(10**6), max_value=10**6))
        return (f"({value})" if value < 0 else str(value)), value
    operator = draw(st.sampled_from(["+", "-", "*", "%", "neg", "paren"]))
    left_src, left = draw(int_expressions(depth + 1))
    if operator == "neg":
        return f"-({left_src})", -left
    if operator == "paren":
        return f"({left_src})", left
    right_src, right = draw(int_expressions(depth + 1))
    source = f"({left_src}) {operator} ({right_src})"
    if operator == "+":
        return source, left + right
    if operator == "-":
        return source, left - right
    if operator == "*":
        return source, left * right
    if right == 0:
        return f"({left_src}) + ({right_src})", left + right
    return source, left % right


@given(int_expressions())
def test_integer_arithmetic_agrees_with_python(case: tuple[str, int]) -> None:
    source, expected = case
    assert compile_expr(source)({}) == expected


@given(
    st.integers(-1000, 1000),
    st.integers(-1000, 1000),
    st.integers(-1000, 1000),
)
def test_precedence_agrees_with_python(a: int, b: int, c: int) -> None:
    ctx = {"a": a, "b": b, "c": c}
    assert compile_expr("a + b * c")(ctx) == a + b * c
    assert compile_expr("a - b - c")(ctx) == a - b - c
    assert compile_expr("-a * b + c")(ctx) == -a * b + c
    assert compile_expr("a < b or b <= c and not c == a")(ctx) == (a < b or (b <= c and c != a))
    if c:
        assert compile_expr("a * b % c")(ctx) == a * b % c


@given(
    st.decimals(
        allow_nan=False, allow_infinity=False, places=4, min_value=-(10**6), max_value=10**6
    )
)
def test_decimal_addition_is_exact(value: Decimal) -> None:
    assert compile_expr("x + 0.0001 - 0.0001 == x")({"x": value}) is True


@given(st.text(max_size=40))
def test_any_text_compiles_or_raises_expression_error(source: str) -> None:
    try:
        expr = compile_expr(source)
    except ExpressionError as error:
        assert error.column is None or 1 <= error.column <= len(source) + 1
    else:
        expr.test({})


# --- functions for mapping webhook payloads (str, coalesce, if, time) ---------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("str(x)", "5940139491234"),
        ("str(d)", "59.99"),
        ("str(f)", "0.1"),
        ("str(b)", "true"),
        ("str(s)", "abc"),
        ("str(missing)", None),
        ('"shopify:" + str(x)', "shopify:5940139491234"),
        ("str(t)", "2026-11-23T12:00:00+00:00"),
    ],
)
def test_str_gives_text_of_scalars(source: str, expected: Any) -> None:
    ctx = {
        "x": 5940139491234,
        "d": Decimal("59.99"),
        "f": 0.1,
        "b": True,
        "s": "abc",
        "t": datetime(2026, 11, 23, 12, tzinfo=UTC),
    }
    assert compile_expr(source)(ctx) == expected


def test_str_refuses_lists_and_mappings() -> None:
    with pytest.raises(ExpressionError, match=r"str\(\) of list"):
        compile_expr("str(x)")({"x": [1]})
    with pytest.raises(ExpressionError, match=r"str\(\) of mapping"):
        compile_expr("str(x)")({"x": {"a": 1}})


def test_coalesce_takes_the_first_non_null() -> None:
    expr = compile_expr('coalesce(body.customer.email, body.email, "unknown")')
    assert expr({"body": {"customer": {"email": "a@x"}, "email": "b@x"}}) == "a@x"
    assert expr({"body": {"customer": None, "email": "b@x"}}) == "b@x"
    assert expr({"body": {}}) == "unknown"
    assert compile_expr("coalesce(a, b)")({}) is None
    assert compile_expr("coalesce(a, 0)")({"a": False}) is False  # only null is skipped


def test_if_chooses_by_a_condition() -> None:
    expr = compile_expr('if(status in ["resolved", "postmortem"], "restored", "down")')
    assert expr({"status": "resolved"}) == "restored"
    assert expr({"status": "investigating"}) == "down"
    assert expr({}) == "down"
    with pytest.raises(ExpressionError, match="takes 3 arguments"):
        compile_expr("if(a, b)")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-11-10T10:30:00-05:00", datetime(2024, 11, 10, 15, 30, tzinfo=UTC)),
        ("2019-05-25T01:23:45Z", datetime(2019, 5, 25, 1, 23, 45, tzinfo=UTC)),
        (1700000000, datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
        (Decimal("1.5"), datetime(1970, 1, 1, 0, 0, 1, 500000, tzinfo=UTC)),
        (None, None),
    ],
)
def test_time_parses_iso_text_and_unix_seconds_to_utc(value: Any, expected: Any) -> None:
    parsed = compile_expr("time(x)")({"x": value})
    assert parsed == expected
    if parsed is not None:
        assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2024-11-10T10:30:00", "no timezone offset"),
        ("yesterday", "not an ISO 8601 date-time"),
        ([1], r"time\(\) of list"),
        (10**20, "out of range"),
    ],
)
def test_time_refuses_what_is_not_an_aware_moment(value: Any, message: str) -> None:
    with pytest.raises(ExpressionError, match=message):
        compile_expr("time(x)")({"x": value})


def test_time_plus_a_duration() -> None:
    expr = compile_expr("time(t) + 45m")
    assert expr({"t": "2026-11-23T12:00:00Z"}) == datetime(2026, 11, 23, 12, 45, tzinfo=UTC)
