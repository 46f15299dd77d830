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
  :func:`hump_z_test` the version for estimates that come with standard errors;
  :func:`hump_test_proportions` the same test of a 0/1 statistic from its counts per depth.
* :mod:`fpkit.stats.power` - what a design can see: :func:`hump_power` (the power against a hump of a
  given size), :func:`detectable_hump` (the smallest hump detected with power 0.8),
  :func:`networks_for_hump` (the networks per depth a hump of a given size needs), for proportions and
  for means, by formula; :func:`hump_power_by_simulation` checks them.
* :mod:`fpkit.stats.verdicts` - :func:`hump_verdict` (the sentence a chapter glues: "a hump of size X
  (interval)" or "no hump larger than X", never a bare "no") and :func:`hump_table` (every curve of a
  table tested, Holm-adjusted as one family, with size, interval, detectable size and verdict).
* :mod:`fpkit.stats.families` - :func:`holm_adjust` (Holm's step-down adjusted p-values, for a family
  of tests: the settings of a chapter), :func:`holm_family` (a family of named tests with p, Holm p and
  reject flag as one table), :func:`paired_sign_test` (an exact sign test for paired counts: a trained
  network and its control) and :func:`paired_sign_tests` (a Holm family of them over a long table).
* :mod:`fpkit.stats.proportions` - :func:`wilson_interval` (the Wilson score interval of a proportion)
  and :func:`proportion_test` (Fisher's exact test of two proportions).
* :mod:`fpkit.stats.simulation` - :func:`simulate_depth_data` (simulated per-network data with a given
  mean per depth: Poisson counts, a skewed mixture shaped like the attractor counts, 0/1 data, for
  the calibration) and :func:`bootstrap_max_hump_batch`, the former hump "test" (a
  percentile-bootstrap interval of the largest interior mean minus the larger end mean). It is kept
  only as the reference whose inflated false-positive rate the appendix and the test suite show; do
  not base a verdict on it.
"""

from .families import PAIRED_ALTERNATIVES, holm_adjust, holm_family, paired_sign_test, paired_sign_tests
from .hump import MAX_ABS_VALUE, MIN_ALPHA, hump_test, hump_test_batch, hump_test_proportions, hump_z_test
from .power import detectable_hump, hump_power, hump_power_by_simulation, networks_for_hump
from .proportions import MAX_TRIALS, proportion_test, wilson_interval
from .simulation import SIMULATION_FAMILIES, bootstrap_max_hump_batch, simulate_depth_data
from .tables import bootstrap_curve, proportion_curve
from .verdicts import hump_table, hump_verdict

__all__ = ["MAX_ABS_VALUE", "MAX_TRIALS", "MIN_ALPHA", "PAIRED_ALTERNATIVES", "SIMULATION_FAMILIES", "bootstrap_curve",
           "bootstrap_max_hump_batch", "detectable_hump", "holm_adjust", "holm_family", "hump_power",
           "hump_power_by_simulation", "hump_table", "hump_test", "hump_test_batch", "hump_test_proportions",
           "hump_verdict", "hump_z_test", "networks_for_hump", "paired_sign_test", "paired_sign_tests",
           "proportion_curve", "proportion_test", "simulate_depth_data", "wilson_interval"]
