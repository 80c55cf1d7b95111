"""Tests of nnrnn.data's readers: IDX and MNIST, the psMNIST permutation (and the psMNIST
inputs of nnrnn.tasks.psmnist built from it), the awd-lstm-lm text corpora, enwik8, and batching.

Search, checksums and downloads are tested in ``test_data_fetch.py``. The real-data tests read
the project's offline copy (the ``data_dir`` fixture of ``conftest.py``: ``$NNRNN_DATA_DIR``,
else ``../shared/data``) with ``download=False``; they are skipped only if it does not exist.
"""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from nnrnn import data as D
from nnrnn.tasks import psmnist

# Label counts 0..9 and token counts from the data README.
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
PTB_LINES = {"train": 42_068, "valid": 3_370, "test": 3_761}
PTB_TOKENS = {"train": 929_589, "valid": 73_760, "test": 82_430}
PTB_CHARS = {"train": 4_975_414, "valid": 389_672, "test": 438_662}


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """Download folder in tmp_path and no NNRNN_DATA_DIR: a test names its data directory."""
    monkeypatch.setenv("NNRNN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("NNRNN_DATA_DIR", raising=False)


@pytest.fixture(scope="module")
def mnist_train(data_dir):
    return D.load_mnist("train", data_dir=data_dir, download=False)


@pytest.fixture(scope="module")
def mnist_test(data_dir):
    return D.load_mnist("test", data_dir=data_dir, download=False)


@pytest.fixture(scope="module")
def ptb(data_dir):
    return D.load_corpus("ptb", data_dir=data_dir, download=False)


@pytest.fixture(scope="module")
def ptb_char(data_dir):
    return D.load_corpus("ptb-char", data_dir=data_dir, download=False)


# --------------------------------------------------------------------------------------------
# IDX parsing and MNIST
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, magic, shape",
    [
        ("t10k-labels-idx1-ubyte.gz", 2049, (10_000,)),
        ("train-labels-idx1-ubyte.gz", 2049, (60_000,)),
        ("t10k-images-idx3-ubyte.gz", 2051, (10_000, 28, 28)),
    ],
)
def test_read_idx_on_real_files(data_dir, name, magic, shape):
    x = D.read_idx(data_dir / "mnist" / name, magic=magic)
    assert tuple(x.shape) == shape and x.dtype == torch.uint8


def test_read_idx_rejects_the_wrong_magic(data_dir):
    with pytest.raises(D.DataError, match="magic number 2049 .* expected 2051"):
        D.read_idx(data_dir / "mnist" / "t10k-labels-idx1-ubyte.gz", magic=2051)


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


def test_load_mnist_train(mnist_train):
    images, labels = mnist_train
    assert images.shape == (60_000, 28, 28) and images.dtype == torch.uint8
    assert labels.shape == (60_000,) and labels.dtype == torch.int64
    assert torch.bincount(labels, minlength=10).tolist() == MNIST_TRAIN_COUNTS
    assert int(images.max()) == 255 and int(images.min()) == 0


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


def test_psmnist_inputs_are_mnist_pixels_permuted_and_scaled(mnist_test, data_dir):
    """nnrnn.tasks.psmnist's inputs are the MNIST pixels in ``permutation(seed)`` order, in [0, 1]."""
    images, labels = mnist_test
    test = psmnist.test_set(3, 50, data_dir=data_dir, download=False)
    x, y = test.batch(torch.arange(50))
    assert x.shape == (50, 784, 1) and x.dtype == torch.float32
    assert y.shape == (50,) and y.dtype == torch.int64
    assert torch.equal(y, labels[:50])
    assert float(x.min()) >= 0.0 and float(x.max()) == 1.0
    perm = D.permutation(3)
    expected = images[:50].reshape(50, 784).float()[:, perm] / 255.0
    assert torch.allclose(x[..., 0], expected)


def test_psmnist_seed_picks_the_permutation(data_dir):
    a = psmnist.test_set(1, 5, data_dir=data_dir, download=False).pixels
    b = psmnist.test_set(2, 5, data_dir=data_dir, download=False).pixels
    assert torch.equal(a, psmnist.test_set(1, 5, data_dir=data_dir, download=False).pixels)
    assert not torch.equal(a, b)
    assert torch.equal(a.sort(dim=1).values, b.sort(dim=1).values)  # same digits, other order


def test_psmnist_bad_count():
    with pytest.raises(ValueError, match=r"n must be an integer in \[1, 10000\], got -1"):
        psmnist.test_set(0, -1)


# --------------------------------------------------------------------------------------------
# Text corpora
# --------------------------------------------------------------------------------------------


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
