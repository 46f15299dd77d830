"""Summaries and tests on sweep tables: bootstrap curves, a hump test with a verified size, Holm.

The package gathers its modules' public names, so ``from fpkit.stats import X`` works for all of them:

* :mod:`fpkit.stats.tables` - curves over a grouping column: :func:`bootstrap_curve` (the mean of a
  column per group with a percentile-bootstrap interval; networks resampled within each group with
  :func:`scipy.stats.bootstrap`; seeded) and :func:`proportion_curve` (fractions with Wilson
  intervals).
* :mod:`fpkit.stats.hump` - :func:`hump_test`: does a per-depth mean rise above *both* end depths? An
  intersection-union test per interior depth, combined over the interior depths with Holm's
  correction. Its false-positive rate under flat, monotone and plateau-then-fall null curves is
  checked by simulation in the test suite and in the book's appendix "A hump test with a verified
  error rate"; :func:`hump_test_batch` is the same test vectorised over many simulated data sets;
  :func:`hump_z_test` the version for estimates that come with standard errors.
* :mod:`fpkit.stats.families` - :func:`holm_adjust` (Holm's step-down adjusted p-values, for a family
  of tests: the settings of a chapter) and :func:`paired_sign_test` (an exact sign test for paired
  counts: a trained network and its control).
* :mod:`fpkit.stats.proportions` - :func:`wilson_interval` (the Wilson score interval of a proportion)
  and :func:`proportion_test` (Fisher's exact test of two proportions).
* :mod:`fpkit.stats.simulation` - :func:`simulate_depth_data` (simulated per-network data with a given
  mean per depth: Poisson counts, a skewed mixture shaped like the attractor counts, 0/1 data, for
  the calibration) and :func:`bootstrap_max_hump_batch`, the former hump "test" (a
  percentile-bootstrap interval of the largest interior mean minus the larger end mean). It is kept
  only as the reference whose inflated false-positive rate the appendix and the test suite show; do
  not base a verdict on it.
"""

from .families import holm_adjust, paired_sign_test
from .hump import MAX_ABS_VALUE, MIN_ALPHA, hump_test, hump_test_batch, hump_z_test
from .proportions import MAX_TRIALS, proportion_test, wilson_interval
from .simulation import SIMULATION_FAMILIES, bootstrap_max_hump_batch, simulate_depth_data
from .tables import bootstrap_curve, proportion_curve

__all__ = ["MAX_ABS_VALUE", "MAX_TRIALS", "MIN_ALPHA", "SIMULATION_FAMILIES", "bootstrap_curve",
           "bootstrap_max_hump_batch", "holm_adjust", "hump_test", "hump_test_batch", "hump_z_test",
           "paired_sign_test", "proportion_curve", "proportion_test", "simulate_depth_data", "wilson_interval"]
