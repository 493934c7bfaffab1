"""Reading a recipe file, distrusting it: its text (a regular file of bounded size, in UTF-8), and
its YAML through a safe loader that remembers where each key and value stands, refuses tags, aliases
that expand past a bound and nesting too deep, and reads `1e-3` as a number (as YAML 1.2 does).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import yaml

from sweepnn.errors import InputError, Problem, RecipeError
from sweepnn.recipe.limits import (
    RECIPE_BYTES_MAX,
    YAML_DEPTH_MAX,
    YAML_NODES_MAX,
    YAML_NUMBER_CHARS_MAX,
)
from sweepnn.recipe.locations import Loc, dotted, shown


class _Bound(Exception):
    """A bound on the YAML was hit while composing it: where, at which key path, and which bound."""

    def __init__(self, mark: yaml.Mark, path: list[Any], message: str):
        super().__init__(message)
        self.mark, self.path, self.message = mark, tuple(path), message


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads 1e-3 and 1E+5 as floats (YAML 1.1 requires a dot), and that measures
    the document as it composes it: nesting depth, and the size of the tree its aliases expand to.

    Aliases make the composed graph small and its expansion huge (a "billion laughs" is a few hundred
    bytes); so each node's expanded size and height are counted once, when it is composed, and an
    alias adds its anchor's measure without walking it again. A recursive alias is found when it
    names an anchor still being composed. All of it happens before anything is built, and before
    Python's recursion limit: the composer recurses once per level, and stops at YAML_DEPTH_MAX.
    """

    def __init__(self, stream: str):
        super().__init__(stream)
        self._total = 0  # values in the expanded tree composed so far
        self._heights: list[int] = []  # per open node: the greatest height among its children so far
        self._path: list[Any] = []  # key path of the open nodes
        self._open: set[str] = set()  # anchors of the open nodes
        self._measure: dict[str, tuple[int, int]] = {}  # anchor -> (expanded size, height)

    def _grow(self, n: int, mark: yaml.Mark, path: list[Any], alias: str | None) -> None:
        self._total += n
        if self._total > YAML_NODES_MAX:
            via = f"; alias *{alias} here stands for {n:,}" if alias else ""
            raise _Bound(
                mark,
                path,
                f"the YAML expands to more than {YAML_NODES_MAX:,} values (the bound on a recipe's size,"
                f" aliases expanded){via}",
            )

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(parent, yaml.SequenceNode):
            path = [*self._path, index]
        elif isinstance(parent, yaml.MappingNode) and isinstance(index, yaml.Node):
            path = [*self._path, index.value if isinstance(index, yaml.ScalarNode) else "?"]
        else:  # the document, or a key: at its mapping's path
            path = list(self._path)
        if isinstance(event, yaml.AliasEvent):
            name = event.anchor
            if name in self._open:
                raise _Bound(
                    event.start_mark,
                    path,
                    f"alias *{name} stands inside its own anchor &{name}: a recursive alias expands"
                    " without end",
                )
            node = super().compose_node(parent, index)  # an undefined alias is YAML's own error
            size, height = self._measure[name]
            self._grow(size, event.start_mark, path, name)
            if len(self._heights) + height > YAML_DEPTH_MAX:
                raise _Bound(
                    event.start_mark,
                    path,
                    f"alias *{name} nests the YAML deeper than {YAML_DEPTH_MAX} levels (the bound on"
                    " nesting, aliases expanded)",
                )
            if self._heights:
                self._heights[-1] = max(self._heights[-1], height)
            return node
        if len(self._heights) >= YAML_DEPTH_MAX:
            raise _Bound(
                event.start_mark,
                path,
                f"the YAML nests deeper than {YAML_DEPTH_MAX} levels (the bound on nesting); a recipe"
                " needs a few",
            )
        before = self._total
        self._grow(1, event.start_mark, path, None)
        outer, self._path = self._path, path
        self._heights.append(0)
        name = getattr(event, "anchor", None)
        if name is not None:
            self._open.add(name)
        node = super().compose_node(parent, index)
        height = 1 + self._heights.pop()
        self._path = outer
        if name is not None:
            self._open.discard(name)
            self._measure[name] = (self._total - before, height)
        if self._heights:
            self._heights[-1] = max(self._heights[-1], height)
        return node


# a digit before the exponent, as YAML 1.2 asks: `-e5` and `.e5` stay text
EXPONENT = re.compile(r"^[-+]?(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)[eE][-+]?\d+$")
_Loader.add_implicit_resolver("tag:yaml.org,2002:float", EXPONENT, list("-+0123456789."))


# The tags of plain data, the only ones a recipe may use, spelled out or implied.
_PLAIN_TAGS = {
    f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp")
}


def parse_yaml(text: str, file: str) -> tuple[Any, dict[Loc, tuple[int, int]], list[Problem]]:
    """Plain data, a map from each key path to its (line, column), both 1-based, and the problems
    found while reading (a key given twice), reported with the recipe's others rather than alone.
    A syntax error, or input past a bound of `sweepnn.recipe.limits` (size, nesting, alias expansion), stops
    reading: it raises RecipeError."""
    if len(text) > RECIPE_BYTES_MAX or len(text.encode("utf-8", "surrogatepass")) > RECIPE_BYTES_MAX:
        raise RecipeError([Problem(file, None, None, "", _too_large())])
    try:
        loader = _Loader(text)  # reading a text checks its characters first
    except yaml.reader.ReaderError as e:
        line = text.count("\n", 0, e.position) + 1
        column = e.position - text.rfind("\n", 0, e.position)
        char = f"#x{e.character:04x}" if isinstance(e.character, int) else repr(e.character)
        raise RecipeError(
            [
                Problem(
                    file, line, column, "", f"YAML syntax error: character {char} is not allowed ({e.reason})"
                )
            ]
        ) from None
    try:
        node = loader.get_single_node()
    except _Bound as e:
        where = (e.mark.line + 1, e.mark.column + 1)
        raise RecipeError([Problem(file, *where, dotted(e.path), e.message)]) from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
        raise RecipeError([Problem(file, line, col, "", f"YAML syntax error: {e.problem or e}")]) from None
    except yaml.YAMLError as e:  # e.g. a character YAML does not allow, which has no mark
        raise RecipeError([Problem(file, None, None, "", f"YAML syntax error: {e}")]) from None
    finally:
        loader.dispose()
    marks: dict[Loc, tuple[int, int]] = {}
    problems: list[Problem] = []

    def refused(n: yaml.Node, loc: Loc) -> bool:
        """A tag that would build an object (`!!python/object/apply:os.system`) is never honoured."""
        if n.tag in _PLAIN_TAGS:
            return False
        tag = n.tag.replace("tag:yaml.org,2002:", "!!")
        problems.append(
            Problem(
                file,
                n.start_mark.line + 1,
                n.start_mark.column + 1,
                dotted(loc),
                f"YAML tag {tag} is refused: a recipe holds plain data (numbers, text, lists, mappings)",
            )
        )
        return True

    def construct(n: yaml.Node, loc: Loc) -> tuple[bool, Any]:
        """(True, the value) of a scalar or a key, or (False, None) with the problem noted."""
        where = (n.start_mark.line + 1, n.start_mark.column + 1)
        tag = n.tag.replace("tag:yaml.org,2002:", "!!")
        number = n.tag.endswith((":int", ":float")) and isinstance(n, yaml.ScalarNode)
        if number and len(n.value) > YAML_NUMBER_CHARS_MAX:
            problems.append(
                Problem(
                    file,
                    *where,
                    dotted(loc),
                    f"a number of {len(n.value):,} characters; the bound is {YAML_NUMBER_CHARS_MAX}"
                    " characters for one number",
                )
            )
            return False, None
        try:
            return True, loader.construct_object(n, deep=True)
        except (ValueError, KeyError, TypeError, OverflowError, yaml.YAMLError) as e:
            # an explicit tag the text does not fit (`!!int abc`), a date that does not exist, ...
            why = f": {e}" if isinstance(e, ValueError) and str(e) else ""
            text = shown(n.value) if isinstance(n, yaml.ScalarNode) else "this value"
            problems.append(Problem(file, *where, dotted(loc), f"cannot read {text} as {tag}{why}"))
            return False, None

    def build(n: yaml.Node, loc: Loc) -> Any:
        marks.setdefault(loc, (n.start_mark.line + 1, n.start_mark.column + 1))
        if refused(n, loc):
            return None
        if isinstance(n, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in n.value:
                if refused(key_node, loc):
                    continue
                ok, key = construct(key_node, loc)
                if not ok:
                    continue
                where = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                if not isinstance(key, Hashable):  # `? [a, b]` or `{[1]: 2}`: YAML allows it, we don't
                    problems.append(Problem(file, *where, dotted(loc), f"a key must be a name, not {key!r}"))
                    continue
                if key in out:
                    problems.append(Problem(file, *where, dotted((*loc, key)), "key given twice"))
                marks[(*loc, key)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                out[key] = build(value_node, (*loc, key))
            return out
        if isinstance(n, yaml.SequenceNode):
            return [build(item, (*loc, i)) for i, item in enumerate(n.value)]
        return construct(n, loc)[1]

    data = build(node, ()) if node is not None else None
    return data, marks, problems


# How the problems of values that YAML refused to read begin (see parse_yaml).
UNREAD = ("YAML tag ", "cannot read ", "a number of ")


def _too_large() -> str:
    return (
        f"the recipe is larger than {RECIPE_BYTES_MAX:,} bytes (the bound on a recipe file's size);"
        " a recipe is a few kilobytes of YAML"
    )


def _kind(mode: int) -> str:
    for test, kind in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a pipe"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return kind
    return "not a regular file"


def read_recipe(path: str | Path) -> str:
    """The text of a recipe file. Only a regular file is read, and at most RECIPE_BYTES_MAX + 1 bytes
    of it: a folder, a pipe or a device (`/dev/zero`) is refused without reading, and so is a file
    past the bound. It is opened without blocking, so a pipe nobody writes to does not hang."""
    p = Path(path)
    flags = (
        os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    )
    try:
        fd = os.open(p, flags)
    except (FileNotFoundError, NotADirectoryError):
        hint = (
            f"; recipes here: {', '.join(sorted(str(q) for q in p.parent.glob('*.yaml')))}"
            if p.parent.is_dir() and any(p.parent.glob("*.yaml"))
            else ""
        )
        raise InputError(f"no recipe file at {path}{hint}") from None
    except OSError as e:
        if p.is_dir():  # Windows refuses to open a folder
            raise InputError(f"{path} is a folder, not a recipe file") from None
        raise InputError(f"cannot read {path}: {e.strerror or e}") from None
    try:
        mode = os.fstat(fd).st_mode
    except OSError as e:
        os.close(fd)
        raise InputError(f"cannot read {path}: {e.strerror or e}") from None
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise InputError(f"{path} is {_kind(mode)}, not a recipe file: a recipe is a YAML file")
    with os.fdopen(fd, "rb") as f:
        try:
            data = f.read(RECIPE_BYTES_MAX + 1)
        except OSError as e:
            raise InputError(f"cannot read {path}: {e.strerror or e}") from None
    if len(data) > RECIPE_BYTES_MAX:
        raise RecipeError([Problem(str(path), None, None, "", _too_large())])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise RecipeError(
            [
                Problem(
                    str(path),
                    line,
                    None,
                    "",
                    f"not UTF-8 text (byte {e.start}: {e.reason}); a recipe is YAML",
                )
            ]
        ) from None
