"""Spoken arithmetic and unit conversions, without ``eval``.

:func:`to_expression` turns "what is twelve times seven" / "what's 12 x 7?" / "the square
root of 144" / "15 percent of 80" / "2 to the power of 10" into an expression string
(``12 * 7``, ``sqrt(144)``, ``15 / 100 * 80``, ``2 ** 10``); :func:`evaluate` computes it
by walking Python's ``ast`` with a whitelist (numbers, + - * / // % **, unary minus,
parentheses, ``sqrt``), with limits on exponents and magnitudes. :func:`parse_conversion`
reads "convert 5 miles to kilometers" / "how many grams are in a pound" / "20 degrees
celsius in fahrenheit" and :func:`convert` does it with ``pint``.
"""

from __future__ import annotations

import ast
import math
import operator
import re
import threading
from dataclasses import dataclass

from text_to_num import alpha2digit

MAX_EXPONENT = 1000
MAX_MAGNITUDE = 1e100


class MathError(ValueError):
    """The expression cannot be read or computed; ``str()`` is a sentence to say."""


_NUM = r"(?:\d+(?:\.\d+)?|\()"  # what may start an operand once number words are digits
_WORDS = [
    (r"\bmultiplied (?:by|with)\b|\btimes\b|\btime\b(?=\s*" + _NUM + r")|×|(?<!\*)\*(?!\*)|\bx\b(?=\s*" + _NUM + ")"
     r"|(?<=\d)\s*x\s*(?=\d)|(?<=\d)\s+(?:into|by)\s+(?=" + _NUM + ")", " * "),
    (r"\bdivided (?:by|with)\b|\bdivide by\b|\bover\b|÷|/", " / "),
    (r"\bplus\b|\badded to\b|\+", " + "),
    (r"\bminus\b|\btake away\b|\bsubtract\b|\bless\b(?=\s*" + _NUM + r")", " - "),
    (r"\bto the power of\b|\braised to(?: the power of)?\b|\bto the\b(?=\s*\d)|\^", " ** "),
    (r"\bsquared\b", " ** 2 "),
    (r"\bcubed\b", " ** 3 "),
    (r"\bmod(?:ulo)?\b", " % "),
]
#: Verb-first phrasings ("multiply 12 by 7") → operand order and operator, tried in order.
_VERBS = [
    (re.compile(r"\b(?:multiply|times)\s+(.+?)\s+(?:by|and|with|times)\s+(.+)$"), r"\1 * \2"),
    (re.compile(r"\bdivide\s+(.+?)\s+(?:by|into)\s+(.+)$"), r"\1 / \2"),
    (re.compile(r"\badd\s+(.+?)\s+(?:and|to|plus)\s+(.+)$"), r"\1 + \2"),
    (re.compile(r"\bsubtract\s+(.+?)\s+from\s+(.+)$"), r"\2 - \1"),
    (re.compile(r"\btake\s+(.+?)\s+(?:away\s+)?from\s+(.+)$"), r"\2 - \1"),
]
#: Words Whisper writes for a spoken number where a number must be ("12 times to",
#: "what is for plus 4"): "to"/"too" → 2, "for"/"fore" → 4, "won" → 1, "ate" → 8.
_HOMOPHONES = {"to": "2", "too": "2", "for": "4", "fore": "4", "won": "1", "ate": "8"}
_OPS = {"*", "/", "+", "-", "**", "%", "("}
_FILLER = re.compile(
    r"^(?:(?:hey|ok|okay|so|please|can you|could you|would you|tell me|i want to know|do you know|quick question)\s+)*"
    r"(?:what(?:'s| is| are| does)?|how much is|calculate|compute|work out|figure out|solve|evaluate|how much does)?\s*"
    r"(?:the (?:result|answer|value|sum) of\s+)?")


def _number_homophones(s: str) -> str:
    """Replace "to"/"for"/... by the digit where an operand must be: after an operator or at
    the start, and before an operator or at the end (``"12 * to"`` → ``"12 * 2"``)."""
    toks = s.split()
    out = []
    for i, t in enumerate(toks):
        if t in _HOMOPHONES:
            before = i == 0 or toks[i - 1] in _OPS
            after = i == len(toks) - 1 or toks[i + 1] in _OPS or toks[i + 1] == ")"
            if before and after:
                t = _HOMOPHONES[t]
        out.append(t)
    return " ".join(out)


def to_expression(text: str) -> str:
    """A spoken or typed calculation → an expression string for :func:`evaluate`.

    Accepts the forms people say and the variants Whisper writes for them, whatever CPU
    kernels decoded the audio: number words or digits ("twelve"/"12", "1,000"), "times",
    "time", "x", "×", "*", "into" and "by" between numbers, "multiplied by/with",
    "multiply A by B", "divide A by B", "add A and B", "subtract A from B", "percent",
    "per cent" or "%", "to"/"too" for two and "for" for four where a number must be,
    and stray punctuation ("12. Times 7?", "12 × 7 =").

    Args:
        text: the request as transcribed or typed.

    Returns:
        An expression over numbers, ``+ - * / % **``, parentheses and ``sqrt`` (e.g.
        ``"12 * 7"``).

    Raises:
        MathError: nothing that looks like a calculation.
    """
    s = (text or "").lower()
    s = re.sub(r"(?<=\d),(?=\d{3}\b)", "", s)  # 1,000 → 1000
    s = s.replace(",", " ").replace("=", " ")
    s = re.sub(r"[?!;:\"“”]", " ", s)
    s = re.sub(r"(?<=\d)\.(?!\d)|(?<!\d)\.(?=\D|$)", " ", s)
    s = s.replace("−", "-").replace("–", "-")
    s = re.sub(r"(?<=\w)-(?=[a-z])", " ", s)  # "twenty-five", "fifty-percent"
    s = s.replace("-", " - ")
    s = re.sub(r"\bhalf of\b", "0.5 times ", s)
    s = re.sub(r"\b(twice|double)\b", "2 times ", s)
    s = alpha2digit(s, "en", threshold=0)
    s = _FILLER.sub("", s.strip(), count=1)
    for rx, repl in _VERBS:
        s = rx.sub(repl, s)
    s = re.sub(r"\b(equal|equals|make|makes|come to|please|exactly|approximately|about)\b", " ", s)
    s = re.sub(r"(\d+(?:\.\d+)?)\s*(?:%|percent|per cent)\s+of\b", r"(\1 / 100) * ", s)
    s = re.sub(r"(\d+(?:\.\d+)?)\s*(?:%|percent|per cent)", r"(\1 / 100)", s)
    s = re.sub(r"\b(?:the )?square root of\s+(\(?[\d.]+\)?)", r" sqrt(\1) ", s)
    s = re.sub(r"\b(?:the )?cube root of\s+(\(?[\d.]+\)?)", r" (\1) ** (1 / 3) ", s)
    for pattern, repl in _WORDS:
        s = re.sub(pattern, repl, s)
    s = re.sub(r"\bthe\b|\bof\b|\bis\b|\band\b", " ", s)
    s = " ".join(s.replace("(", " ( ").replace(")", " ) ").split())
    s = _number_homophones(s)
    s = re.sub(r"\(\s+", "(", re.sub(r"\s+\)", ")", s))
    s = re.sub(r"sqrt \(", "sqrt(", s)
    if not re.search(r"\d", s) or re.search(r"[a-z](?<!sqrt)", s.replace("sqrt", "")):
        raise MathError("Sorry, I didn't understand the calculation.")
    return s


_BIN = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
        ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}


def evaluate(expression: str) -> float:
    """Compute ``expression`` (numbers, + - * / // % **, parentheses, ``sqrt``).

    Raises:
        MathError: a syntax error, anything outside the whitelist, division by zero, an
            exponent above :data:`MAX_EXPONENT` or a result above :data:`MAX_MAGNITUDE`.
    """
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError:
        raise MathError("Sorry, I didn't understand the calculation.") from None

    def walk(node: ast.AST) -> float:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            v = walk(node.operand)
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.BinOp) and type(node.op) in _BIN:
            left, right = walk(node.left), walk(node.right)
            if isinstance(node.op, ast.Pow) and (abs(right) > MAX_EXPONENT or abs(left) > MAX_MAGNITUDE):
                raise MathError("Sorry, that number is too big for me.")
            try:
                out = _BIN[type(node.op)](left, right)
            except ZeroDivisionError:
                raise MathError("You can't divide by zero.") from None
            except OverflowError:
                raise MathError("Sorry, that number is too big for me.") from None
            if isinstance(out, complex):
                raise MathError("The answer is not a real number.")
            if abs(out) > MAX_MAGNITUDE:
                raise MathError("Sorry, that number is too big for me.")
            return out
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "sqrt"
                and len(node.args) == 1 and not node.keywords):
            v = walk(node.args[0])
            if v < 0:
                raise MathError("The answer is not a real number.")
            return math.sqrt(v)
        raise MathError("Sorry, I didn't understand the calculation.")

    return walk(tree)


def spoken_number(x: float) -> str:
    """``84`` → ``"84"``, ``2.5`` → ``"2.5"``, ``0.3333`` → ``"0.333"``, ``1234567`` →
    ``"1,234,567"``; at most 3 decimals, or 3 significant digits for small numbers."""
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        x = int(x)
    if isinstance(x, int):
        return f"{x:,}"
    if abs(x) >= 1e15 or (x != 0 and abs(x) < 1e-3):
        return f"{x:.3g}".replace("e+", " times 10 to the ").replace("e-", " times 10 to the minus ")
    digits = 3 if abs(x) >= 1 else max(3, -math.floor(math.log10(abs(x))) + 2)
    out = f"{x:,.{digits}f}".rstrip("0").rstrip(".")
    return out


def spoken_expression(expression: str) -> str:
    """``12 * 7`` → ``"12 times 7"`` (for the answer sentence)."""
    s = expression
    for sym, word in ((" ** ", " to the power of "), (" * ", " times "), (" / ", " divided by "),
                      (" + ", " plus "), (" - ", " minus "), (" % ", " modulo ")):
        s = s.replace(sym, word)
    s = re.sub(r"sqrt\((.+?)\)", r"the square root of \1", s)
    s = re.sub(r"\((\S+) divided by 100\) times", r"\1 percent of", s)
    s = re.sub(r"\((\S+) divided by 100\)", r"\1 percent", s)
    return " ".join(s.replace("(", "").replace(")", "").split())


# ---------------------------------------------------------------------------- units
_UNIT_WORDS = {
    "degrees celsius": "degC", "degree celsius": "degC", "celsius": "degC", "centigrade": "degC",
    "degrees fahrenheit": "degF", "degree fahrenheit": "degF", "fahrenheit": "degF", "kelvin": "kelvin",
    "miles per hour": "mile/hour", "mph": "mile/hour", "kilometers per hour": "km/hour",
    "kilometres per hour": "km/hour", "km/h": "km/hour", "kph": "km/hour", "meters per second": "m/s",
    "metres per second": "m/s", "fluid ounces": "fluid_ounce", "fluid ounce": "fluid_ounce",
    "tablespoons": "tablespoon", "teaspoons": "teaspoon", "stone": "stone", "stones": "stone",
    "kilos": "kilogram", "kilo": "kilogram", "kgs": "kilogram", "lbs": "pound", "lb": "pound",
    "metres": "meter", "metre": "meter", "kilometres": "kilometer", "kilometre": "kilometer",
    "centimetres": "centimeter", "centimetre": "centimeter", "millimetres": "millimeter",
    "millimetre": "millimeter", "litres": "liter", "litre": "liter", "millilitres": "milliliter",
    "millilitre": "milliliter", "us gallons": "gallon", "gallons": "gallon", "feet": "foot",
    "inches": "inch", "cups": "cup", "pints": "pint", "quarts": "quart", "yards": "yard",
}
_unit_lock = threading.Lock()
_ureg = None


def registry():
    """The shared ``pint.UnitRegistry`` (created on first use, about 1 s)."""
    global _ureg
    with _unit_lock:
        if _ureg is None:
            import pint

            _ureg = pint.UnitRegistry()
        return _ureg


def _unit(words: str) -> str:
    w = " ".join(words.lower().replace("degrees ", "degrees ").split()).strip(" .?")
    w = re.sub(r"^(?:a|an|one|the)\s+", "", w)
    return _UNIT_WORDS.get(w, w.replace(" ", "_"))


@dataclass
class Conversion:
    """A conversion request: ``amount`` of ``source`` into ``target`` (pint unit names)
    and the words used for them."""

    amount: float
    source: str
    target: str
    source_words: str
    target_words: str


_CONV = [
    # how many grams (are) in (a|1|5) pound(s)
    re.compile(r"how many (?P<to>[a-z/ ]+?) (?:are |is )?(?:there )?in (?:a |an |one )?(?P<n>[\d.]+)?\s*(?P<from>[a-z/ ]+)$"),
    # (convert) 5 miles (to|in|into) kilometers
    re.compile(r"(?P<n>-?[\d.]+)\s*(?P<from>[a-z/ ]+?) (?:to|in|into|as) (?P<to>[a-z/ ]+)$"),
    # (convert) a mile (to|in) kilometers
    re.compile(r"(?:a|an|one) (?P<from>[a-z/ ]+?) (?:to|in|into|as) (?P<to>[a-z/ ]+)$"),
]
_CONV_FILLER = re.compile(r"^(?:(?:hey|ok|okay|please|can you|could you|tell me)\s+)*"
                          r"(?:convert|change|what(?:'s| is| are)?|how much is|how much are|turn)?\s*")


def parse_conversion(text: str) -> Conversion:
    """Read a conversion request ("convert 5 miles to kilometers", "how many grams in a
    pound", and Whisper's variants: "five miles two kilometers", stray punctuation).

    Raises:
        MathError: not understood.
    """
    s = alpha2digit((text or "").lower().replace(",", ""), "en", threshold=0)
    s = re.sub(r"[?!]", "", s)
    s = re.sub(r"(?<!\d)\.|\.(?!\d)", "", s).strip()
    s = re.sub(r"(\d)([a-z])", r"\1 \2", s)
    s = re.sub(r"\s+(?:please|for me)$", "", s)
    s = re.sub(r"\b(?:degrees) (c|f)\b", lambda m: "degrees " + {"c": "celsius", "f": "fahrenheit"}[m.group(1)], s)
    s = _CONV_FILLER.sub("", s, count=1).strip()
    # "5 miles two kilometers": Whisper's "two" for "to" between the units.
    s = re.sub(r"^(-?[\d.]+\s*[a-z/ ]+?)\s+(?:2|too)\s+([a-z/ ]+)$", r"\1 to \2", s)
    for rx in _CONV:
        m = rx.search(s)
        if m:
            n = float(m.groupdict().get("n") or 1)
            src, dst = m.group("from").strip(), m.group("to").strip()
            return Conversion(n, _unit(src), _unit(dst), src, dst)
    raise MathError("Sorry, I didn't understand the conversion.")


def convert(conv: Conversion) -> float:
    """Do the conversion with pint.

    Raises:
        MathError: unknown unit, or units of different kinds.
    """
    import pint

    ureg = registry()
    try:
        q = ureg.Quantity(conv.amount, ureg.parse_units(conv.source))
        return float(q.to(ureg.parse_units(conv.target)).magnitude)
    except pint.errors.UndefinedUnitError as exc:
        raise MathError(f"Sorry, I don't know the unit {getattr(exc, 'unit_names', None) or exc}.".replace("('", "")
                        .replace("',)", "")) from None
    except pint.errors.DimensionalityError:
        raise MathError(f"Sorry, I can't convert {conv.source_words} to {conv.target_words}.") from None
    except (pint.errors.PintError, ValueError, TypeError, AttributeError):
        raise MathError("Sorry, I didn't understand the conversion.") from None
