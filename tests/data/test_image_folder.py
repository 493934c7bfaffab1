"""The image_folder dataset on real PNG and JPEG files written here with Pillow: the arrays it makes
(shape, labels, class order, resize, grey), its cache, the train/test layout, every bad folder as exit
2 of the real command with nothing written, and real sweeps on the written images.

Run as a script it writes the shapes data set recipes/image_folder.yaml reads:
    python tests/data/test_image_folder.py data/shapes
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[2]
SHAPES = ("circle", "square", "triangle")

RECIPE = """\
description: a sweep on an image folder
data:
  name: image_folder
  path: {path}
{extra}model: {{name: cnn, channels: [8, 16]}}
train: {{epochs: {epochs}, batch_size: 32}}
search:
  sampler: random
  n_trials: {trials}
  space: {{train.optimizer.lr: {{low: 1e-3, high: 1e-2, log: true}}}}
"""
PATH_LINE = 4  # the line of data.path in RECIPE, where `validate` reports a data problem


# --- the images, written as real files --------------------------------------------------------------


def shape_image(kind: str, rng: np.random.Generator, side: int = 40) -> Image.Image:
    """A `kind` (circle, square, triangle) of a random colour, size and place on a dark noisy ground."""
    ground = rng.integers(0, 70, (side, side, 3)).astype("uint8")
    img = Image.fromarray(ground)
    draw = ImageDraw.Draw(img)
    r = int(rng.integers(side // 6, side // 3))
    cx, cy = (int(v) for v in rng.integers(r, side - r, 2))
    colour = tuple(int(v) for v in rng.integers(110, 256, 3))
    if kind == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)
    elif kind == "square":
        draw.rectangle((cx - r, cy - r, cx + r, cy + r), fill=colour)
    else:
        draw.polygon(((cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)), fill=colour)
    return img


def write_class(folder: Path, kind: str, n: int, seed: int) -> None:
    """`n` images of one shape: even ones PNG, odd ones JPEG."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        shape_image(kind, rng).save(folder / f"{kind}_{i:04d}.{'png' if i % 2 == 0 else 'jpg'}")


def write_shapes(folder: Path, per_class: int = 12, test: int = 0, seed: int = 0) -> Path:
    """Circles, squares and triangles, one folder per class; with `test` > 0, in train/ and test/
    folders, `test` images of each class in test/."""
    folder = Path(folder)
    for k, kind in enumerate(SHAPES):
        write_class(folder / "train" / kind if test else folder / kind, kind, per_class, seed + k)
        if test:
            write_class(folder / "test" / kind, kind, test, seed + 100 + k)
    return folder


def solid(path: Path, rgb: tuple[int, int, int], hw: tuple[int, int] = (20, 30)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((*hw, 3), rgb, "uint8")).save(path)
    return path


# --- in-process reads --------------------------------------------------------------------------------


def read(path: Path, cache: Path, **fields):
    from sweepnn.options.datasets import DATASETS

    params = DATASETS.parse({"name": "image_folder", "path": str(path), **fields})
    return DATASETS["image_folder"].load(params, cache)


def test_arrays_have_the_shape_labels_and_sorted_class_order(tmp_path):
    from sweepnn.data.files import image_layout

    folder = tmp_path / "imgs"
    # sorted as Python sorts: upper case first, so `Zebra` is class 0
    for name, rgb, n in (
        ("b_dark", (30, 30, 30), 3),
        ("Zebra", (200, 10, 10), 2),
        ("a_bright", (230,) * 3, 4),
    ):
        for i in range(n):
            solid(folder / name / f"{i}.png", rgb)
    (folder / "a_bright" / "README.txt").write_text("not an image\n")  # other files are ignored
    (folder / "a_bright" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (folder / ".ipynb_checkpoints").mkdir()  # a hidden folder is no class
    (folder / "notes.md").write_text("loose files at the top are ignored\n")
    a = read(folder, tmp_path / "cache", size=8)
    assert image_layout(str(folder)).classes == ("Zebra", "a_bright", "b_dark")
    assert a.x.shape == (9, 3, 8, 8) and a.x.dtype == np.float32
    assert a.y.dtype == np.int64 and a.y.tolist() == [0, 0, 1, 1, 1, 1, 2, 2, 2]
    assert a.x.min() >= 0 and a.x.max() <= 1
    assert np.allclose(a.x[a.y == 0][:, 0], 200 / 255) and np.allclose(a.x[a.y == 2], 30 / 255)
    assert a.x_test is None and a.files["x"] == str(folder.resolve())


def test_resize_keeps_height_and_width_and_gray_is_pillows_luma(tmp_path):
    folder = tmp_path / "imgs"
    # 16 rows x 8 columns: top half white, bottom half black; a second class of solid red
    top = np.zeros((16, 8, 3), "uint8")
    top[:8] = 255
    (folder / "halves").mkdir(parents=True)
    Image.fromarray(top).save(folder / "halves" / "h.png")
    red = solid(folder / "red" / "r.png", (255, 0, 0), (40, 20))
    a = read(folder, tmp_path / "cache", size=[4, 6])
    assert a.x.shape == (2, 3, 4, 6)
    halves = a.x[0]
    assert np.all(halves[:, 0] == 1.0) and np.all(halves[:, -1] == 0.0)  # rows stay rows
    expected = np.asarray(Image.open(red).convert("RGB").resize((6, 4), Image.Resampling.BILINEAR))
    assert np.array_equal(a.x[1], expected.transpose(2, 0, 1) / np.float32(255))
    g = read(folder, tmp_path / "cache", size=5, channels="gray")
    assert g.x.shape == (2, 1, 5, 5)
    assert np.allclose(g.x[1], round(0.299 * 255) / 255)  # L = 0.299 R + 0.587 G + 0.114 B


def test_sixteen_bit_grey_is_scaled_not_clipped(tmp_path):
    folder = tmp_path / "imgs"
    (folder / "grey").mkdir(parents=True)
    Image.fromarray(np.full((4, 4), 32768, "uint16")).save(folder / "grey" / "g.png")  # mid grey
    solid(folder / "other" / "o.png", (0, 0, 0))
    a = read(folder, tmp_path / "cache", size=4, channels="gray")
    assert np.allclose(a.x[0], 128 / 255)


def test_the_cache_is_read_the_second_time_and_a_changed_file_reads_again(tmp_path, monkeypatch):
    from sweepnn.data.files import images

    folder = write_shapes(tmp_path / "shapes", per_class=4)
    cache = tmp_path / "cache"
    first = read(folder, cache, size=16)
    (written,) = cache.glob("image_folder-*.npz")
    calls = []
    decode = images._decode
    monkeypatch.setattr(images, "_decode", lambda *a: calls.append(a[0]) or decode(*a))
    again = read(folder, cache, size=16)
    assert calls == [] and np.array_equal(first.x, again.x) and np.array_equal(first.y, again.y)
    # another size is another cache file, beside the first
    read(folder, cache, size=8)
    assert len(calls) == 12 and len(list(cache.glob("image_folder-*.npz"))) == 2
    calls.clear()
    changed = folder / "square" / "square_0000.png"
    solid(changed, (255, 255, 255), (40, 40))
    os.utime(changed, ns=(1, 1))  # a new modification time, however coarse the file system's clock
    after = read(folder, cache, size=16)
    assert len(calls) == 12 and not written.exists()  # read again; the stale file is gone
    assert np.all(after.x[4] == 1.0) and not np.array_equal(after.x, first.x)
    calls.clear()
    solid(folder / "circle" / "new.png", (9, 9, 9))  # an added file reads again too
    assert len(read(folder, cache, size=16).y) == 13 and len(calls) == 13


def test_the_train_test_layout_gives_the_test_set(tmp_path):
    folder = write_shapes(tmp_path / "shapes", per_class=6, test=2)
    a = read(folder, tmp_path / "cache", size=12)
    assert a.x.shape == (18, 3, 12, 12) and a.x_test.shape == (6, 3, 12, 12)
    assert a.y_test.tolist() == [0, 0, 1, 1, 2, 2]
    assert a.files["x"].endswith("train") and a.files["x_test"].endswith("test")
    # a test folder may lack a class; its labels are still the training folders' indices
    for f in (folder / "test" / "circle").iterdir():
        f.unlink()
    (folder / "test" / "circle").rmdir()
    assert read(folder, tmp_path / "cache", size=12).y_test.tolist() == [1, 1, 2, 2]


def test_a_val_folder_is_the_validation_split(tmp_path):
    import torch

    from sweepnn.options.datasets import DATASETS
    from sweepnn.training.data import load_data

    folder = write_shapes(tmp_path / "shapes", per_class=6, test=2)
    for k, kind in enumerate(SHAPES[:2]):  # a validation folder may lack a class too
        write_class(folder / "val" / kind, kind, 3, 200 + k)
    a = read(folder, tmp_path / "cache", size=12)
    assert a.x_val.shape == (6, 3, 12, 12) and a.y_val.tolist() == [0, 0, 0, 1, 1, 1]
    assert a.files["x_val"].endswith("val") and len(a.y) == 18 and len(a.y_test) == 6
    params = DATASETS.parse({"name": "image_folder", "path": str(folder), "size": 12})
    d = load_data(params, torch.device("cpu"))
    assert len(d.x_train) == 18 and len(d.x_val) == 6 and len(d.x_test) == 6  # no share of train/ held out
    assert torch.equal(d.x_val, torch.from_numpy(a.x_val))


def test_without_a_test_folder_test_fraction_carves_one(tmp_path):
    from sweepnn.options.datasets import DATASETS
    from sweepnn.training.data import read_checked

    folder = write_shapes(tmp_path / "shapes", per_class=10)
    params = DATASETS.parse({"name": "image_folder", "path": str(folder), "size": 8, "test_fraction": 0.2})
    assert read_checked(params).x.shape == (30, 3, 8, 8)


# --- bad folders: exit 2 of the real command, nothing written ----------------------------------------


def sweep(tmp_path: Path, path: Path, extra: str = "", command: str = "run", epochs=1, trials=1, timeout=180):
    """The real command on a recipe reading the image folder `path`: (exit code, stdout, stderr)."""
    from conftest import command_on  # here, not at the top: run as a script this file has no conftest

    recipe = tmp_path / "r.yaml"
    recipe.write_text(RECIPE.format(path=path, extra=extra, epochs=epochs, trials=trials))
    return command_on(tmp_path, command, recipe, timeout)


def _missing(tmp: Path):
    return tmp / "nowhere", "", ["no image folder at", str((tmp / "nowhere").resolve())]


def _a_file(tmp: Path):
    file = solid(tmp / "one.png", (1, 2, 3))
    return file, "", [str(file.resolve()), "is a file, not a folder"]


def _no_classes(tmp: Path):
    (tmp / "empty").mkdir()
    return tmp / "empty", "", ["holds no class folders", "one folder per class"]


def _loose_images(tmp: Path):
    for i in range(3):
        solid(tmp / "flat" / f"{i}.png", (i, i, i))
    return tmp / "flat", "", ["holds no class folders", "holds 3 image file(s) directly", "0.png"]


def _one_class(tmp: Path):
    write_class(tmp / "one" / "circle", "circle", 3, 0)
    return tmp / "one", "", ["has one class folder, 'circle'", "at least 2"]


def _empty_class(tmp: Path):
    folder = write_shapes(tmp / "shapes", per_class=3)
    (folder / "zigzag").mkdir()
    (folder / "zigzag" / "labels.csv").write_text("a,b\n")
    return folder, "", [f"the class folder {(folder / 'zigzag').resolve()} holds no images", "labels.csv"]


def _not_an_image(tmp: Path):
    folder = write_shapes(tmp / "shapes", per_class=3)
    bad = folder / "square" / "broken.png"
    bad.write_text("this is text, not a PNG\n")
    return folder, "", [f"cannot read the image {bad.resolve()}", "cannot identify image file"]


def _truncated_jpeg(tmp: Path):
    folder = write_shapes(tmp / "shapes", per_class=3)
    bad = folder / "circle" / "circle_0001.jpg"
    bad.write_bytes(bad.read_bytes()[:300])
    return folder, "", [f"cannot read the image {bad.resolve()}", "truncated"]


def _too_large(tmp: Path):
    from sweepnn.data.arrays import memory_limit
    from sweepnn.data.files.images import size_text

    # enough small files that at 4096 x 4096 in RGB (192 MiB each as float32) they pass this machine's
    # limit: refused on the count, nothing decoded
    each = 3 * 4096 * 4096 * 4
    per_class = memory_limit() // each // 3 + 1
    folder = write_shapes(tmp / "shapes", per_class=per_class)
    n = 3 * per_class
    return (
        folder,
        "  size: 4096\n",
        [
            f"{n} images of 3x4096x4096 take {size_text(n * each)} as float32",
            f"past the {size_text(memory_limit())}",
        ],
    )


def _test_class_unknown(tmp: Path):
    folder = write_shapes(tmp / "shapes", per_class=3, test=1)
    write_class(folder / "test" / "star", "circle", 1, 0)
    return folder, "", ["has class folder(s) star that", "0: circle, 1: square, 2: triangle"]


def _test_fraction_with_test(tmp: Path):
    folder = write_shapes(tmp / "shapes", per_class=3, test=1)
    return (
        folder,
        "  test_fraction: 0.2\n",
        ["has a test/ folder, its test set: leave data.test_fraction out"],
    )


def _val_class_unknown(tmp: Path):
    folder = write_shapes(tmp / "shapes", per_class=3, test=1)
    write_class(folder / "val" / "Circle", "circle", 1, 0)
    return folder, "", [f"{(folder / 'val').resolve()} has class folder(s) Circle that"]


def _mixed_layouts(tmp: Path):
    folder = write_shapes(tmp / "shapes", per_class=3, test=1)
    write_class(folder / "circle", "circle", 1, 0)
    return folder, "", ["has a train/ folder and also circle"]


BAD = {
    "missing folder": _missing,
    "a file": _a_file,
    "no class folders": _no_classes,
    "loose images": _loose_images,
    "one class": _one_class,
    "empty class folder": _empty_class,
    "not an image": _not_an_image,
    "truncated jpeg": _truncated_jpeg,
    "too large": _too_large,
    "test class unknown": _test_class_unknown,
    "test_fraction and test/": _test_fraction_with_test,
    "val class unknown": _val_class_unknown,
    "train/ beside class folders": _mixed_layouts,
}


@pytest.mark.parametrize("kind", BAD)
def test_every_bad_folder_is_exit_2_with_nothing_written(tmp_path, kind):
    path, extra, messages = BAD[kind](tmp_path)
    code, out, err = sweep(tmp_path, path, extra)
    text = " ".join(err.split())
    assert code == 2, out + err
    assert "Traceback" not in out + err, err
    for message in messages:
        assert message.lower() in text.lower(), text  # Pillow's reasons differ in case between versions
    results = tmp_path / "results"
    assert not results.exists() or not any(results.rglob("*")), sorted(results.rglob("*"))


@pytest.mark.parametrize("kind", ["one class", "empty class folder", "too large", "test class unknown"])
def test_validate_reports_the_cheap_checks_at_the_line_of_data_path(tmp_path, kind):
    path, extra, messages = BAD[kind](tmp_path)
    code, out, err = sweep(tmp_path, path, extra, command="validate")
    assert code == 2, out + err
    assert f"{tmp_path / 'r.yaml'}:{PATH_LINE}:3: data.path: " in err, err
    assert messages[0] in " ".join(err.split()), err


def test_validate_decodes_nothing_and_passes_a_good_folder(tmp_path):
    folder = write_shapes(tmp_path / "shapes", per_class=3)
    (folder / "circle" / "circle_0000.png").write_text("broken, but validate reads no image\n")
    code, out, err = sweep(tmp_path, folder, command="validate")
    assert code == 0 and out.strip().endswith("r.yaml: ok"), out + err


# --- real sweeps on the written images ---------------------------------------------------------------


def test_a_tiny_sweep_on_written_images_runs(tmp_path):
    folder = write_shapes(tmp_path / "shapes", per_class=12, test=4)
    code, out, err = sweep(tmp_path, folder, "  size: 16\n", epochs=2, trials=2)
    assert code == 0, out + err
    from conftest import rows

    trials = rows(tmp_path / "results" / "r")
    assert len(trials) == 2 and all(t["state"] == "complete" for t in trials), trials


def test_the_shipped_recipe_runs_on_the_data_it_names(tmp_path):
    """recipes/image_folder.yaml reads data/shapes relative to where it runs: written there here."""
    from conftest import sweepnn

    write_shapes(tmp_path / "data" / "shapes", per_class=20, test=4)
    recipe = ROOT / "recipes" / "image_folder.yaml"
    process = sweepnn(
        "run", recipe, "--smoke", "--device", "cpu", "--quiet", "--results", "results", cwd=tmp_path
    )
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, out + err
    assert (tmp_path / "results" / "image_folder-smoke" / "trials.csv").is_file()


if __name__ == "__main__":
    # the data set of recipes/image_folder.yaml: 80 training and 40 test images of each shape
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "data/shapes")
    write_shapes(target, per_class=80, test=40)
    print(f"wrote {target}: {', '.join(SHAPES)} in train/ and test/")
