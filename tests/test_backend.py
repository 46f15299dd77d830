import sys
import types

import array_api_compat
import numpy as np
import pytest

from fpkit import backend


def test_numpy_backend_is_default_without_gpu(monkeypatch):
    monkeypatch.setenv("FPKIT_BACKEND", "numpy")
    assert backend.get_namespace() is np
    assert backend.backend_name() == "numpy"


class _FakeCupy(types.ModuleType):
    """Stands in for CuPy: a module whose CUDA runtime reports ``count`` devices (or raises)."""

    class ndarray:  # what array_api_compat.is_cupy_array looks for
        def __init__(self, data):
            self.data = np.asarray(data)

        def get(self):
            return self.data.copy()

    def __init__(self, count):
        super().__init__("cupy")

        def get_device_count():
            if isinstance(count, Exception):
                raise count
            return count

        self.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=get_device_count))


@pytest.fixture
def fake_cupy(monkeypatch):
    """Install a fake ``cupy`` module; clears the cached probe before and after."""
    def install(count):
        monkeypatch.setitem(sys.modules, "cupy", _FakeCupy(count))
        backend._cupy_or_reason.cache_clear()
    yield install
    backend._cupy_or_reason.cache_clear()


def test_auto_picks_cupy_only_when_a_device_answers(monkeypatch, fake_cupy):
    monkeypatch.setenv("FPKIT_BACKEND", "auto")
    fake_cupy(1)
    assert backend.backend_name() == "cupy"
    assert backend.get_namespace().__name__ == "cupy"
    fake_cupy(0)
    assert backend.backend_name() == "numpy"
    assert backend._cupy_or_reason()[1] == "CuPy is installed but no CUDA device is present"
    fake_cupy(RuntimeError("cudaErrorNoDevice"))
    assert backend.backend_name() == "numpy"
    assert "no CUDA device answers (cudaErrorNoDevice)" in backend._cupy_or_reason()[1]
    with pytest.raises(backend.BackendUnavailableError, match="cudaErrorNoDevice"):
        backend.get_namespace("cupy")


def test_auto_without_cupy_is_numpy(monkeypatch, fake_cupy):
    monkeypatch.setenv("FPKIT_BACKEND", "auto")
    monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy raises ImportError
    backend._cupy_or_reason.cache_clear()
    assert backend.backend_name() == "numpy"
    assert backend.get_namespace() is np
    assert backend._cupy_or_reason()[1].startswith("CuPy is not importable (ModuleNotFoundError")


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


def test_to_numpy_and_namespace(monkeypatch, fake_cupy):
    x = np.arange(3.0)
    assert backend.to_numpy(x) is x  # NumPy arrays are not copied
    assert backend.to_numpy([1, 2]).tolist() == [1, 2]
    # a CuPy array is copied to the host with .get()
    fake_cupy(1)
    device = sys.modules["cupy"].ndarray([1.0, 2.0])
    host = backend.to_numpy(device)
    assert type(host) is np.ndarray and host.tolist() == [1.0, 2.0] and host is not device.data
    # the namespace of NumPy arrays is array_api_compat's NumPy wrapper, and it computes
    xp = backend.array_namespace(x, np.ones(3))
    assert xp is array_api_compat.numpy
    assert float(xp.linalg.vector_norm(xp.asarray([3.0, 4.0]))) == 5.0
    with pytest.raises(TypeError):
        backend.array_namespace(x, [1.0])  # a list is not an array


def test_split_rows_keeps_blas_single_threaded_inside_and_restores_it(monkeypatch):
    """fpkit's threads each call BLAS on their own rows; inside a split BLAS runs in one thread
    (two levels of threads compete), afterwards it has its own count again, also when calls
    overlap from several threads or fn raises."""
    import threading

    from threadpoolctl import threadpool_info, threadpool_limits

    def blas_threads():
        return sorted({lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"})

    if not blas_threads():
        pytest.skip("no BLAS library that threadpoolctl can see")
    monkeypatch.setenv("FPKIT_NUM_THREADS", "2")
    with threadpool_limits(2, "blas"):
        seen = []
        backend.split_rows(lambda a, b: seen.append(blas_threads()), 4, work=1e9)
        assert seen == [[1], [1]] and blas_threads() == [2]
        backend.split_rows(lambda a, b: seen.append(blas_threads()), 4, work=1.0)  # too little work: no split
        assert seen[-1] == [2]
        gate = threading.Barrier(2)

        def overlapping():
            backend.split_rows(lambda a, b: gate.wait(timeout=10) if a == 0 else None, 4, work=1e9)

        callers = [threading.Thread(target=overlapping) for _ in range(2)]
        for t in callers:
            t.start()
        for t in callers:
            t.join()
        assert blas_threads() == [2]
        with pytest.raises(RuntimeError, match="boom"):
            backend.split_rows(lambda a, b: (_ for _ in ()).throw(RuntimeError("boom")), 4, work=1e9)
        assert blas_threads() == [2]
