"""fpkit: fixed points of deep random and trained networks.

The public API is re-exported here; see the book for a guided tour.
"""

from ._provenance import __version__, source_hash
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

