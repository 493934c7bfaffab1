"""Opt-in downloads, served by a real HTTP server on 127.0.0.1: never the internet.

The served files are small ones in the real formats, written by the tests; their checksums are
computed here and put in place of the published ones, keeping the real table's file names.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import http.server
import io
import re
import tarfile
import threading
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from test_datasets_cifar import write_cifar
from test_files import digits, write_idx

from sweepnn.data.download import SOURCES, Remote, default_folder, download
from sweepnn.data.files import IDX_FILES
from sweepnn.errors import InputError, SweepnnError
from sweepnn.options.datasets import DATASETS


class _Handler(http.server.SimpleHTTPRequestHandler):
    requests: list[str]

    def do_GET(self):
        self.requests.append(self.path)
        super().do_GET()

    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture
def server(tmp_path):
    """(folder it serves, its base URL, the paths requested so far)."""
    served = tmp_path / "served"
    served.mkdir()
    requests: list[str] = []
    handler = partial(type("Handler", (_Handler,), {"requests": requests}), directory=str(served))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{httpd.server_address[1]}/", requests
    httpd.shutdown()
    httpd.server_close()


def sha256(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def serve_as(name: str, served: Path) -> dict:
    """The real table with `name`'s checksums replaced by those of the files in `served`."""
    real = SOURCES[name]
    files = tuple(dataclasses.replace(r, checksum=sha256(served / r.file)) for r in real.files)
    return {name: dataclasses.replace(real, files=files)}


def write_idx_gz(served: Path) -> None:
    """The four MNIST .gz files, as the publishers' mirrors serve them."""
    (x, y), (xt, yt) = digits(200, 0), digits(50, 1)
    for key, array in {"x": x, "y": y, "x_test": xt, "y_test": yt}.items():
        write_idx(served / IDX_FILES[key], array, gz=True)


def write_cifar_archive(served: Path, name: str) -> None:
    """A CIFAR binary archive: the set's directory of .bin files (and the real archive's extra text
    file), tarred and gzipped."""
    tree = write_cifar(served.parent / "tree", name, per_file=100 if name == "cifar100" else 20)
    (tree / SOURCES[name].extracted[0]).parent.joinpath("batches.meta.txt").write_text("airplane\n")
    with tarfile.open(served / SOURCES[name].files[0].file, "w:gz") as tar:
        tar.add(
            tree / Path(SOURCES[name].extracted[0]).parent, arcname=Path(SOURCES[name].extracted[0]).parent
        )


def load(name: str, folder: Path):
    return DATASETS[name].load(DATASETS.parse({"name": name, "path": str(folder)}), folder)


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_idx_download_keeps_verified_files_the_loader_reads(server, tmp_path, name):
    served, url, requests = server
    write_idx_gz(served)
    folder = tmp_path / "data" / name
    got = download(name, folder, base_url=url, sources=serve_as(name, served))
    assert sorted(p.name for p in got) == sorted(f"{stem}.gz" for stem in IDX_FILES.values())
    assert all((folder / p.name).read_bytes() == (served / p.name).read_bytes() for p in got)
    arrays = load(name, folder)
    assert arrays.x.shape == (200, 1, 28, 28) and arrays.x_test.shape == (50, 1, 28, 28)
    assert len(requests) == 4
    assert download(name, folder, base_url=url, sources=serve_as(name, served)) == []  # nothing to do
    assert len(requests) == 4  # and nothing fetched
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in got)  # no temporary files


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_cifar_download_extracts_the_binary_archive_where_the_loader_looks(server, tmp_path, name):
    served, url, requests = server
    write_cifar_archive(served, name)
    folder = tmp_path / "data" / name
    got = download(name, folder, base_url=url, sources=serve_as(name, served))
    archive = folder / SOURCES[name].files[0].file
    assert got[0] == archive and {folder / p for p in SOURCES[name].extracted} <= set(got)
    assert not [p for p in folder.rglob(".*")]  # no staging folder or temporary file left
    arrays = load(name, folder)  # the folder that holds the extracted directory
    assert arrays.x.shape[1:] == (3, 32, 32) and arrays.x_test is not None
    assert download(name, folder, base_url=url, sources=serve_as(name, served)) == []
    assert len(requests) == 1
    archive.unlink()  # extracted files without their archive: still nothing to fetch
    assert download(name, folder, base_url=url, sources=serve_as(name, served)) == []
    assert len(requests) == 1


def test_missing_extracted_files_are_extracted_again_from_the_kept_archive(server, tmp_path):
    served, url, requests = server
    write_cifar_archive(served, "cifar10")
    folder = tmp_path / "c"
    download("cifar10", folder, base_url=url, sources=serve_as("cifar10", served))
    (folder / "cifar-10-batches-bin" / "test_batch.bin").unlink()
    got = download("cifar10", folder, base_url=url, sources=serve_as("cifar10", served))
    assert folder / "cifar-10-batches-bin" / "test_batch.bin" in got and len(requests) == 1


def test_a_corrupted_download_is_refused_and_leaves_nothing(server, tmp_path):
    served, url, _ = server
    write_idx_gz(served)
    sources = serve_as("mnist", served)
    image = served / "t10k-images-idx3-ubyte.gz"
    data = bytearray(image.read_bytes())
    data[100] ^= 0xFF  # one flipped byte in transit
    image.write_bytes(bytes(data))
    folder = tmp_path / "data" / "mnist"
    with pytest.raises(InputError) as e:
        download("mnist", folder, base_url=url, sources=sources)
    want = next(r.checksum for r in sources["mnist"].files if r.file == image.name)
    assert (
        f"checksum mismatch for {url}t10k-images-idx3-ubyte.gz: expected {want}, got {sha256(image)}"
        in str(e.value)
    )
    assert "the file was not kept" in str(e.value)
    kept = sorted(p.name for p in folder.iterdir())
    assert kept == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]  # the verified ones only


def test_a_refused_first_file_leaves_no_folder_behind(server, tmp_path):
    served, url, _ = server
    write_cifar_archive(served, "cifar10")
    sources = serve_as("cifar10", served)
    (served / "cifar-10-binary.tar.gz").write_bytes(b"not the archive")
    folder = tmp_path / "data" / "cifar10"
    with pytest.raises(InputError, match="checksum mismatch"):
        download("cifar10", folder, base_url=url, sources=sources)
    assert not folder.exists()


def _member(name: str, link: str | None = None) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    if link is not None:
        info.type, info.linkname = tarfile.SYMTYPE, link
    else:
        info.size = 4
    return info


@pytest.mark.parametrize(
    "member",
    [
        _member("../escaped.bin"),
        _member("/tmp/sweepnn-absolute.bin"),
        _member("cifar-10-batches-bin/link", link="/etc/passwd"),  # the data filter's own refusal
        _member("cifar-10-batches-bin/up", link="../../escaped.bin"),
    ],
    ids=["dotdot", "absolute", "absolute-link", "link-out"],
)
def test_archive_members_outside_the_folder_are_refused(server, tmp_path, member):
    served, url, _ = server
    with tarfile.open(served / "cifar-10-binary.tar.gz", "w:gz") as tar:
        good = _member("cifar-10-batches-bin/test_batch.bin")
        tar.addfile(good, io.BytesIO(b"\0" * good.size))
        tar.addfile(member, io.BytesIO(b"evil") if member.isfile() else None)
    folder = tmp_path / "data" / "cifar10"
    with pytest.raises(InputError, match=re.escape("refused to extract")):
        download("cifar10", folder, base_url=url, sources=serve_as("cifar10", served))
    assert not (tmp_path / "data" / "escaped.bin").exists() and not Path("/tmp/sweepnn-absolute.bin").exists()
    assert [p.name for p in folder.iterdir()] == ["cifar-10-binary.tar.gz"]  # nothing extracted


def test_a_file_the_server_does_not_have_is_a_clear_error(server, tmp_path):
    _, url, _ = server
    folder = tmp_path / "m"
    with pytest.raises(SweepnnError, match=r"cannot download .*train-images-idx3-ubyte.gz: HTTP Error 404"):
        download("mnist", folder, base_url=url)
    assert not folder.exists()


def test_unknown_names_list_the_downloadable_ones():
    with pytest.raises(
        InputError, match=re.escape("no download for dataset 'cifar'; did you mean 'cifar10'?")
    ):
        download("cifar")
    with pytest.raises(InputError, match="downloadable: cifar10, cifar100, fashion_mnist, mnist"):
        download("mnist1d")


def test_the_real_table_matches_the_datasets_it_fills():
    """Published checksums are well formed, files are where the loaders look, folders are the defaults."""
    assert set(SOURCES) == {"mnist", "fashion_mnist", "cifar10", "cifar100"}
    for name, source in SOURCES.items():
        assert DATASETS[name].defaults()["path"] == str(default_folder(name))
        assert all(r.checksum.startswith("md5:") for r in source.files)  # as the publishers list them
        assert source.base_url.startswith(("https://", "http://")) and source.base_url.endswith("/")
    assert SOURCES["cifar10"].extracted[-1] == "cifar-10-batches-bin/test_batch.bin"
    assert SOURCES["cifar100"].extracted == ("cifar-100-binary/train.bin", "cifar-100-binary/test.bin")
    with pytest.raises(ValueError, match="is not md5:<32 hex> or sha256:<64 hex>"):
        Remote("f.gz", "md5:1234")


def test_downloaded_gz_files_are_the_ones_read_without_unpacking(server, tmp_path):
    """The IDX loader reads the .gz as downloaded: no second, unpacked copy is needed."""
    served, url, _ = server
    write_idx_gz(served)
    folder = tmp_path / "m"
    download("mnist", folder, base_url=url, sources=serve_as("mnist", served))
    with gzip.open(folder / "train-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read()[8:], "uint8")
    assert np.array_equal(load("mnist", folder).y, labels)
