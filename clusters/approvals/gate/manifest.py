"""Read an Odoo `__manifest__.py` without executing anything.

Odoo itself does `ast.literal_eval` (odoo/modules/module.py load_manifest). Uploaded manifests are hostile
until proven otherwise, so before any parsing we bound the size (a 10 MB file is refused unread), the
bracket nesting (CPython's parser gives up at 200 levels and `literal_eval` recurses once per level, so
10,000 levels must be refused by a cheap scan first), and the expressions outside strings: a literal
manifest has no names (but True/False/None), no operators (but a sign before a number), no calls and no
subscripts, while each of those can nest without a bracket (`x.y.y...`, `x()()...`, `- - 1`, `1+1+...`,
`not not 1`, `1 if 1 else 1 if ...`, `lambda: lambda: ...`, one inside an f-string): a few hundred
make the parser or any walker of its tree recurse past Python's limit, a RecursionError that would
surface as a 500. More than MAX_OPERATORS of them are refused by a scan of the text (regular
expressions over the text with its strings and comments blanked, an f-string's expressions kept);
fewer cannot nest deeper than that. The parsed tree is then walked once, accepting only literal nodes, and
converted to values: a strict subset of what `literal_eval` accepts, so the result is the same, and one
walk costs half of "check, then literal_eval" on 20,000 manifests.
"""

from __future__ import annotations

import ast
import io
import os
import re
import stat
import tokenize
from typing import Any

from clusters.approvals.gate.errors import ManifestError

MAX_MANIFEST_BYTES = 256 * 1024
MAX_NESTING = 32  # real manifests nest 3-4 levels (dict > list > tuple)
MAX_DEPENDS = 2_000
MAX_OPERATORS = 64  # names, operators, calls, subscripts outside strings; a literal manifest has none
ADDON_NAME_RE = re.compile(r"[A-Za-z0-9_]{1,128}")
_OPENERS = "([{"
_CLOSERS = ")]}"
_NUMBER_TYPES = (int, float)
_SCALAR_TYPES = (str, int, float, bool, type(None))
_LITERALS_ONLY = "(only literals: dicts, lists, tuples, strings, numbers, True/False/None)"
# A string literal (a backslash escapes the next character, also in raw strings; a single-quoted string
# ends at the line's end), its body in one of the groups b1-b4.
_STRING = (
    r"'''(?P<b1>[^'\\]*(?:(?:\\.|'(?!''))[^'\\]*)*)'''"
    r'|"""(?P<b2>[^"\\]*(?:(?:\\.|"(?!""))[^"\\]*)*)"""'
    r"|'(?P<b3>[^'\\\n]*(?:\\.[^'\\\n]*)*)'"
    r'|"(?P<b4>[^"\\\n]*(?:\\.[^"\\\n]*)*)"'
)
# A comment, or a string with its prefix; without the prefix, it stays in the text as a name.
_STRING_OR_COMMENT = re.compile(r"#[^\n]*|(?P<prefix>[rRbBuUfF]{0,2})(?:" + _STRING + ")", re.DOTALL)
_UNPREFIXED_STRING_OR_COMMENT = re.compile(r"#[^\n]*|" + _STRING, re.DOTALL)
# Anything but brackets, commas, colons and digits, or a call or a subscript of a value ("a"[0], ()()).
_NOT_PLAIN = re.compile(r"[^\s\d()\[\]{},:\\]|[\d)\]}]\s*[(\[]")
# A number, with its sign when that is a unary sign (after a bracket, a comma or a colon).
_NUMBER = re.compile(
    r"(?:(?<=[(\[{,:])\s*[-+]\s*)?"
    r"(?:0[xXoObB][0-9a-fA-F_]+|(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][-+]?\d[\d_]*)?[jJ]?)"
)
# What no literal has: a name, an operator, a call or a subscript (a bracket right after a value).
_OPERATOR = re.compile(r"\b(?!(?:True|False|None)\b)[^\W\d]\w*|[-+.~*/%@<>=!&|^]|(?<=[\w)\]}])\s*[(\[]")


def is_addon_name(value: object) -> bool:
    """A plain technical name: what Odoo puts in ir_module_module.name and on `-u` command lines."""
    return isinstance(value, str) and ADDON_NAME_RE.fullmatch(value) is not None


def read_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and parse one manifest file; a FIFO, device or oversized file is refused before reading."""
    return parse_manifest(read_manifest_bytes(path), os.fspath(path))


def read_manifest_bytes(path: str | os.PathLike[str]) -> bytes:
    """One manifest file's bytes, unparsed (what an approval's manifest hash is taken over)."""
    name = os.fspath(path)
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise ManifestError(name, f"cannot be opened ({exc.strerror})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ManifestError(name, "is not a regular file")
        if st.st_size > MAX_MANIFEST_BYTES:
            raise ManifestError(name, _too_big(st.st_size))
        return os.read(fd, MAX_MANIFEST_BYTES + 1)
    finally:
        os.close(fd)


def parse_manifest(data: bytes, path: str = "<manifest>") -> dict[str, Any]:
    """Parse manifest bytes into a dict, or raise ManifestError saying what is wrong and where."""
    if len(data) > MAX_MANIFEST_BYTES:
        raise ManifestError(path, _too_big(len(data)))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ManifestError(
            path, f"is not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from None
    if "\x00" in text:
        raise ManifestError(path, "contains a NUL byte; a manifest is Python source text")
    _check_operators(text, path)  # first: cheap, and it spares the tokenizer of _check_nesting a chain
    _check_nesting(text, path)
    try:
        tree = ast.parse(text, filename=path, mode="eval")
    except SyntaxError as exc:
        raise ManifestError(path, f"is not a Python literal (line {exc.lineno}: {exc.msg})") from None
    except (MemoryError, RecursionError, ValueError) as exc:
        raise ManifestError(path, f"cannot be parsed ({type(exc).__name__})") from None
    if not isinstance(tree.body, ast.Dict):
        raise ManifestError(path, f"must be a single dict literal, not {_describe(tree.body)}")
    try:
        manifest = _literal(tree.body)
    except _Refused as refused:
        node = refused.node
        raise ManifestError(
            path,
            f"line {getattr(node, 'lineno', '?')}: {_describe(node)} is not allowed in a manifest "
            + _LITERALS_ONLY,
        ) from None
    except RecursionError:  # bounded by MAX_NESTING; this only guards a caller already deep in its stack
        raise ManifestError(path, "is nested too deeply to be read") from None
    except TypeError as exc:  # an unhashable key such as {[1]: 2}
        raise ManifestError(path, f"has an invalid key ({exc})") from None
    _check_fields(manifest, path)
    return manifest


def _too_big(size: int) -> str:
    return f"is {size:,} bytes; the limit is {MAX_MANIFEST_BYTES // 1024} KiB"


def _check_nesting(text: str, path: str) -> None:
    """Refuse deep bracket nesting before the parser sees it.

    The raw bracket count bounds the depth, so the common case costs three `str.count` calls; only a
    manifest with many brackets (in strings, usually) is tokenized to measure the real depth.
    """
    if text.count("(") + text.count("[") + text.count("{") <= MAX_NESTING:
        return
    depth = 0
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type != tokenize.OP:
                continue
            if tok.string in _OPENERS:
                depth += 1
                if depth > MAX_NESTING:
                    raise ManifestError(
                        path, f"line {tok.start[0]}: brackets nested deeper than {MAX_NESTING} levels"
                    )
            elif tok.string in _CLOSERS:
                depth -= 1
    except (tokenize.TokenError, SyntaxError):
        return  # unbalanced or malformed: the parser below reports it with a line number


def _check_operators(text: str, path: str) -> None:
    """Refuse more than MAX_OPERATORS names and operators outside strings, before the parser sees them.

    Most manifests hold, outside strings and comments, nothing but brackets, commas, colons, digits and
    True/False/None: one substitution and one search in C say so. The others are scanned in full.
    """
    quick = _UNPREFIXED_STRING_OR_COMMENT.sub(" 0 ", text)  # a prefix (f'{x}', r'') is left as a name
    for word in ("True", "False", "None"):
        quick = quick.replace(word, "")
    if _NOT_PLAIN.search(quick) is None:
        return
    code = _code(text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text)
    for count, match in enumerate(_OPERATOR.finditer(code), 1):
        if count == 1:
            first = code.count("\n", 0, match.start()) + 1
        elif count > MAX_OPERATORS:
            raise ManifestError(
                path,
                f"line {first}: an expression of more than {MAX_OPERATORS} names, operators, calls or "
                f"subscripts is not allowed in a manifest {_LITERALS_ONLY}",
            )


def _code(text: str) -> str:
    """The text with each string as a number and comments removed (lines kept), numbers and their unary
    signs as 0, up to the first quote that opens no string (the parser stops there). An f-string's
    expressions are code: they count, with one more for the f-string."""

    def blank(match: re.Match[str]) -> str:
        if match["prefix"] is None:  # a comment
            return ""
        body = match["b1"] or match["b2"] or match["b3"] or match["b4"] or ""
        if "f" in match["prefix"].lower():
            return " 0 . " + _code(body) + " "
        return " 0 " + "\n" * body.count("\n")

    code = _STRING_OR_COMMENT.sub(blank, text)
    stray = min((i for i in (code.find("'"), code.find('"')) if i >= 0), default=len(code))
    return _NUMBER.sub(" 0 ", code[:stray])


class _Refused(Exception):
    def __init__(self, node: ast.AST) -> None:
        self.node = node


def _literal(node: ast.AST) -> Any:
    """Convert an allowed literal node; recursion is bounded by MAX_NESTING (checked above)."""
    if type(node) is ast.Constant:
        if isinstance(node.value, _SCALAR_TYPES):
            return node.value
    elif type(node) is ast.List:
        return [_literal(e) for e in node.elts]
    elif type(node) is ast.Dict:
        if None in node.keys:  # {**other}
            raise _Refused(node)
        return {_literal(k): _literal(v) for k, v in zip(node.keys, node.values, strict=True)}  # type: ignore[arg-type]
    elif type(node) is ast.Tuple:
        return tuple(_literal(e) for e in node.elts)
    elif type(node) is ast.Set:
        return {_literal(e) for e in node.elts}
    elif type(node) is ast.UnaryOp and type(node.op) in (ast.USub, ast.UAdd):
        operand = node.operand
        if type(operand) is ast.Constant and type(operand.value) in _NUMBER_TYPES:
            value: int | float = operand.value  # type: ignore[assignment]
            return -value if type(node.op) is ast.USub else value
    raise _Refused(node)


def _describe(node: ast.AST) -> str:
    if isinstance(node, ast.Call):
        return f"a function call `{_snippet(node.func)}(...)`"
    if isinstance(node, ast.Name):
        return f"the name `{node.id}`"
    if isinstance(node, ast.Attribute):
        return f"attribute access `{_snippet(node)}`"
    if isinstance(node, ast.Constant):
        return f"a {type(node.value).__name__} constant"
    if isinstance(node, ast.BinOp | ast.BoolOp | ast.UnaryOp | ast.Compare):
        return "an expression with operators"
    if isinstance(node, ast.Dict):
        return "dict unpacking `**`"
    return f"a {type(node).__name__} expression"


def _snippet(node: ast.AST) -> str:
    try:
        text = ast.unparse(node)  # recursive, and its depth is bounded by MAX_OPERATORS and MAX_NESTING
    except RecursionError:
        return type(node).__name__
    return text if len(text) <= 40 else text[:37] + "..."


def _check_fields(manifest: dict[Any, Any], path: str) -> None:
    """The fields the gate relies on must have the types Odoo and manifestoo expect."""
    for key in manifest:
        if not isinstance(key, str):
            raise ManifestError(path, f"has a non-string key {key!r}")
    depends = manifest.get("depends", [])
    if not isinstance(depends, list):
        raise ManifestError(path, f"'depends' must be a list of addon names, not {type(depends).__name__}")
    if len(depends) > MAX_DEPENDS:
        raise ManifestError(path, f"'depends' lists {len(depends)} addons; the limit is {MAX_DEPENDS}")
    for dep in depends:
        if not is_addon_name(dep):
            raise ManifestError(path, f"'depends' holds {dep!r}, which is not a plain addon name")
    installable = manifest.get("installable", True)
    if not isinstance(installable, bool):
        raise ManifestError(path, f"'installable' must be True or False, not {installable!r}")
    version = manifest.get("version")
    if version is not None and not isinstance(version, str):
        raise ManifestError(path, f"'version' must be a string, not {type(version).__name__}")
    auto = manifest.get("auto_install", False)
    if not isinstance(auto, bool) and not (isinstance(auto, list) and all(is_addon_name(d) for d in auto)):
        raise ManifestError(
            path, f"'auto_install' must be True, False or a list of addon names, not {auto!r}"
        )
