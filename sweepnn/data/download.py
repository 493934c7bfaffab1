"""Opt-in download of the public datasets sweepnn reads from files, for machines with a network.

A sweep never downloads anything: `download(name)` is run once, by hand, and fetches a dataset's
published files into the folder its recipe entry reads by default (`data/<name>`). Each file is
checked against the checksum its publisher lists before it is kept, and written atomically, so a
failed or interrupted download leaves nothing behind; archives are extracted with tarfile's `data`
filter (no absolute paths, no `..`, no links out of the folder, no devices). A file already there
with the right checksum is not fetched again.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sweepnn.data.files import CIFAR_SETS, IDX_FILES
from sweepnn.errors import InputError, SweepnnError, choices_text, did_you_mean

__all__ = ["SOURCES", "Remote", "Source", "default_folder", "download"]

_CHUNK = 1 << 20
_HASHES = {"md5": 32, "sha256": 64}  # algorithm -> length of its hex digest


@dataclass(frozen=True)
class Remote:
    """One published file and its checksum as published: `md5:<hex>` or `sha256:<hex>`."""

    file: str
    checksum: str
    extract: bool = False  # a tar archive whose members are the dataset's files

    def __post_init__(self) -> None:
        algorithm, _, digest = self.checksum.partition(":")
        if _HASHES.get(algorithm) != len(digest) or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError(
                f"{self.file}: checksum {self.checksum!r} is not md5:<32 hex> or sha256:<64 hex>"
            )


@dataclass(frozen=True)
class Source:
    """A downloadable dataset: where its files are published, and what extracting them leaves."""

    name: str
    base_url: str
    files: tuple[Remote, ...]
    # paths (relative to the folder) an archive's extraction leaves; all present means nothing to do
    extracted: tuple[str, ...] = field(default=())


def _idx(name: str, base_url: str, md5: Mapping[str, str]) -> Source:
    """An MNIST-style set: the four gzipped IDX files, named as sweepnn.data.files reads them."""
    return Source(name, base_url, tuple(Remote(f"{IDX_FILES[k]}.gz", f"md5:{md5[k]}") for k in IDX_FILES))


def _cifar(name: str, md5: str) -> Source:
    """A CIFAR binary version: one .tar.gz that extracts to the directory sweepnn.data.files reads."""
    layout = CIFAR_SETS[name]
    base_url, archive = layout.url.rsplit("/", 1)
    members = tuple(f"{layout.folder}/{n}" for n in (*layout.train, layout.test))
    return Source(name, f"{base_url}/", (Remote(archive, f"md5:{md5}", extract=True),), members)


# Checksums as the publishers list them. MNIST and Fashion-MNIST: the MD5 of each .gz in torchvision's
# torchvision/datasets/mnist.py (MNIST.resources, FashionMNIST.resources); MNIST is fetched from the
# mirror torchvision uses, since LeCun's own site refuses many clients. CIFAR: the MD5 of each binary
# archive on https://www.cs.toronto.edu/~kriz/cifar.html (also in the git-annex keys of Mila's
# datasets--cifar100 repository: 170,052,171 and 168,513,733 bytes).
SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        _idx(
            "mnist",
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            {
                "x": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                "y": "d53e105ee54ea40749a09fcbcd1e9432",
                "x_test": "9fb629c4189551a2d022fa330f9573f3",
                "y_test": "ec29112dd5afa0611ce80d1b7f02629c",
            },
        ),
        _idx(
            "fashion_mnist",
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            {
                "x": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                "y": "25c81989df183df01b3e8a0aad5dffbe",
                "x_test": "bef4ecab320f06d8554ea6380940ec79",
                "y_test": "bb300cfdad3c16e7a12a480ee83cd310",
            },
        ),
        _cifar("cifar10", "c32a1d4ab5d03f1284b67883e8d87530"),
        _cifar("cifar100", "03b5dce01913d631647c71ecec9e9cb8"),
    )
}


def default_folder(name: str) -> Path:
    """Where a dataset is downloaded unless told otherwise: the folder its recipe entry reads by default."""
    return Path("data") / name


def download(
    name: str,
    folder: str | Path | None = None,
    base_url: str | None = None,
    sources: Mapping[str, Source] = SOURCES,
    log: Callable[[str], None] | None = None,
) -> list[Path]:
    """Fetch dataset `name` into `folder` (default data/<name>), verified and extracted.

    `base_url` replaces where the files are fetched from (a mirror); `sources` replaces the table of
    files and checksums. Returns the files written by this call: empty when everything was already
    there. A checksum mismatch is an InputError and keeps nothing; so is an unsafe archive member.
    """
    if name not in sources:
        raise InputError(
            f"no download for dataset {name!r};{did_you_mean(name, sources)}"
            f" downloadable: {choices_text(sources)} (the generated datasets need none)"
        )
    source = sources[name]
    root = Path(folder if folder is not None else default_folder(name)).expanduser()
    say = log or (lambda _: None)
    created = not root.exists()
    written: list[Path] = []
    try:
        root.mkdir(parents=True, exist_ok=True)
        for remote in source.files:
            target = root / remote.file
            if remote.extract and not target.is_file() and _extracted(root, source):
                say(f"have {', '.join(source.extracted)} in {root}")  # the archive was removed: fine
                continue
            fetched = not (target.is_file() and _digest(target, remote.checksum) == remote.checksum)
            if fetched:
                url = (base_url or source.base_url).rstrip("/") + "/" + remote.file
                say(f"fetching {url}")
                _fetch(url, target, remote.checksum)
                written.append(target)
            else:
                say(f"have {target} (its {remote.checksum.partition(':')[0]} checks)")
            if remote.extract and (fetched or not _extracted(root, source)):
                say(f"extracting {target}")
                written += _extract(target, root)
    finally:
        if created and root.is_dir() and not any(root.iterdir()):
            root.rmdir()  # a download that kept nothing leaves no empty folder either
    return written


def _extracted(root: Path, source: Source) -> bool:
    return bool(source.extracted) and all((root / p).is_file() for p in source.extracted)


def _digest(path: Path, checksum: str) -> str:
    """`algorithm:hex` of the file at `path`, in the algorithm `checksum` names."""
    algorithm = checksum.partition(":")[0]
    h = hashlib.new(algorithm, usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return f"{algorithm}:{h.hexdigest()}"


def _fetch(url: str, target: Path, checksum: str) -> None:
    """Download `url` to `target` through a temporary file beside it, kept only if the checksum matches."""
    algorithm = checksum.partition(":")[0]
    h = hashlib.new(algorithm, usedforsecurity=False)
    from sweepnn.atomic import replacing

    with replacing(target, ".part") as tmp:  # a reader never sees a half-written file
        with open(tmp, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=60) as response:
                    while chunk := response.read(_CHUNK):
                        h.update(chunk)
                        out.write(chunk)
            except (urllib.error.URLError, OSError) as e:
                reason = e if isinstance(e, urllib.error.HTTPError) else getattr(e, "reason", e)
                raise SweepnnError(
                    f"cannot download {url}: {reason}. Check the network, or fetch {target.name} by hand"
                    f" into {target.parent} (its checksum is {checksum})"
                ) from None
        got = f"{algorithm}:{h.hexdigest()}"
        if got != checksum:
            raise InputError(
                f"checksum mismatch for {url}: expected {checksum}, got {got}; the file was not kept."
                " The download was corrupted or the mirror serves another file: try again, or another mirror"
            )


def _extract(archive: Path, root: Path) -> list[Path]:
    """Extract a tar archive into `root` with the `data` filter, through a staging folder beside it,
    so a refused or broken archive leaves nothing half-extracted."""
    if not hasattr(tarfile, "data_filter"):
        raise SweepnnError(
            f"safe extraction needs tarfile's data filter (Python 3.10.12+, 3.11.4+);"
            f" upgrade Python or extract {archive} by hand"
        )
    staging = Path(tempfile.mkdtemp(dir=root, prefix=".extract-"))
    try:
        try:
            with tarfile.open(archive, "r:*") as tar:
                # the data filter would strip a leading '/' and extract it inside; refuse it instead
                outside = [m.name for m in tar if m.name.startswith("/") or ".." in m.name.split("/")]
                if outside:
                    raise InputError(f"refused to extract {archive}: members outside the folder: {outside}")
                tar.extractall(staging, filter="data")
        except tarfile.TarError as e:  # FilterError (an absolute path, '..', a link out) is one
            raise InputError(f"refused to extract {archive}: {e}") from None
        written = []
        for src in sorted(staging.rglob("*")):
            if src.is_file() and not src.is_symlink():
                dest = root / src.relative_to(staging)
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.replace(src, dest)
                written.append(dest)
        return written
    finally:
        shutil.rmtree(staging, ignore_errors=True)
