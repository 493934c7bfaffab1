"""Reading files that are not trusted: what a file's first bytes say it is, streams that may be
gzipped, reads that turn a broken compressed stream into an InputError naming the file, and the bound
on what one binary array file may hold."""

from __future__ import annotations

import gzip
import lzma
import zlib
from pathlib import Path

from sweepnn.errors import InputError

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


def what_is(head: bytes) -> str | None:
    """What the first bytes of a file say it is ('a PNG image'), or None when they say nothing."""
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return what
    return None


def size_text(n: int) -> str:
    """`n` bytes as text for messages, in binary units to one decimal: '1.5 GiB', '512 bytes'."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def open_binary(path: Path):
    """`path` for reading as a stream: gzip-decompressed as it is read when it ends in .gz."""
    if path.stat().st_size == 0:
        raise InputError(f"{path} is empty (0 bytes)")
    if path.suffix == ".gz":
        with open(path, "rb") as raw:
            if raw.read(2) != b"\x1f\x8b":
                raw.seek(0)
                head = raw.read(16)
                what = what_is(head)
                raise InputError(
                    f"{path} is not a gzip file (named .gz, but it starts with {head[:8]!r}"
                    f"{f': {what}' if what else ''}); decompress it or rename it without .gz"
                )
        return gzip.open(path, "rb")
    return open(path, "rb")


def read_stream(f, n: int, path: Path, compression: str = "gzip") -> bytes:
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


def find(folder: Path, stem: str) -> Path | None:
    """`folder/stem`, else `folder/stem.gz`, whichever is a file first; None when neither is."""
    for name in (stem, f"{stem}.gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def folder_of(folder: str, source: str, what: str) -> Path:
    """data.path of a set read from a folder: it must be one."""
    root = Path(folder).expanduser()
    if root.exists() and not root.is_dir():
        raise InputError(
            f"{root.resolve()} is a file, not a folder: data.path of {source} names the folder {what}"
        )
    return root
