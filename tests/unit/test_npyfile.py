"""core.npyfile: a probabilities file is read without unpickling, and a bad one is one clear message."""

import pickle

import numpy as np
import pytest

from segstudio.core.errors import SegStudioError
from segstudio.core.npyfile import read_npy


def test_reads_an_array(tmp_path):
    a = np.random.default_rng(0).random((3, 4, 5)).astype(np.float16)
    np.save(tmp_path / "p.npy", a)
    assert np.array_equal(read_npy(tmp_path / "p.npy", "probabilities", SegStudioError), a)


def test_text_file_names_the_file_and_never_suggests_unpickling(tmp_path):
    p = tmp_path / "p.npy"
    p.write_text("not an array\n")
    with pytest.raises(SegStudioError) as exc:
        read_npy(p, "probabilities", SegStudioError)
    msg = str(exc.value)
    assert msg.startswith(f"{p}: not a readable .npy probabilities")
    assert "allow_pickle" not in msg and "pickle.load" not in msg and "never loaded" in msg


def test_object_array_is_refused(tmp_path):
    p = tmp_path / "o.npy"
    np.save(p, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(SegStudioError, match="never loaded"):
        read_npy(p, "probabilities", SegStudioError)


def test_pickle_payload_is_not_executed(tmp_path):
    p = tmp_path / "x.npy"
    p.write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(SegStudioError, match="never loaded"):
        read_npy(p, "probabilities", SegStudioError)


def test_missing_and_truncated(tmp_path):
    with pytest.raises(SegStudioError, match="no such file"):
        read_npy(tmp_path / "none.npy", "probabilities", SegStudioError)
    p = tmp_path / "t.npy"
    np.save(p, np.zeros((2, 50, 50), np.float32))
    p.write_bytes(p.read_bytes()[:200])
    with pytest.raises(SegStudioError, match=f"{p.name}: not a readable .npy"):
        read_npy(p, "probabilities", SegStudioError)


def test_missing_text_replaces_the_default(tmp_path):
    with pytest.raises(SegStudioError) as exc:
        read_npy(tmp_path / "none.npy", "probabilities", SegStudioError, missing="predict with --save-probs first")
    assert str(exc.value) == f"{tmp_path / 'none.npy'}: predict with --save-probs first"
