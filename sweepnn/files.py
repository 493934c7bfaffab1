"""Datasets read from files in their published formats: IDX (MNIST, Fashion-MNIST), raw or gzipped;
the CIFAR binary version; tables (CSV, Parquet).

Readers return numpy arrays and never execute anything from a file (CIFAR's Python version is a
pickle, so only its binary version is read). A missing file is an error that names every file
expected, where it was looked for, and where to get it.

Files are distrusted: a header is read and checked (magic number, type, declared sizes within
MAX_ARRAY_BYTES, a table's width within MAX_TABLE_COLUMNS) before anything it announces is read or
inflated, and a file that holds more or less than its header declares, a broken compressed stream, a
folder or a file of another format where a file of this one belongs are InputErrors naming the file.
The `check_*` functions do what needs no parsing of the data, for `sweepnn validate` and before each
load; `sweepnn.arrays.check` then refuses what no training can use.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import math
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sweepnn.errors import InputError

IDX_FILES = {
    "x": "train-images-idx3-ubyte",
    "y": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
IDX_SOURCES = {
    "mnist": "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "fashion_mnist": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
}
_IDX_TYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

# The most bytes one binary array file (IDX, CIFAR) may hold, checked against what its header (or
# its size) declares before anything is read or inflated. The largest published IDX set, EMNIST
# ByClass (814,255 images of 28x28), is 638 MB, CIFAR-100's train.bin 154 MB; 1 GiB read as float32
# is already 4 GiB of memory before it is copied to the device. A header past it is corrupt or hostile
# (a small .gz can inflate to many GiB).
MAX_ARRAY_BYTES = 1 << 30

# What a file is when it is not what it was named: its first bytes, and what they mean.
_MAGIC = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (an .xlsx workbook is one)"),
    (b"\x1f\x8b", "a gzip file"),
    (b"BZh", "a bzip2 file"),
    (b"\xfd7zXZ\x00", "an xz file"),
    (b"PAR1", "a Parquet file"),
    (b"\x93NUMPY", "a NumPy .npy file"),
    (b"\x80", "a Python pickle"),
    (b"SQLite format 3", "an SQLite database"),
)


def _what_is(head: bytes) -> str | None:
    """What the first bytes of a file say it is ('a PNG image'), or None when they say nothing."""
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return what
    return None


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def _open_binary(path: Path):
    """`path` for reading as a stream: gzip-decompressed as it is read when it ends in .gz."""
    if path.stat().st_size == 0:
        raise InputError(f"{path} is empty (0 bytes)")
    if path.suffix == ".gz":
        with open(path, "rb") as raw:
            if raw.read(2) != b"\x1f\x8b":
                raw.seek(0)
                head = raw.read(16)
                what = _what_is(head)
                raise InputError(
                    f"{path} is not a gzip file (named .gz, but it starts with {head[:8]!r}"
                    f"{f': {what}' if what else ''}); decompress it or rename it without .gz"
                )
        return gzip.open(path, "rb")
    return open(path, "rb")


def _read(f, n: int, path: Path, compression: str = "gzip") -> bytes:
    """Up to `n` bytes from a stream; a broken compressed stream (`compression`: gzip, bz2, xz, or ''
    for none) is an InputError."""
    try:
        return f.read(n)
    except EOFError:
        raise InputError(
            f"{path} is a cut-short {compression} file: it ends before its compressed data does."
            " Download or write it again"
        ) from None
    except (OSError, zlib.error, lzma.LZMAError) as e:  # gzip.BadGzipFile is an OSError
        if not compression:
            raise InputError(f"cannot read {path}: {e}") from None
        raise InputError(f"{path} is a corrupt {compression} file ({e}); get it again") from None


@dataclass(frozen=True)
class IdxHeader:
    """What an IDX file's header declares: the element type, the shape, where the data starts."""

    path: Path
    dtype: str  # a numpy dtype string
    shape: tuple[int, ...]

    @property
    def offset(self) -> int:
        return 4 + 4 * len(self.shape)

    @property
    def nbytes(self) -> int:
        import numpy as np

        return math.prod(self.shape) * np.dtype(self.dtype).itemsize

    @property
    def shape_text(self) -> str:
        return " x ".join(map(str, self.shape))


def _idx_header(f, path: Path) -> IdxHeader:
    """The header at the start of stream `f`, checked: magic, type code, dimensions, declared size."""
    head = _read(f, 4, path)
    if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in _IDX_TYPES:
        what = _what_is(head + _read(f, 12, path))
        if len(head) == 4 and head[:2] == b"\0\0":
            why = f"its type code 0x{head[2]:02X} is none of the IDX types"
        else:
            why = f"it is {what}" if what else "an IDX file starts with two zero bytes and a type code"
        raise InputError(f"{path} is not an IDX file (its header is {head!r}: {why})")
    ndim = head[3]
    if ndim == 0:
        raise InputError(f"{path} is not an IDX file: its header declares no dimensions")
    dims = _read(f, 4 * ndim, path)
    if len(dims) < 4 * ndim:
        raise InputError(f"{path} is truncated: its header declares {ndim} dimensions, the file ends first")
    header = IdxHeader(path, _IDX_TYPES[head[2]], struct.unpack(f">{ndim}I", dims))
    if header.nbytes > MAX_ARRAY_BYTES:
        raise InputError(
            f"{path} declares {header.shape_text} values of {header.dtype}: {_size(header.nbytes)},"
            f" past the {_size(MAX_ARRAY_BYTES)} sweepnn reads from one file (the largest published"
            " IDX set is 638 MB); the header is corrupt"
        )
    if header.nbytes == 0:
        raise InputError(f"{path} holds no data: its header declares a shape of {header.shape_text}")
    if path.suffix != ".gz":
        size = path.stat().st_size  # a raw file's size tells, before anything is read
        expected = header.offset + header.nbytes
        if size < expected:
            raise InputError(f"{path} is truncated or corrupt: {size} bytes, its header promises {expected}")
        if size > expected:
            raise InputError(
                f"{path} is corrupt: {size} bytes, more than the {expected} its header promises"
                f" ({header.shape_text} values of {header.dtype})"
            )
    return header


def idx_header(path: Path) -> IdxHeader:
    """An IDX file's header alone, read through a streaming decompressor for .gz: nothing more is
    inflated than the header's bytes."""
    with _open_binary(path) as f:
        return _idx_header(f, path)


def read_idx(path: Path) -> Any:
    """One IDX file as a numpy array (the format of LeCun's MNIST distribution). The header is read
    first; then exactly the bytes it declares (never more: a .gz that inflates past them is refused
    as soon as one byte more comes out)."""
    import numpy as np

    with _open_binary(path) as f:
        header = _idx_header(f, path)
        data = _read(f, header.nbytes, path)
        if len(data) < header.nbytes:
            have, expected = header.offset + len(data), header.offset + header.nbytes
            raise InputError(f"{path} is truncated or corrupt: {have} bytes, its header promises {expected}")
        if _read(f, 1, path):  # also reads a .gz to its end, where its checksum is verified
            raise InputError(
                f"{path} is corrupt: it holds more than the {header.offset + header.nbytes} bytes its header"
                f" promises ({header.shape_text} values of {header.dtype})"
            )
    return np.frombuffer(data, dtype=header.dtype).reshape(header.shape)


def find(folder: Path, stem: str) -> Path | None:
    for name in (stem, f"{stem}.gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def _folder(folder: str, source: str, what: str) -> Path:
    """data.path of a set read from a folder: it must be one."""
    root = Path(folder).expanduser()
    if root.exists() and not root.is_dir():
        raise InputError(
            f"{root.resolve()} is a file, not a folder: data.path of {source} names the folder {what}"
        )
    return root


def check_idx_set(folder: str, source: str) -> dict[str, IdxHeader]:
    """The headers of an MNIST-style set's four IDX files, checked without reading their data: every
    file there, images (N, rows, columns) and labels (N) of whole numbers, as many labels as images,
    test images of the training images' size. Used by `sweepnn validate` and before every load."""
    root = _folder(folder, source, "holding the four IDX files")
    paths = {key: find(root, stem) for key, stem in IDX_FILES.items()}
    for key, p in paths.items():
        for name in (IDX_FILES[key], f"{IDX_FILES[key]}.gz"):
            if p is None and (root / name).is_dir():
                raise InputError(f"{(root / name).resolve()} is a folder, not an IDX file")
    missing = [IDX_FILES[k] for k, p in paths.items() if p is None]
    if missing:
        raise InputError(
            f"{source} files missing in {root.resolve()}: {', '.join(missing)} (raw or .gz)."
            f" Expected {', '.join(IDX_FILES.values())}; get them from {IDX_SOURCES[source]}"
            f" or run `sweepnn download {source}`"
        )
    headers = {key: idx_header(p) for key, p in paths.items() if p is not None}
    for x, y in (("x", "y"), ("x_test", "y_test")):
        images, labels = headers[x], headers[y]
        if len(images.shape) != 3:
            raise InputError(
                f"{images.path} declares a shape of {images.shape_text}: an images file is"
                " images x rows x columns"
            )
        if len(labels.shape) != 1:
            raise InputError(f"{labels.path} declares a shape of {labels.shape_text}: a labels file is 1-D")
        if labels.dtype.lstrip(">")[0] not in "iu":
            raise InputError(
                f"{labels.path} holds {labels.dtype} numbers: class labels are whole numbers"
                " (IDX type 0x08, 0x09, 0x0B or 0x0C)"
            )
        if images.shape[0] != labels.shape[0]:
            raise InputError(
                f"{images.path} has {images.shape[0]} images but {labels.path} has {labels.shape[0]} labels"
            )
    train, test = headers["x"], headers["x_test"]
    if train.shape[1:] != test.shape[1:]:
        raise InputError(
            f"{test.path} holds images of {test.shape[1]}x{test.shape[2]} pixels but {train.path} holds"
            f" {train.shape[1]}x{train.shape[2]}: the test images must have the training images' size"
        )
    return headers


def load_idx_set(folder: str, source: str) -> dict[str, Any]:
    """The four IDX files of an MNIST-style set from `folder` (raw or .gz); images as (N, 1, H, W)."""
    headers = check_idx_set(folder, source)
    arrays: dict[str, Any] = {key: read_idx(h.path) for key, h in headers.items()}
    for x, y in (("x", "y"), ("x_test", "y_test")):
        arrays[x] = (arrays[x].astype("float32") / 255.0)[:, None]  # (N, 1, H, W), pixels in [0, 1]
        arrays[y] = arrays[y].astype("int64")
    arrays["files"] = {key: str(h.path) for key, h in headers.items()}
    return arrays


@dataclass(frozen=True)
class CifarLayout:
    """Where the files of a CIFAR binary distribution are and how a record is laid out."""

    folder: str  # the directory the published archive extracts to
    pickled: str  # the directory of the Python version, a pickle: recognized to say so, never read
    train: tuple[str, ...]
    test: str
    labels: tuple[str, ...]  # the label bytes that lead each record, in order
    classes: dict[str, int]  # label -> number of classes, to recognize a file that is not this set
    url: str


CIFAR_PIXELS = 3 * 32 * 32  # a record's image: 1024 red, then 1024 green, then 1024 blue bytes, row-major
CIFAR_SETS = {
    "cifar10": CifarLayout(
        folder="cifar-10-batches-bin",
        pickled="cifar-10-batches-py",
        train=tuple(f"data_batch_{i}.bin" for i in range(1, 6)),
        test="test_batch.bin",
        labels=("label",),
        classes={"label": 10},
        url="https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
    ),
    "cifar100": CifarLayout(
        folder="cifar-100-binary",
        pickled="cifar-100-python",
        train=("train.bin",),
        test="test.bin",
        labels=("coarse", "fine"),
        classes={"coarse": 20, "fine": 100},
        url="https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",
    ),
}


def _cifar_records(path: Path, layout: CifarLayout) -> int:
    """How many records a CIFAR binary file holds, from its size alone (nothing is read)."""
    size = path.stat().st_size
    record = len(layout.labels) + CIFAR_PIXELS
    if size == 0:
        raise InputError(f"{path} is empty (0 bytes): a CIFAR binary file holds {record}-byte records")
    if size > MAX_ARRAY_BYTES:
        raise InputError(
            f"{path} is {_size(size)}, past the {_size(MAX_ARRAY_BYTES)} sweepnn reads from one file"
            " (a published CIFAR file is at most 154 MB): not a CIFAR binary file"
        )
    if size % record:
        with open(path, "rb") as f:
            what = _what_is(f.read(16))
        raise InputError(
            f"{path} is not a CIFAR binary file: {size} bytes is not a whole number of"
            f" {record}-byte records ({len(layout.labels)} label byte(s) and {CIFAR_PIXELS} pixels)"
            + (f"; it is {what}" if what else "")
        )
    return size // record


def read_cifar_bin(path: Path, layout: CifarLayout) -> tuple[Any, dict[str, Any]]:
    """One CIFAR binary file: images as uint8 (N, 3, 32, 32) and each label as uint8 (N,)."""
    import numpy as np

    _cifar_records(path, layout)
    data = np.fromfile(path, dtype="u1")
    record = len(layout.labels) + CIFAR_PIXELS
    if len(data) == 0 or len(data) % record:  # changed since its size was read
        raise InputError(f"{path} changed while it was read: read {len(data)} bytes")
    rows = data.reshape(-1, record)
    labels = {name: rows[:, i] for i, name in enumerate(layout.labels)}
    for name, column in labels.items():
        if column.max() >= layout.classes[name]:
            what = "label" if name == "label" else f"{name} label"
            raise InputError(
                f"{path} is not a CIFAR binary file of this set: a record's {what} byte is"
                f" {column.max()}, past its {layout.classes[name]} classes"
            )
    return rows[:, len(layout.labels) :].reshape(-1, 3, 32, 32), labels


def cifar_folder(folder: str, source: str) -> Path:
    """The folder holding the set's files: `folder` itself, or the archive's directory inside it."""
    layout = CIFAR_SETS[source]
    root = _folder(folder, source, f"holding the .bin files or {layout.folder}/")
    names = [*layout.train, layout.test]
    candidates = [root, root / layout.folder]
    for candidate in candidates:
        if all((candidate / n).is_file() for n in names):
            return candidate
    looked = candidates[1] if candidates[1].is_dir() else root
    folders = [n for n in names if (looked / n).is_dir()]
    if folders:
        raise InputError(f"{(looked / folders[0]).resolve()} is a folder, not a CIFAR binary file")
    missing = [n for n in names if not (looked / n).is_file()]
    pickled = (root / layout.pickled).exists()
    hint = f" (the {layout.pickled}/ found there is the Python version, a pickle sweepnn does not read)"
    raise InputError(
        f"{source} files missing in {looked.resolve()}: {', '.join(missing)}."
        f" Expected {', '.join(names)} in {root.resolve()} or in its {layout.folder}/."
        f" Get the binary version{hint if pickled else ''} from {layout.url} and extract it into {root},"
        f" or run `sweepnn download {source}`"
    )


def check_cifar_set(folder: str, source: str) -> Path:
    """A CIFAR binary set's files, checked without reading them: all there, each a whole number of
    records within the size limit. Returns the folder holding them."""
    layout = CIFAR_SETS[source]
    found = cifar_folder(folder, source)
    for name in (*layout.train, layout.test):
        _cifar_records(found / name, layout)
    return found


def load_cifar_set(folder: str, source: str, label: str | None = None) -> dict[str, Any]:
    """A CIFAR binary set: images float32 (N, 3, 32, 32) in [0, 1]; `label` picks which label byte
    (CIFAR-100's fine or coarse)."""
    import numpy as np

    layout = CIFAR_SETS[source]
    label = label or layout.labels[-1]
    found = check_cifar_set(folder, source)

    def read(names: tuple[str, ...]) -> tuple[Any, Any]:
        parts = [read_cifar_bin(found / n, layout) for n in names]
        images = np.concatenate([p[0] for p in parts])
        y = np.concatenate([p[1][label] for p in parts]).astype("int64")
        x = images.astype("float32")
        x /= 255.0  # in place: CIFAR-10's training images are 600 MB as float32
        return x, y

    x, y = read(layout.train)
    x_test, y_test = read((layout.test,))
    train = str(found / layout.train[0]) if len(layout.train) == 1 else f"the training files in {found}"
    files = {"x": train, "y": train, "x_test": str(found / layout.test), "y_test": str(found / layout.test)}
    return {"x": x, "y": y, "x_test": x_test, "y_test": y_test, "files": files}


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
        head = _read(f, _HEADER_BYTES + 1, file, file.suffix.lstrip(".") if opener is not open else "")
    what, binary = _what_is(head[:16]), b"\0" in head[:65536]
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
                f"{file}: its first line is longer than {_size(_HEADER_BYTES)}: not a CSV header"
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
        what = _what_is(head)
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
    from sweepnn.arrays import check_rows

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

    from sweepnn.arrays import MAX_CLASSES, check_rows

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
