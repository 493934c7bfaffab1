"""Text that sweepnn did not write, made safe to show: a recipe's description and values, trial
reasons, study names in a storage, error messages that quote any of these.

Such text reaches terminals, Markdown, CSV, JUnit XML and charts. A raw escape sequence in it would
recolour, retitle or rewrite the terminal (`ESC [`, `ESC ] 0;title BEL`, a carriage return, a
backspace), and a character the format gives a meaning to would be read as format: a rich markup tag
(`[enforce fail at alloc.cpp:1]` would vanish), a pipe in a Markdown table cell, a control
character XML does not allow, a `$` that matplotlib reads as math. `safe_text` is the one place
that decides which characters are shown as escapes; the helpers below add what each format needs.
"""

from __future__ import annotations

import re
from typing import Any

# C0 and C1 controls, DEL, surrogates (undecodable bytes), line and paragraph separators, the
# bidirectional overrides and isolates that reorder what a reader sees, and the two noncharacters
# XML refuses. Tab and newline are handled apart: a tab is spaces, a newline is kept where a text may
# have several lines.
_REORDERING = r"\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_OTHERS = rf"\x7f-\x9f\ud800-\udfff\u2028\u2029{_REORDERING}\ufffe\uffff"
# The bidirectional controls: YAML counts them printable and writes them raw, so sweepnn.recipe.variants
# escapes them itself.
REORDERING = re.compile(f"[{_REORDERING}]")
_UNSAFE = re.compile(rf"[\x00-\x08\x0a-\x1f{_OTHERS}]")
_UNSAFE_BUT_NEWLINE = re.compile(rf"[\x00-\x08\x0b-\x1f{_OTHERS}]")


_SHORT = {"\n": "\\n", "\r": "\\r"}


def _visible(match: re.Match) -> str:
    c = match.group()
    code = ord(c)
    if c in _SHORT:
        return _SHORT[c]
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe_text(value: Any, *, multiline: bool = False) -> str:
    """`value` as text with no character that acts on a terminal or a file format: each control
    character becomes a visible escape (ESC is shown as `\\x1b`, a carriage return as `\\r`), a tab
    becomes spaces. A newline is kept when `multiline` (a Windows line end becomes one), else it is
    shown as `\\n`. Text already made safe comes back unchanged."""
    text = value if isinstance(value, str) else str(value)
    if multiline:
        text = text.replace("\r\n", "\n")
        text = "\n".join(line.expandtabs(4) for line in text.split("\n"))
        return _UNSAFE_BUT_NEWLINE.sub(_visible, text)
    return _UNSAFE.sub(_visible, text.replace("\t", " "))


def markup(value: Any, *, multiline: bool = False) -> str:
    """Safe text to put inside a rich markup string: its brackets are text, never markup tags."""
    from rich.markup import escape

    return escape(safe_text(value, multiline=multiline))


def rich_text(value: Any, style: str = "") -> Any:
    """A rich Text of safe text (for table cells and titles): rich never reads it as markup."""
    from rich.text import Text

    return Text(safe_text(value), style=style)


def md_cell(value: Any) -> str:
    """Safe text as one cell of a Markdown table: on one line, and its pipes do not split the cell."""
    return safe_text(value).replace("|", "\\|")


def safe_frame(df):
    """A pandas frame whose text cells and column names are safe text (newlines kept: CSV quotes
    them); numbers and missing values are left as they are."""

    def clean(v: Any) -> Any:
        return safe_text(v, multiline=True) if isinstance(v, str) else v

    out = df.copy()
    for c in df.columns:
        if df[c].dtype.kind not in "biufcmM":  # text, or mixed values (a choice of None or a name)
            out[c] = df[c].map(clean)
    return out.rename(columns=lambda c: safe_text(c) if isinstance(c, str) else c)


def plot_text(value: Any) -> str:
    """Safe text for a matplotlib title, label or legend: a `$` is a dollar sign, not math."""
    return safe_text(value, multiline=True).replace("$", r"\$")


def rich_line(*parts: Any, multiline: bool = False) -> Any:
    """A rich Text of trusted styled parts and untrusted text: each part is text (made safe) or a
    (text, style) pair. Nothing in it is read as markup or as an emoji code (`:warning:`)."""
    from rich.text import Text

    out = Text()
    for part in parts:
        text, style = part if isinstance(part, tuple) else (part, "")
        out.append(safe_text(text, multiline=multiline), style=style or None)
    return out
