"""fpkit: fixed points of deep random and trained networks.

The public API is re-exported here; see the book for a guided tour.
"""

from importlib.metadata import PackageNotFoundError, version

from .backend import (
    BackendUnavailableError,
    array_namespace,
    backend_name,
    get_namespace,
    make_rng,
    to_numpy,
)
from .activations import ACTIVATIONS, SIGMOID_ACTIVATIONS, Activation, get_activation
from .engine import (
    STATUS,
    EngineSettings,
    FixedPoints,
    basin_fractions,
    basin_map,
    find_fixed_points,
    fixed_point_index,
    grid_starts,
    iterate_map,
    newton_search,
    uniform_starts,
)
from .network import Ensemble, NetworkConfig, lipschitz_bound, log_lipschitz_bound
from .regimes import CAUCHY_REGIME, GAUSSIAN_REGIME
from .spectra import FreeJacobianLaw, JacobianSpectrum, jacobian_spectrum
from .sampling import (
    CONVENTIONS,
    LAWS,
    ESDPowerLaw,
    HillEstimate,
    PowerLawFit,
    WeightLaw,
    esd_power_law,
    fit_power_law,
    hill_estimator,
    sample_weights,
    scale_factor,
    weight_law,
)

try:
    __version__ = version("fpkit")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "ACTIVATIONS",
    "SIGMOID_ACTIVATIONS",
    "Activation",
    "EngineSettings",
    "fixed_point_index",
    "get_activation",
    "iterate_map",
    "log_lipschitz_bound",
    "CAUCHY_REGIME",
    "GAUSSIAN_REGIME",
    "STATUS",
    "Ensemble",
    "FixedPoints",
    "FreeJacobianLaw",
    "JacobianSpectrum",
    "NetworkConfig",
    "basin_fractions",
    "basin_map",
    "find_fixed_points",
    "grid_starts",
    "jacobian_spectrum",
    "lipschitz_bound",
    "newton_search",
    "uniform_starts",
    "CONVENTIONS",
    "LAWS",
    "BackendUnavailableError",
    "ESDPowerLaw",
    "HillEstimate",
    "PowerLawFit",
    "WeightLaw",
    "__version__",
    "array_namespace",
    "backend_name",
    "esd_power_law",
    "fit_power_law",
    "get_namespace",
    "hill_estimator",
    "make_rng",
    "sample_weights",
    "scale_factor",
    "source_hash",
    "to_numpy",
    "weight_law",
]


def source_hash() -> str:
    """SHA-256 (first 16 hex digits) of fpkit's own source files.

    Chapters print it in their first cell so that the book's executed-notebook cache
    (which keys on cell sources and outputs) is invalidated when the library changes.
    """
    import hashlib
    from pathlib import Path

    digest = hashlib.sha256()
    root = Path(__file__).parent
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
