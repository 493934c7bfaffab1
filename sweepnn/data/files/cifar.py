"""The CIFAR-10 and CIFAR-100 binary versions: fixed-size records, checked by the files' sizes before
they are read (the Python version is a pickle and is never read)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sweepnn.data.files.reading import MAX_ARRAY_BYTES, folder_of, size_text, what_is
from sweepnn.errors import InputError


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
            f"{path} is {size_text(size)}, past the {size_text(MAX_ARRAY_BYTES)} sweepnn reads from one file"
            " (a published CIFAR file is at most 154 MB): not a CIFAR binary file"
        )
    if size % record:
        with open(path, "rb") as f:
            what = what_is(f.read(16))
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


def cifarfolder_of(folder: str, source: str) -> Path:
    """The folder holding the set's files: `folder` itself, or the archive's directory inside it."""
    layout = CIFAR_SETS[source]
    root = folder_of(folder, source, f"holding the .bin files or {layout.folder}/")
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
    found = cifarfolder_of(folder, source)
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
