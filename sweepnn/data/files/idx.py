"""IDX files (MNIST, Fashion-MNIST), raw or gzipped: the header read and checked first, then exactly
the bytes it declares, never more."""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sweepnn.data.files.reading import (
    MAX_ARRAY_BYTES,
    find,
    folder_of,
    open_binary,
    read_stream,
    size_text,
    what_is,
)
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
    head = read_stream(f, 4, path)
    if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in _IDX_TYPES:
        what = what_is(head + read_stream(f, 12, path))
        if len(head) == 4 and head[:2] == b"\0\0":
            why = f"its type code 0x{head[2]:02X} is none of the IDX types"
        else:
            why = f"it is {what}" if what else "an IDX file starts with two zero bytes and a type code"
        raise InputError(f"{path} is not an IDX file (its header is {head!r}: {why})")
    ndim = head[3]
    if ndim == 0:
        raise InputError(f"{path} is not an IDX file: its header declares no dimensions")
    dims = read_stream(f, 4 * ndim, path)
    if len(dims) < 4 * ndim:
        raise InputError(f"{path} is truncated: its header declares {ndim} dimensions, the file ends first")
    header = IdxHeader(path, _IDX_TYPES[head[2]], struct.unpack(f">{ndim}I", dims))
    if header.nbytes > MAX_ARRAY_BYTES:
        raise InputError(
            f"{path} declares {header.shape_text} values of {header.dtype}: {size_text(header.nbytes)},"
            f" past the {size_text(MAX_ARRAY_BYTES)} sweepnn reads from one file (the largest published"
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
    with open_binary(path) as f:
        return _idx_header(f, path)


def read_idx(path: Path) -> Any:
    """One IDX file as a numpy array (the format of LeCun's MNIST distribution). The header is read
    first; then exactly the bytes it declares (never more: a .gz that inflates past them is refused
    as soon as one byte more comes out)."""
    import numpy as np

    with open_binary(path) as f:
        header = _idx_header(f, path)
        data = read_stream(f, header.nbytes, path)
        if len(data) < header.nbytes:
            have, expected = header.offset + len(data), header.offset + header.nbytes
            raise InputError(f"{path} is truncated or corrupt: {have} bytes, its header promises {expected}")
        if read_stream(f, 1, path):  # also reads a .gz to its end, where its checksum is verified
            raise InputError(
                f"{path} is corrupt: it holds more than the {header.offset + header.nbytes} bytes its header"
                f" promises ({header.shape_text} values of {header.dtype})"
            )
    return np.frombuffer(data, dtype=header.dtype).reshape(header.shape)


def check_idx_set(folder: str, source: str) -> dict[str, IdxHeader]:
    """The headers of an MNIST-style set's four IDX files, checked without reading their data: every
    file there, images (N, rows, columns) and labels (N) of whole numbers, as many labels as images,
    test images of the training images' size. Used by `sweepnn validate` and before every load."""
    root = folder_of(folder, source, "holding the four IDX files")
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
