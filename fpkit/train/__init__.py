"""Training same-dimension networks on the digits (PyTorch, CPU), exported to fpkit.

The networks are the ones of chapters 2-4, ``F = Phi_L o ... o Phi_1`` with
``Phi_l(x) = phi(W_l x + b_l)`` and ``W_l`` of size N x N, trained as (denoising)
autoencoders on scikit-learn's bundled 8 x 8 digits (no download): the loss is
``|F(x + noise) - x|^2``. N = 64 uses the pixels; a smaller width uses the digits' first N
principal components (:func:`digits`). Weights start Gaussian (``N(0, s^2 / N)``) and are
recorded at checkpoints; :func:`checkpoint_ensemble` turns the checkpoints into one
:class:`~fpkit.network.Ensemble` (one network per checkpoint), so the fixed-point engine
analyses the whole training run in one call, and :func:`layer_statistics` gives each layer's
tail indices (Hill, Clauset-Shalizi-Newman, the weight-matrix spectrum) per checkpoint.

Optimisers
    ``"sgd"`` (plain stochastic gradient descent), ``"momentum"`` (heavy ball, momentum 0.9,
    PyTorch's convention) and ``"adam"`` (betas 0.9, 0.999, eps 1e-8, PyTorch's convention).

Sweeps
    :func:`train_many` trains a list of configurations. Configurations that differ only in
    the step size and the seed train together, as one batched computation (the layers of R runs
    stacked into (R, N, N) arrays and multiplied with ``torch.bmm``), which removes most of
    PyTorch's per-step overhead at the small batch sizes where SGD's heavy tails appear. Every
    run keeps its own random streams, and a run's numbers do not depend on which runs it was
    trained with (the tests check this bit for bit), so a run's result is the same alone, in a
    group, or in a resumed sweep. ``workers`` > 1 trains groups in parallel processes, each on one
    torch thread (started from a ``forkserver``: a script that uses them needs the usual
    ``if __name__ == "__main__":`` guard).

Divergence
    A run whose loss or parameters become non-finite is stopped there (its status is
    ``"diverged"`` and ``diverged_step`` the first bad step; its later checkpoints are NaN); a
    run whose training loss ends above its initial value has status ``"no_progress"`` (for
    bounded activations large step sizes saturate the units instead of overflowing); the others
    are ``"trained"``.

Disk cache and resume
    With ``cache_dir``, every finished run is written to its own file ``train-<key>.npz``
    (:class:`RunCache`, on :class:`fpkit.cache.ArrayCache`), atomically, as NumPy arrays plus
    JSON fields, never a pickle, with the permissions the umask gives. The key covers the
    configuration, the fpkit version and the code hash of every fpkit module a run can execute
    (:func:`training_hash`). A file that is truncated, bit-flipped, unreadable, written for
    another key or by other library versions, or whose shapes and fields do not fit its
    configuration is reported with a warning and retrained; it is never read as data. Before
    any training the directory is checked for writing (with real bytes: a full disk fails) and
    for room for the runs, and the temporary files of killed writes are removed; a file that
    cannot be written later is reported and the run kept. A run is trained under its lock
    (``train-<key>.lock``), so two processes on one cache never train the same run. An
    interrupted sweep loses only the groups in flight.

Modules
    :mod:`~fpkit.train.data` (the digits), :mod:`~fpkit.train.config` (:class:`TrainConfig`,
    :class:`TrainResult`), :mod:`~fpkit.train.fit` (the batched optimisation in PyTorch),
    :mod:`~fpkit.train.runs` (:func:`train`, :func:`train_many`), :mod:`~fpkit.train.cache`
    (:class:`RunCache`), :mod:`~fpkit.train.analysis` (export and statistics),
    :mod:`~fpkit.train.bottleneck`.

A run is deterministic given its seed on the CPU: one torch generator for the
initialisation, one for the mini-batches and the noise (drawn in blocks of
:data:`DRAW_BLOCK` steps).
"""

from .analysis import checkpoint_ensemble, layer_statistics, run_table
from .bottleneck import Bottleneck, train_bottleneck
from .cache import RunCache, training_hash
from .config import DRAW_BLOCK, EVAL_TRAIN, OPTIMIZERS, STATUSES, TrainConfig, TrainResult
from .data import digit_pixel_range, digits
from .runs import train, train_many

__all__ = ["Bottleneck", "DRAW_BLOCK", "EVAL_TRAIN", "OPTIMIZERS", "RunCache", "STATUSES", "TrainConfig", "TrainResult",
           "checkpoint_ensemble", "digit_pixel_range", "digits", "layer_statistics", "run_table", "train",
           "train_bottleneck", "train_many", "training_hash"]
