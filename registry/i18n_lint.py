"""Find user-facing text that is not marked for translation (``make lint``).

``python -m registry.i18n_lint [PATH...]`` prints ``file:line: text`` for each finding and
exits 1 when there is any.  Without paths it checks ``templates/`` and ``registry/``.

Templates: every HTML text node and every translatable attribute (``placeholder``,
``title``, ``aria-label``, ``alt``, ``value`` of input buttons, ``data-text-*`` words
handed to scripts) must come from ``_()``: once the Jinja parts are blanked out, no letters may
remain, apart from names that are never translated (``UNTRANSLATED``).

Python: the strings people read through the web are those given to ``flash``,
``ValidationFailed``, ``AccountError``, WTForms' ``ValidationError``, a WTForms field's
label or a validator's ``message``, and assigned into an ``...errors`` mapping; none of them
may be a plain or f-string literal (gettext, lazy_gettext or an ``N_`` constant instead).
A line that must stay as it is says so with ``# i18n: not shown`` and why.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PATHS = (ROOT / "templates", ROOT / "registry")
# Words that stay as they are in every language: instruments, formats, standards, the
# languages' own names, units and symbols.
_KEPT_WORDS = (
    "KOA KOOS WOMAC VAS NRS PGA GRC JR PS ADL QOL MCII MIC PASS SAE AE KL ID IDs QR CSV TSV "
    "JSON XML SVG PNG PDF Excel Parquet SPSS SAS Stata R ODM CDISC FHIR REDCap LOINC SHA UTC "
    "ISO English Español mm cm kg ml mL x y n N p SD CI IQR TOTP")
UNTRANSLATED = frozenset(_KEPT_WORDS.split(" "))
TRANSLATABLE_ATTRIBUTES = frozenset({"placeholder", "title", "aria-label", "alt",
                                     "aria-description", "aria-roledescription"})
BUTTON_TYPES = frozenset({"submit", "button", "reset"})
JINJA_PART = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
WORD = re.compile(r"[^\W\d_]+")
# A macro that prints attributes for a tag written elsewhere (` aria-describedby="…"`).
ATTRIBUTE_FRAGMENT = re.compile(r'^(\s*[\w-]+="[^"]*")+\s*$')
IGNORE_MARK = "i18n: not shown"
MESSAGE_CALLS = frozenset({"flash", "ValidationFailed", "AccountError", "ValidationError"})


@dataclass(frozen=True)
class Finding:
    path: Path
    line: int
    text: str

    def __str__(self) -> str:
        try:
            shown = self.path.relative_to(ROOT)
        except ValueError:
            shown = self.path
        return f"{shown}:{self.line}: {self.text}"


def has_words(text: str) -> bool:
    """True when ``text`` holds a word a reader would need translated."""
    return any(word not in UNTRANSLATED for word in WORD.findall(text))


class _TextNodes(HTMLParser):
    """Collects (line, text) for text nodes and translatable attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, str]] = []
        self._raw = 0  # inside <script>/<style>

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"script", "style"}:
            self._raw += 1
        values = dict(attrs)
        line = self.getpos()[0]
        for name, value in attrs:
            if not value:
                continue
            wanted = (name in TRANSLATABLE_ATTRIBUTES or name.startswith("data-text-")
                      or (name == "value" and tag == "input"
                          and values.get("type") in BUTTON_TYPES))
            if wanted and has_words(value):
                self.found.append((line, f"{tag}[{name}]: {value.strip()}"))

    def handle_endtag(self, tag: str) -> None:
        if tag in {"script", "style"} and self._raw:
            self._raw -= 1

    def handle_data(self, data: str) -> None:
        if not self._raw and has_words(data) and not ATTRIBUTE_FRAGMENT.match(data):
            self.found.append((self.getpos()[0], " ".join(data.split())))


def check_template(path: Path) -> list[Finding]:
    source = path.read_text(encoding="utf-8")
    # Blank each Jinja part (spaces, keeping its line breaks so that lines still match):
    # what it prints is either marked (``_()``) or data.
    blanked = JINJA_PART.sub(lambda match: re.sub(r"[^\n]", " ", match.group()), source)
    parser = _TextNodes()
    parser.feed(blanked)
    parser.close()
    return [Finding(path, line, text) for line, text in parser.found]


def _literal_text(node: ast.expr) -> str | None:
    """The text of a plain or f-string literal with words in it, else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value if has_words(node.value) else None
    if isinstance(node, ast.JoinedStr):
        text = "".join(part.value for part in node.values
                       if isinstance(part, ast.Constant) and isinstance(part.value, str))
        return text if has_words(text) else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mod):
        return _literal_text(node.left)
    return None


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _messages(node: ast.AST) -> Iterator[ast.expr]:
    """The expressions that ``node`` hands to a reader as a message."""
    if isinstance(node, ast.Call):
        called = _name(node.func)
        if called in MESSAGE_CALLS and node.args:
            first = node.args[0]
            if isinstance(first, ast.Dict):
                yield from (value for value in first.values if value is not None)
            else:
                yield first
        if called.endswith("Field") and called[:1].isupper():
            if node.args:
                yield node.args[0]
            yield from (kw.value for kw in node.keywords if kw.arg in {"label", "description"})
        yield from (kw.value for kw in node.keywords if kw.arg == "message")
    elif isinstance(node, ast.Assign):
        for target in node.targets:
            if isinstance(target, ast.Subscript) and _name(target.value).endswith("errors"):
                yield node.value


def check_python(path: Path) -> list[Finding]:
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    findings = []
    for node in ast.walk(ast.parse(source, str(path))):
        for message in _messages(node):
            text = _literal_text(message)
            if text is None:
                continue
            around = lines[max(0, message.lineno - 2):message.end_lineno or message.lineno]
            if any(IGNORE_MARK in line for line in around):
                continue
            findings.append(Finding(path, message.lineno, " ".join(text.split())))
    return findings


def _files(paths: Iterable[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.suffix in {".html", ".py"})
        elif path.suffix in {".html", ".py"}:
            yield path


def check(paths: Iterable[Path] = DEFAULT_PATHS) -> list[Finding]:
    """Every unmarked user-facing text in ``paths`` (directories are searched)."""
    findings: list[Finding] = []
    for path in _files(paths):
        if path.suffix == ".html":
            findings.extend(check_template(path))
        elif path.resolve() != Path(__file__).resolve():
            findings.extend(check_python(path))
    return findings


def main(argv: list[str]) -> int:
    paths = [Path(arg).resolve() for arg in argv] or list(DEFAULT_PATHS)
    findings = check(paths)
    for finding in findings:
        print(finding)
    if findings:
        print(f"{len(findings)} text(s) not marked for translation "
              "(registry/i18n.py says how to mark them).", file=sys.stderr)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
