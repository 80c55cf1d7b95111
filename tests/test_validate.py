"""nnrnn.validate: one wording for every ValueError, and the shared nonlinearity table."""

import math
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nnrnn import validate

WORDING = r"^\S.* must be .+, got .+$"  # "<name> must be <allowed>, got <value>"


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: validate.positive_int(0, "n"), r"^n must be a positive integer, got 0$"),
        (lambda: validate.positive_int(True, "n"), r"^n must be a positive integer, got True$"),
        (lambda: validate.positive_int(2.0, "n"), r"^n must be a positive integer, got 2.0$"),
        (lambda: validate.non_negative_int(-1, "k_max"), r"^k_max must be a non-negative integer, got -1$"),
        (lambda: validate.non_negative_int(2.5, "k_max"), r"^k_max must be a non-negative integer, got 2.5$"),
        (lambda: validate.integer(1, "nlayers", low=2), r"^nlayers must be an integer >= 2, got 1$"),
        (lambda: validate.integer(70000, "n", low=1, high=60000), r"^n must be an integer in \[1, 60000\], got 70000$"),
        (lambda: validate.integer(5, "k", high=3), r"^k must be an integer <= 3, got 5$"),
        (lambda: validate.integer("3", "k"), r"^k must be an integer, got '3'$"),
        (lambda: validate.finite_float(float("nan"), "alpha"), r"^alpha must be a finite number, got nan$"),
        (lambda: validate.finite_float(float("-inf"), "alpha"), r"^alpha must be a finite number, got -inf$"),
        (lambda: validate.finite_float("1.5", "alpha"), r"^alpha must be a finite number, got '1.5'$"),
        (lambda: validate.finite_float(1j, "alpha"), r"^alpha must be a finite number, got 1j$"),
        (lambda: validate.finite_float(True, "alpha"), r"^alpha must be a finite number, got True$"),
        (lambda: validate.finite_float(None, "alpha"), r"^alpha must be a finite number, got None$"),
        (lambda: validate.finite_float(-1.0, "noise", low=0.0), r"^noise must be >= 0.0, got -1.0$"),
        (lambda: validate.finite_float(0.0, "s", low=0.0, low_open=True), r"^s must be > 0.0, got 0.0$"),
        (lambda: validate.finite_float(2.0, "p", high=1.0), r"^p must be <= 1.0, got 2.0$"),
        (lambda: validate.finite_float(1.0, "lam", low=-1.0, high=1.0, low_open=True, high_open=True),
         r"^lam must be in \(-1.0, 1.0\), got 1.0$"),
        (lambda: validate.choice("gelu", "nonlinearity", ("elu", "relu")),
         r"^nonlinearity must be one of \['elu', 'relu'\], got 'gelu'$"),
        (lambda: validate.choice(1, "flag", (True, False)), r"^flag must be one of \[True, False\], got 1$"),
        (lambda: validate.choice(np.zeros(2), "x", ("a",)), r"^x must be one of \['a'\], got array"),
        (lambda: validate.finite(torch.tensor([1.0, float("inf"), float("nan")]), "v"),
         r"^v must be finite, got 2 non-finite entries \(inf at index \(1,\)\)$"),
        (lambda: validate.finite(np.array([[0.0, np.nan]]), "W"), r"^W must be finite, got 1 non-finite entry"),
        (lambda: validate.float_tensor(torch.zeros(3, 3, dtype=torch.long), "w"),
         r"^w must be a non-empty real floating-point tensor, got dtype torch.int64$"),
        (lambda: validate.float_tensor(torch.zeros(3, 3, dtype=torch.complex64), "w"), r"got dtype torch.complex64$"),
        (lambda: validate.float_tensor(np.zeros((3, 3)), "w"), r"^w must be a .*tensor, got ndarray$"),
        (lambda: validate.float_tensor(torch.zeros(2, 3), "w", square=True),
         r"^w must be a non-empty square 2-D real floating-point tensor, got shape \(2, 3\)$"),
        (lambda: validate.float_tensor(torch.zeros(0, 3), "u", ndim=2), r"^u must be a non-empty 2-D .*, got shape \(0, 3\)$"),
        (lambda: validate.real_array(np.eye(2) * 1j, "W"), r"^W must be a real-valued array, got dtype complex128$"),
        (lambda: validate.real_array(torch.eye(2, dtype=torch.complex128), "W"), r"got dtype torch.complex128$"),
        (lambda: validate.real_array([["a"]], "W"), r"^W must be a real-valued array, got dtype <U1$"),
        (lambda: validate.real_array([[1.0, 2.0], [3.0]], "W"), r"^W must be a real-valued array, got list$"),
        (lambda: validate.real_array(np.zeros((2, 3)), "W", square=True), r"^W must be a non-empty square matrix, got shape \(2, 3\)$"),
        (lambda: validate.real_array(np.zeros(4), "v", length=3), r"^v must be a vector of length 3, got shape \(4,\)$"),
        (lambda: validate.real_array(np.zeros((2, 0)), "x", ndim=2), r"^x must be non-empty, got shape \(2, 0\)$"),
        (lambda: validate.real_array([np.nan], "v"), r"^v must be finite, got 1 non-finite entry \(nan at index \(0,\)\)$"),
        (lambda: validate.flag("no", "balance"), r"^balance must be True or False, got 'no'$"),
        (lambda: validate.flag(0, "balance"), r"^balance must be True or False, got 0$"),
        (lambda: validate.nonlinearity("linear"), r"^nonlinearity must be one of \['elu', 'relu', 'tanh'\], got 'linear'$"),
    ],
)
def test_every_error_reads_the_same(call, match):
    with pytest.raises(ValueError, match=match) as info:
        call()
    assert len(str(info.value).splitlines()) == 1
    assert re.match(WORDING, str(info.value))


@pytest.mark.parametrize(
    "value, want",
    [(3, 3.0), (np.float32(0.5), 0.5), (np.int64(2), 2.0), (torch.tensor(1.5), 1.5), (np.array(0.25), 0.25)],
)
def test_finite_float_accepts_real_scalars(value, want):
    got = validate.finite_float(value, "x")
    assert type(got) is float and got == want


def test_flag_accepts_python_and_numpy_bools():
    assert validate.flag(np.bool_(False), "f") is False and validate.flag(True, "f") is True


def test_ints_accept_numpy_integers_and_return_python_ints():
    assert type(validate.positive_int(np.int32(3), "n")) is int
    assert validate.non_negative_int(0, "k") == 0
    assert validate.integer(np.int64(-4), "k") == -4 and type(validate.integer(2, "k", low=2, high=2)) is int


def test_float_tensor_and_real_array_return_values():
    w = torch.empty(3, 3)
    assert validate.float_tensor(w, "w", square=True) is w  # checked, not copied: fills stay in place
    t = torch.ones(2, 2, dtype=torch.float64)
    out = validate.real_array(t, "W", square=True)
    assert out.dtype == torch.float64 and torch.equal(out, t)
    out[0, 0] = 5.0
    assert t[0, 0] == 1.0  # a copy: callers may modify it
    assert validate.real_array(np.array([[True, False], [False, True]]), "W", square=True).dtype == torch.float64
    assert validate.real_array([np.inf], "v", check_finite=False)[0] == math.inf


def test_one_nonlinearity_table():
    x = torch.linspace(-3, 3, 13)
    assert set(validate.NONLINEARITIES) == {"elu", "relu", "tanh"}
    assert list(validate.WITH_LINEAR) == ["linear", "elu", "relu", "tanh"]
    torch.testing.assert_close(validate.nonlinearity("elu")(x), F.elu(x))
    torch.testing.assert_close(validate.nonlinearity("relu")(x), torch.relu(x))
    torch.testing.assert_close(validate.nonlinearity("tanh")(x), torch.tanh(x))
    assert validate.nonlinearity("linear", allow_linear=True)(x) is x


def test_the_modules_share_the_table():
    from nnrnn import decoding

    assert decoding.NONLINEARITIES is validate.WITH_LINEAR
