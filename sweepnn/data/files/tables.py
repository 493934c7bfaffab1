"""Tables (CSV, Parquet): the header checked before the file is parsed (its width, the named columns),
then the content (rows, finite values, class labels or a varying regression target)."""

from __future__ import annotations

import bz2
import gzip
import lzma
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sweepnn.data.files.reading import read_stream, size_text, what_is
from sweepnn.errors import InputError

# The widest table sweepnn reads, checked on the header before the file is parsed (a CSV of 10**6
# columns takes pandas minutes). Real tables a network is swept on stay far under it: gene
# expression sets have ~20,000 columns, a 256x256 image flattened into a row 65,536; a wider one is an
# image or a matrix in the wrong container, or a file made to stall the parser. It bounds the inputs
# after text columns are one-hot encoded too.
MAX_TABLE_COLUMNS = 100_000
_HEADER_BYTES = 16 << 20  # the most of a CSV read to find its header: 100,000 names of 160 characters
_COMPRESSED = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}  # as pandas infers from the suffix
_COUNTED_ROWS = 10_000  # rows of a small CSV counted ahead, for the checks of `validate`
_UNPEEKED = (".zip", ".zst", ".tar", ".tgz")  # compressions pandas reads that are not checked ahead


def _wide(file: Path, n: int) -> InputError:
    return InputError(
        f"{file} has {n:,} columns, past the {MAX_TABLE_COLUMNS:,} sweepnn reads from a table;"
        " this is not a table a network is swept on (an image or matrix in a CSV?)"
    )


def _csv_header(file: Path) -> tuple[list[str], int | None] | None:
    """The column names of a CSV file as pandas names them, and its number of rows when the file is
    small enough to count them in what was read (else None), from at most its first 16 MiB; None
    when the file is compressed in a way not read ahead."""
    import csv
    import io
    import itertools

    if file.name.endswith(_UNPEEKED):
        return None
    opener = _COMPRESSED.get(file.suffix, open)
    with opener(file, "rb") as f:
        head = read_stream(f, _HEADER_BYTES + 1, file, file.suffix.lstrip(".") if opener is not open else "")
    what, binary = what_is(head[:16]), b"\0" in head[:65536]
    # a magic number in plain letters (PAR1, %PDF) can be a header's first name: believed in binary only
    if what and (binary or not head[:4].isascii() or not head[:4].decode("ascii").isprintable()):
        hint = "; use data.name: parquet" if what == "a Parquet file" else ""
        raise InputError(f"{file} is not a CSV file: it is {what}{hint}")
    if binary:
        raise InputError(f"{file} is not a CSV file: it holds binary data (NUL bytes), not text")
    complete = len(head) <= _HEADER_BYTES
    text = head[:_HEADER_BYTES].decode("utf-8", errors="replace").removeprefix("\ufeff")
    if not complete:
        text = text[: text.rfind("\n") + 1]  # whole lines only
        if not text:
            raise InputError(
                f"{file}: its first line is longer than {size_text(_HEADER_BYTES)}: not a CSV header"
                f" (or one of far more than {MAX_TABLE_COLUMNS:,} columns)"
            )
    records = (r for r in csv.reader(io.StringIO(text)) if r)  # pandas skips blank lines
    try:
        header = next(records, None)
    except csv.Error:  # a dialect the csv module reads otherwise than pandas ('\r' line ends): pandas decides
        return None
    if header is None:
        raise InputError(f"{file} has no header row: it is blank")
    if len(header) > MAX_TABLE_COLUMNS:
        raise _wide(file, len(header))
    try:  # only as many as a split could need: past that the count does not matter
        rows = sum(1 for _ in itertools.islice(records, _COUNTED_ROWS)) if complete else None
    except csv.Error:  # a field past the csv module's size limit, say: not known before pandas reads it
        rows = None
    if rows == _COUNTED_ROWS:
        rows = None
    names, seen = [], {}
    for i, name in enumerate(header):
        name = name or f"Unnamed: {i}"
        if name in seen:  # pandas keeps both: a, a.1, a.2
            seen[name] += 1
            name = f"{name}.{seen[name]}"
        seen.setdefault(name, 0)
        names.append(name)
    return names, rows


def _read_csv(file: Path) -> Any:
    import pandas as pd

    try:
        return pd.read_csv(file)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as e:
        raise InputError(f"cannot read {file} as CSV: {e}") from None


def _parquet_header(file: Path) -> tuple[list[str], int | None]:
    """The columns (as pandas reads them, without a stored index) and rows of a Parquet file, from its
    footer alone."""
    with open(file, "rb") as f:
        head = f.read(4)
        f.seek(max(0, file.stat().st_size - 4))
        tail = f.read(4)
    if head != b"PAR1" or tail != b"PAR1":
        what = what_is(head)
        raise InputError(
            f"cannot read {file} as Parquet: it is not a Parquet file (one starts and ends with PAR1;"
            f" this one starts with {head!r}{f', {what}' if what else ''})"
        )
    pq = _pyarrow(file)
    try:
        meta = pq.ParquetFile(file).metadata
        schema = meta.schema.to_arrow_schema()
    except (ValueError, OSError) as e:  # pyarrow's ArrowInvalid is a ValueError
        raise InputError(f"cannot read {file} as Parquet: {e}") from None
    index = [c for c in (schema.pandas_metadata or {}).get("index_columns", []) if isinstance(c, str)]
    names = [n for n in schema.names if n not in index]
    if len(names) > MAX_TABLE_COLUMNS:
        raise _wide(file, len(names))
    return names, meta.num_rows


def _pyarrow(file: Path):
    try:
        import pyarrow  # noqa: F401  (pandas' Parquet engine; an optional extra)
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError(f"reading {file} (Parquet) needs pyarrow: pip install 'sweepnn[parquet]'") from None
    return pq


def _read_parquet(file: Path) -> Any:
    import pandas as pd

    _pyarrow(file)
    try:
        return pd.read_parquet(file, engine="pyarrow")
    except (ValueError, OSError) as e:  # pyarrow's ArrowInvalid is a ValueError
        raise InputError(f"cannot read {file} as Parquet: {e}") from None


@dataclass(frozen=True)
class TableReader:
    """A file format tables come in: what data.path must be, how to read its header (column names,
    and its rows when known) without parsing the file, and how to read it into a DataFrame."""

    what: str
    read: Callable[[Path], Any]  # file -> pandas.DataFrame; an unreadable file raises InputError
    header: Callable[[Path], tuple[list[str], int | None] | None]  # None: not known before reading


TABLE_READERS = {
    "csv": TableReader("a CSV file with a header row", _read_csv, _csv_header),
    "parquet": TableReader("a Parquet file", _read_parquet, _parquet_header),
}


def _check_columns(file: Path, columns: list[str], target: str, features: list[str] | None) -> list[str]:
    """The feature columns: `features`, or every column but the target; all must be in the file."""
    if target not in columns:
        raise InputError(
            f"{file} has no target column '{target}'; its columns: {', '.join(map(str, columns))}"
        )
    chosen = features if features is not None else [c for c in columns if c != target]
    unknown = [c for c in chosen if c not in columns]
    if unknown or not chosen:
        raise InputError(
            f"{file}: feature columns {unknown or '[]'} not found;"
            f" its columns: {', '.join(map(str, columns))}"
        )
    return chosen


def _shown(value: Any) -> str:
    """A cell as a message shows it: 0.5, inf, 1e+39, 'cat' (never numpy's np.float64(0.5))."""
    import numbers

    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return str(int(value))
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return repr(float(value))
    return repr(value)


def _no_rows(file: Path) -> InputError:
    return InputError(f"{file} has a header and no rows: there is nothing to train on")


def check_table(
    path: str,
    target: str,
    features: list[str] | None,
    reader: TableReader = TABLE_READERS["csv"],
    params=None,
) -> Path:
    """What can be checked of a table file without parsing it: a file there, not empty, of its format,
    no wider than MAX_TABLE_COLUMNS, with the target and feature columns, and (when the header
    tells) rows enough for the splits `params` asks for. Used by `sweepnn validate` and before every
    load. Returns the file."""
    from sweepnn.data.arrays import check_rows

    file = Path(path).expanduser()
    if file.is_dir():
        raise InputError(f"{file.resolve()} is a folder: give data.path, {reader.what}")
    if not file.is_file():
        what = "not a regular file" if file.exists() else "no table"
        raise InputError(f"{what} at {file.resolve()}: give data.path, {reader.what}")
    if file.stat().st_size == 0:
        raise InputError(f"{file} is empty (0 bytes): give data.path, {reader.what}")
    header = reader.header(file)
    if header is not None:
        columns, rows = header
        _check_columns(file, columns, target, features)
        if rows == 0:
            raise _no_rows(file)
        if rows is not None and params is not None:
            check_rows(rows, str(file), params, unit="row")
    return file


def load_table(
    path: str,
    target: str,
    features: list[str] | None,
    task: str,
    reader: TableReader = TABLE_READERS["csv"],
    params=None,
) -> dict[str, Any]:
    """A table file as features and a target: categorical (text or boolean) features one-hot encoded,
    class labels numbered in sorted order. A table no trial can train on is refused with the column
    and the reason: no rows (or fewer than the splits in `params` need), an empty column, a value that
    is not a finite number, a classification target that is not whole numbers or holds one class,
    a regression target that never varies, features that never vary."""
    import numpy as np
    import pandas as pd

    from sweepnn.data.arrays import MAX_CLASSES, check_rows

    file = check_table(path, target, features, reader, params)
    table = reader.read(file)
    columns = list(table.columns)
    if len(columns) > MAX_TABLE_COLUMNS:  # a compressed file not read ahead
        raise _wide(file, len(columns))
    chosen = _check_columns(file, columns, target, features)
    n = len(table)
    if n == 0:
        raise _no_rows(file)
    if params is not None:
        check_rows(n, str(file), params, unit="row")
    used = [*chosen, target]
    empty = table[used].isna()
    blank = [str(c) for c, b in empty.all().items() if b]
    if blank:
        raise InputError(
            f"{file}: column {', '.join(map(repr, blank))} is empty in every row; remove it from the file"
            + (", or list data.features without it" if target not in blank else "")
        )
    gaps = [str(c) for c, b in empty.any().items() if b]
    if gaps:
        raise InputError(f"{file} has empty cells in {', '.join(gaps)}; fill or drop them first")
    x = table[chosen]
    categorical = [c for c in chosen if not pd.api.types.is_numeric_dtype(x[c]) or x[c].dtype == bool]
    if categorical:
        # get_dummies makes a column per category of a categorical column, seen in the rows or not
        levels = pd.Series(
            {
                c: len(x[c].cat.categories) if isinstance(x[c].dtype, pd.CategoricalDtype) else x[c].nunique()
                for c in categorical
            }
        )
        width = len(chosen) - len(categorical) + int(levels.sum())
        if width > MAX_TABLE_COLUMNS:
            worst = levels.idxmax()
            raise InputError(
                f"{file}: one-hot encoded, its text columns make {width:,} inputs, past the"
                f" {MAX_TABLE_COLUMNS:,} sweepnn allows; column '{worst}' alone has {levels[worst]:,}"
                " distinct values (an identifier?): leave it out of data.features"
            )
        x = pd.get_dummies(x, columns=categorical, dtype="float32")
    with np.errstate(over="ignore"):  # a number past float32's range becomes inf, refused below
        xf = np.ascontiguousarray(x.to_numpy("float32"))
    finite = np.isfinite(xf)
    if not finite.all():
        col = int(np.argmin(finite.all(axis=0)))
        row = int(np.argmin(finite[:, col]))
        name = x.columns[col]
        raise InputError(
            f"{file}: column '{name}' holds {_shown(table[name].iloc[row])} in row {row + 1}: inputs must be"
            " finite numbers (no inf, and within float32's range, about 3.4e38)"
        )
    if (xf == xf[0]).all():
        raise InputError(
            f"{file}: the features ({', '.join(map(str, chosen))}) are the same in all {n} rows:"
            " nothing tells the rows apart"
        )
    y = table[target]
    if task == "classification":
        if pd.api.types.is_float_dtype(y):
            values = y.to_numpy("float64")
            fractional = ~np.isfinite(values) | (values != np.round(values))
            if fractional.any():
                row = int(np.argmax(fractional))
                raise InputError(
                    f"{file}: target '{target}' holds {_shown(values[row])} in row {row + 1}, not a class"
                    " label (a whole number or a text); to predict a number, use task: regression"
                )
        labels = sorted(y.unique().tolist(), key=str)
        if len(labels) > MAX_CLASSES:
            raise InputError(
                f"{file}: target '{target}' has {len(labels):,} distinct values, past the {MAX_CLASSES:,}"
                " classes sweepnn allows (one output each); to predict a number, use task: regression"
            )
        if len(labels) == 1:
            raise InputError(
                f"{file}: target '{target}' is {_shown(labels[0])} in all {n} rows: a classification needs at"
                " least 2 classes"
            )
        y = y.map({v: i for i, v in enumerate(labels)}).to_numpy("int64")
    else:
        if not pd.api.types.is_numeric_dtype(y) or y.dtype == bool:
            raise InputError(f"{file}: target '{target}' is not numeric; use task: classification")
        with np.errstate(over="ignore"):
            yf = y.to_numpy("float32")
        bad = ~np.isfinite(yf)
        if bad.any():
            row = int(np.argmax(bad))
            raise InputError(
                f"{file}: target '{target}' holds {_shown(y.iloc[row])} in row {row + 1}: targets must be"
                " finite numbers (no inf, and within float32's range, about 3.4e38)"
            )
        if (yf == yf[0]).all():
            raise InputError(
                f"{file}: target '{target}' is {_shown(y.iloc[0])} in all {n} rows:"
                " a regression needs it to vary"
            )
        y = yf
    return {"x": xf, "y": y, "files": {"x": str(file), "y": str(file)}}
