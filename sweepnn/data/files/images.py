"""A folder of image files, one folder per class: `path/<class>/*.png`, or split into `path/train/<class>/`,
`path/test/<class>/` and optionally `path/val/<class>/` (torchvision's ImageFolder layout). test/ and
val/ become the dataset's own test and validation sets (Arrays.x_test, Arrays.x_val); without them
the usual fractions carve those splits out of the training pool.

Classes are the class folders' names, sorted as Python sorts strings (case-sensitive, `Zebra` before
`apple`): class 0 is the first of them. `image_layout(path).classes` gives the mapping, and the error
messages print it. Images are found anywhere under a class folder by their suffix (IMAGE_SUFFIXES,
any case); other files there (a README, labels.csv, Thumbs.db) are ignored, and so are hidden files
and folders (`.DS_Store`, `.ipynb_checkpoints/`, which would otherwise be a class). A file with an
image suffix that Pillow cannot decode as one of those formats is an error naming the file.

Each image is decoded once by Pillow in this process: EXIF orientation applied, converted to RGB or L
(alpha dropped, as torchvision's loader drops it; 16-bit grey scaled to 8 bits, where Pillow would
clip), resized to the recipe's size with the bilinear filter (antialiased when shrinking), and written
into one preallocated uint8 array. That array is cached as .npz under the cache folder, keyed by the
folder, every file's path, size and modification time, and the size and channels asked for: a second
read loads the cache; a changed, added or removed file reads the folder again.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sweepnn.data.arrays import memory_limit
from sweepnn.data.files.reading import folder_of, size_text
from sweepnn.errors import InputError

# What counts as an image, by suffix, and the Pillow decoders allowed to open one: a file is decoded
# only as one of these formats, so a renamed EPS or TIFF never reaches a decoder sweepnn does not mean.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP")
CHANNELS = {"rgb": "RGB", "gray": "L"}  # data.channels -> the Pillow mode images are converted to

SPLITS = ("train", "test", "val")  # the split folders of the split layout
_CACHE_VERSION = 1  # part of the cache key: a change to decoding reads every folder again
_SHOWN = 5  # file or folder names listed in a message before "..."


@dataclass(frozen=True)
class ImageLayout:
    """What an image folder holds, found without decoding anything: the classes (index -> folder
    name), and each split's images with their class index (test, val None without their folder)."""

    root: Path
    classes: tuple[str, ...]
    train: tuple[tuple[Path, int], ...]
    test: tuple[tuple[Path, int], ...] | None
    val: tuple[tuple[Path, int], ...] | None
    split: bool  # the train/ (test/, val/) layout, rather than class folders in root

    def splits(self) -> dict[str, tuple[tuple[Path, int], ...]]:
        """The splits there are, by the name of their arrays' key: x (train), x_test, x_val."""
        found = {"x": self.train, "x_test": self.test, "x_val": self.val}
        return {k: v for k, v in found.items() if v is not None}

    @property
    def count(self) -> int:
        return sum(map(len, self.splits().values()))

    def classes_text(self) -> str:
        return layout_classes(self.classes)


def layout_classes(classes) -> str:
    """The class index -> folder name mapping as text: '0: cat, 1: dog'."""
    return ", ".join(f"{i}: {name}" for i, name in enumerate(classes))


def _listed(names: list[str]) -> str:
    return ", ".join(names[:_SHOWN]) + (f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else "")


def _visible(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if not p.name.startswith(".")), key=lambda p: p.name)


def _is_image(name: str) -> bool:
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES


def _images(folder: Path) -> tuple[list[Path], list[str]]:
    """The images anywhere under `folder`, in sorted order, and the other files' names."""
    images, others = [], []
    # followlinks=False: a link back up the tree cannot walk forever
    for where, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if _is_image(name):
                images.append(Path(where) / name)
            elif not name.startswith("."):
                others.append(name)
    return images, others


def _class_folders(split: Path, what: str, least: int) -> list[Path]:
    """The class folders of one split, at least `least` of them; InputError when fewer."""
    folders = [p for p in _visible(split) if p.is_dir()]
    if not folders:
        loose = [p.name for p in _visible(split) if _is_image(p.name)]
        hint = (
            f"; it holds {len(loose)} image file(s) directly ({_listed(loose)}): put each class's images"
            f" in a folder of its own, {split}/<class>/"
            if loose
            else f": expected {split}/<class>/*.png (one folder per class)"
        )
        raise InputError(f"{what} {split} holds no class folders{hint}")
    if len(folders) < least:
        raise InputError(
            f"{what} {split} has one class folder, '{folders[0].name}': a classification needs at least 2"
            f" (one folder per class: {split}/<class>/*.png)"
        )
    return folders


def _split_files(folders: list[Path], classes: list[str]) -> list[tuple[Path, int]]:
    out: list[tuple[Path, int]] = []
    for folder in folders:
        images, others = _images(folder)
        if not images:
            found = f"; it holds {len(others)} other file(s): {_listed(others)}" if others else ""
            raise InputError(
                f"the class folder {folder} holds no images (files ending {', '.join(IMAGE_SUFFIXES)}){found}"
            )
        out += [(f, classes.index(folder.name)) for f in images]
    return out


def image_layout(path: str, test_fraction: float = 0.0) -> ImageLayout:
    """The cheap checks of an image folder (the folders are there, at least two classes, an image in
    each class folder, test classes the training set has), reading no image. Raises InputError."""
    root = folder_of(path, "image_folder", "of class folders (path/<class>/*.png) or of train/ and test/")
    if not root.is_dir():
        raise InputError(
            f"no image folder at {root.resolve()}: data.path of image_folder names a folder of class"
            " folders (path/<class>/*.png), or of train/ and test/ folders holding them"
        )
    root = root.resolve()
    split = (root / "train").is_dir()
    if split:
        others = [p.name for p in _visible(root) if p.is_dir() and p.name not in SPLITS]
        if others:
            raise InputError(
                f"{root} has a train/ folder and also {_listed(others)}: either split folders (train/,"
                " test/) each holding one folder per class, or one folder per class, not both"
            )
    train_root = root / "train" if split else root
    train_folders = _class_folders(train_root, "the image folder", 2)
    classes = [f.name for f in train_folders]
    train = _split_files(train_folders, classes)
    held: dict[str, tuple[tuple[Path, int], ...]] = {}
    for name in ("test", "val") if split else ():
        if not (root / name).is_dir():
            continue
        if name == "test" and test_fraction > 0:
            raise InputError(
                f"{root} has a test/ folder, its test set: leave data.test_fraction out (it is"
                f" {test_fraction}), or remove test/ to carve a test set out of train/"
            )
        folders = _class_folders(root / name, f"the {name} folder", 1)
        unknown = [f.name for f in folders if f.name not in classes]
        if unknown:
            raise InputError(
                f"{root / name} has class folder(s) {_listed(unknown)} that {train_root} has not;"
                f" the classes are those of the training folders, {layout_classes(classes)}"
            )
        held[name] = tuple(_split_files(folders, classes))
    return ImageLayout(root, tuple(classes), tuple(train), held.get("test"), held.get("val"), split)


def _hw(size: int | list[int]) -> tuple[int, int]:
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


def check_image_folder(
    path: str, size: int | list[int], channels: str, test_fraction: float = 0.0
) -> ImageLayout:
    """image_layout's checks, and that the decoded images (float32) fit in memory: checked from the
    file count, before anything is decoded (sweepnn.data.arrays.memory_limit)."""
    layout = image_layout(path, test_fraction)
    h, w = _hw(size)
    c = len(CHANNELS[channels])
    need = layout.count * c * h * w * 4
    limit = memory_limit()
    if need > limit:
        raise InputError(
            f"{layout.root}: {layout.count:,} images of {c}x{h}x{w} take {size_text(need)} as float32,"
            f" past the {size_text(limit)} sweepnn decodes from an image folder; lower data.size"
            " or read fewer images"
        )
    return layout


def _decode(file: Path, mode: str, hw: tuple[int, int]) -> Any:
    """One image as uint8 (H, W, C): oriented, converted to `mode`, resized; InputError naming the
    file and Pillow's reason when it cannot be."""
    import numpy as np
    from PIL import Image, ImageOps

    try:
        with Image.open(file, formats=_FORMATS) as img:
            img = ImageOps.exif_transpose(img)
            if img.mode in ("I", "I;16", "I;16B", "I;16L"):  # 16-bit grey: Pillow's convert clips it to 255
                img = Image.fromarray((np.asarray(img).astype("uint32") >> 8).clip(0, 255).astype("uint8"))
            elif img.mode == "P":  # a palette with transparency goes through RGBA (else Pillow warns)
                img = img.convert("RGBA")
            img = img.convert(mode).resize((hw[1], hw[0]), Image.Resampling.BILINEAR)
            a = np.asarray(img)
    except Exception as e:  # a hostile or broken file may raise anything from its decoder
        system = isinstance(e, OSError) and e.strerror  # no permission, a vanished file: not Pillow's
        reason = e.strerror if system else f"{e} ({type(e).__name__} from Pillow)"
        raise InputError(f"cannot read the image {file}: {reason}") from None
    return a[:, :, None] if a.ndim == 2 else a


def _decode_all(files: tuple[tuple[Path, int], ...], mode: str, hw: tuple[int, int]) -> tuple[Any, Any]:
    import numpy as np

    try:
        import PIL  # noqa: F401  (not a dependency of sweepnn itself: it comes with matplotlib)
    except ImportError:
        raise InputError(
            "image_folder decodes images with Pillow, which is not installed: pip install 'sweepnn[images]'"
        ) from None

    x = np.empty((len(files), len(mode), *hw), "uint8")  # filled in place: the set is never held twice
    y = np.empty(len(files), "int64")
    for i, (file, label) in enumerate(files):
        x[i] = _decode(file, mode, hw).transpose(2, 0, 1)
        y[i] = label
    return x, y


def _cache_names(layout: ImageLayout, hw: tuple[int, int], channels: str) -> tuple[str, str]:
    """The cache file's prefix (folder, size, channels) and name (the prefix and every file's
    path, size and modification time): another file list is another name under the same prefix."""
    what = {"v": _CACHE_VERSION, "root": str(layout.root), "size": list(hw), "channels": channels}
    prefix = "image_folder-" + hashlib.sha1(json.dumps(what).encode()).hexdigest()[:12]
    digest = hashlib.sha1()
    for split, files in layout.splits().items():
        for file, label in files:
            st = file.stat()
            digest.update(
                f"{split}\0{file.relative_to(layout.root)}\0{label}\0{st.st_size}\0{st.st_mtime_ns}\n".encode()
            )
    return prefix, f"{prefix}-{digest.hexdigest()[:16]}.npz"


def _read_cache(path: Path, layout: ImageLayout, shape: tuple[int, ...]) -> dict[str, Any] | None:
    import numpy as np

    try:
        with np.load(path) as d:
            arrays = {k: d[k] for k in d.files}
    except Exception:  # none yet (the first read), or one broken by hand: read the folder again
        return None
    for key in ("x", "x_test", "x_val"):
        files, got = layout.splits().get(key), arrays.get(key)
        if (got is None) != (files is None) or (got is not None and got.shape != (len(files), *shape)):
            return None
    return arrays


def _write_cache(cache: Path, name: str, prefix: str, arrays: dict[str, Any]) -> None:
    import numpy as np

    cache.mkdir(parents=True, exist_ok=True)
    tmp = cache / f".tmp-{os.getpid()}-{name}"
    np.savez(tmp, **arrays)
    os.replace(tmp, cache / name)  # atomic: parallel workers never read a half-written cache
    for stale in cache.glob(f"{prefix}-*.npz"):  # the same folder read before it changed
        if stale.name != name:
            stale.unlink(missing_ok=True)


def load_image_folder(
    path: str, size: int | list[int], channels: str, cache: Path, test_fraction: float = 0.0
) -> dict[str, Any]:
    """An image folder as float32 (N, C, H, W) in [0, 1] and int64 labels (the sorted class folders'
    indices), its test/ and val/ folders as the test and validation sets; decoded once, then read
    from the cache."""
    import numpy as np

    layout = check_image_folder(path, size, channels, test_fraction)
    hw = _hw(size)
    mode = CHANNELS[channels]
    prefix, name = _cache_names(layout, hw, channels)
    arrays = _read_cache(cache / name, layout, (len(mode), *hw))
    if arrays is None:
        arrays = {}
        for key, files in layout.splits().items():
            arrays[key], arrays["y" + key[1:]] = _decode_all(files, mode, hw)
        _write_cache(cache, name, prefix, {**arrays, "classes": np.array(layout.classes)})
    out: dict[str, Any] = {"files": {}}
    for key in layout.splits():
        x = arrays[key].astype("float32")
        x /= 255.0  # in place: no second float32 copy
        out[key], out["y" + key[1:]] = x, arrays["y" + key[1:]].astype("int64")
        folder = layout.root / (key[2:] or "train") if layout.split else layout.root
        out["files"][key] = out["files"]["y" + key[1:]] = str(folder)
    return out
