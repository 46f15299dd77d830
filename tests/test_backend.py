import numpy as np
import pytest

from fpkit import backend


def test_numpy_backend_is_default_without_gpu(monkeypatch):
    monkeypatch.setenv("FPKIT_BACKEND", "numpy")
    assert backend.get_namespace() is np
    assert backend.backend_name() == "numpy"


def test_auto_resolves_to_an_available_backend(monkeypatch):
    monkeypatch.setenv("FPKIT_BACKEND", "auto")
    cupy, _ = backend._cupy_or_reason()
    assert backend.backend_name() == ("cupy" if cupy is not None else "numpy")


def test_unknown_backend_names_the_variable(monkeypatch):
    monkeypatch.setenv("FPKIT_BACKEND", "jax")
    with pytest.raises(ValueError, match="FPKIT_BACKEND"):
        backend.get_namespace()
    with pytest.raises(ValueError, match="backend must be one of"):
        backend.get_namespace("torch")
    with pytest.raises(TypeError, match="backend"):
        backend.get_namespace(3)


def test_cupy_request_without_gpu_is_a_clear_error():
    cupy, _ = backend._cupy_or_reason()
    if cupy is not None:
        pytest.skip("a CUDA device is present")
    with pytest.raises(backend.BackendUnavailableError, match="cupy"):
        backend.get_namespace("cupy")


def test_make_rng_seed_contract():
    a = backend.make_rng(7, "numpy").standard_normal(5)
    b = backend.make_rng(7, "numpy").standard_normal(5)
    np.testing.assert_array_equal(a, b)
    gen = np.random.default_rng(1)
    assert backend.make_rng(gen, "numpy") is gen
    for bad in (None, True, 1.5, "3"):
        with pytest.raises(TypeError, match="seed"):
            backend.make_rng(bad, "numpy")
    with pytest.raises(ValueError, match="seed"):
        backend.make_rng(-1, "numpy")


def test_to_numpy_and_namespace():
    x = np.arange(3.0)
    assert backend.to_numpy(x) is x
    assert backend.array_namespace(x) is not None
    assert backend.to_numpy([1, 2]).tolist() == [1, 2]
