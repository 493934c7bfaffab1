"""Datasets read from files in their published formats: IDX (MNIST, Fashion-MNIST), raw or gzipped;
the CIFAR binary version; tables (CSV, Parquet); folders of image files, one folder per class (Pillow).

Readers return numpy arrays and never execute anything from a file (CIFAR's Python version is a
pickle, so only its binary version is read). A missing file is an error that names every file
expected, where it was looked for, and where to get it.

Files are distrusted: a header is read and checked (magic number, type, declared sizes within
MAX_ARRAY_BYTES, a table's width within MAX_TABLE_COLUMNS) before anything it announces is read or
inflated, and a file that holds more or less than its header declares, a broken compressed stream, a
folder or a file of another format where a file of this one belongs are InputErrors naming the file.
The `check_*` functions do what needs no parsing of the data, for `sweepnn validate` and before each
load; `sweepnn.data.arrays.check` then refuses what no training can use.
"""

from __future__ import annotations

from sweepnn.data.files.cifar import (
    CIFAR_PIXELS,
    CIFAR_SETS,
    CifarLayout,
    check_cifar_set,
    load_cifar_set,
    read_cifar_bin,
)
from sweepnn.data.files.idx import (
    IDX_FILES,
    IDX_SOURCES,
    IdxHeader,
    check_idx_set,
    idx_header,
    load_idx_set,
    read_idx,
)
from sweepnn.data.files.images import (
    IMAGE_SUFFIXES,
    ImageLayout,
    check_image_folder,
    image_layout,
    load_image_folder,
)
from sweepnn.data.files.reading import MAX_ARRAY_BYTES, find
from sweepnn.data.files.tables import MAX_TABLE_COLUMNS, TABLE_READERS, TableReader, check_table, load_table

__all__ = [
    "CIFAR_PIXELS",
    "CIFAR_SETS",
    "IDX_FILES",
    "IDX_SOURCES",
    "IMAGE_SUFFIXES",
    "MAX_ARRAY_BYTES",
    "MAX_TABLE_COLUMNS",
    "TABLE_READERS",
    "CifarLayout",
    "IdxHeader",
    "ImageLayout",
    "TableReader",
    "check_cifar_set",
    "check_idx_set",
    "check_image_folder",
    "check_table",
    "find",
    "idx_header",
    "image_layout",
    "load_cifar_set",
    "load_idx_set",
    "load_image_folder",
    "load_table",
    "read_cifar_bin",
    "read_idx",
]
