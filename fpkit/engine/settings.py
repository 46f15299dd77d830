"""Every option of the fixed-point engine in one frozen, validated object.

An :class:`~fpkit.engine.EngineSettings` is checked where it is made, so a bad option fails at once with a
ValueError/TypeError naming it (not later inside a worker), it is hashable, and its
:meth:`~fpkit.engine.EngineSettings.as_dict` is part of every sweep's cache key.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .. import _validate as v

__all__ = ["MAX_TOLERANCE", "EngineSettings", "SEEDINGS", "PRECISIONS", "MAX_GRID_STARTS", "MAX_SYNC_EVERY",
           "resolve_settings"]

#: The ways to place the starts in the box (uniformly at random, or on a regular grid).
SEEDINGS = ("uniform", "grid")
#: The arithmetic of the iteration: float64 throughout, or float32 first and float64 to finish.
PRECISIONS = ("float64", "mixed")
#: The most starts per network any stage may use (iteration, Newton, multiple shooting).
MAX_STARTS_PER_NETWORK = 10**7
#: The largest grid of starts per network that :func:`~fpkit.engine.grid_starts` builds.
MAX_GRID_STARTS = 10**6
#: The longest cadence of host syncs (``sync_every``): the iteration keeps that many states per start.
MAX_SYNC_EVERY = 1024
#: ``tol``, ``merge_tol``, ``polish_tol`` and ``root_tol`` must be below this (see EngineSettings).
MAX_TOLERANCE = 0.01


def _check_tolerance(value: Any, name: str) -> float:
    """A tolerance of the engine: in (0, MAX_TOLERANCE) (see EngineSettings, Tolerances)."""
    return v.check_real(value, name, low=0.0, high=MAX_TOLERANCE, low_open=True, high_open=True)


@dataclass(frozen=True)
class EngineSettings:
    """Options of :func:`fpkit.engine.find_fixed_points` (all validated on construction).

    Starts
        ``n_starts`` (M, starts per network, >= 1); ``seeding``: ``"uniform"`` (random in the
        activation's box) or ``"grid"`` (a regular grid of ``max(2, round(n_starts ** (1/N)))``
        points per axis; refused where that grid has more than ``2 * n_starts`` points, i.e.
        where a grid cannot honour ``n_starts``).
    Iteration (:func:`~fpkit.engine.iterate_map`)
        ``tol``: a start has converged when ``|F(x) - x|_inf < tol``; ``max_iter``: cap on the
        steps; ``max_period``: longest cycle period detected (1 disables cycle detection);
        ``cycle_min_step``: a period-p return counts as a cycle only while the orbit still moves
        by more than this per step; ``cycle_check_every``: cycles are looked for every this many
        steps (convergence is tested at every step).
        ``precision``: ``"float64"`` (every step in float64), or ``"mixed"``: every start is first
        iterated in float32 (a step costs about half as much on a CPU) until its step falls below
        ``float32_tol`` (or ``tol``, if larger), it comes back as close to a state up to
        ``max_period`` steps earlier, or it has taken ``float32_steps`` steps; then it goes on
        in float64 under the rules above, so every status, period and limit is decided in
        float64 (the float32 steps count towards ``max_iter``; every start keeps at least one
        float64 step). The limits agree with
        ``"float64"``'s to about ``tol``; a start's step count can differ by one or two (the
        float64 stage first corrects the float32 rounding), a cycle is seen up to two check
        intervals later, and a start within float32 rounding of a basin boundary, or on a
        chaotic orbit, can end at another attractor. Ensembles whose pre-activations could
        exceed 1e30 (:meth:`~fpkit.network.Ensemble.preactivation_bound`) are iterated in float64
        throughout. It pays where orbits converge geometrically over many steps (light tails:
        about 1.3 times faster at N = 32-64 on a CPU); where the time goes to long orbits or to
        a few superlinear steps (heavy tails) it gains nothing or costs a step.
    Fixed points
        ``merge_tol``: points closer than this (max norm) are one; ``polish_tol``: Newton target
        for ``|F(x) - x|_inf`` when a point is polished, and the residual (or Newton error
        estimate) below which a point counts as a fixed point.
    Newton search (unstable fixed points)
        ``newton``: run the deflated Newton search; ``newton_starts``: its starts per network and
        round (default ``n_starts``); ``newton_rounds``: rounds, each deflating every root known.
        ``root_tol``: the deflated Newton and the multiple-shooting searches have found a root
        where their residual is at most this (``|F(x) - x|_inf``, or the largest layer residual).
    Tolerances
        ``tol``, ``merge_tol``, ``polish_tol`` and ``root_tol`` must lie in (0, 0.01): every fixed
        point lies in the activation's box, of side 1 (logistic) or 2 (tanh, erf, algebraic), and a
        tolerance of a percent of that side no longer tells a fixed point from a point that moves
        by a hundredth of the box per step (with ``tol = 10`` every start would "converge", points
        with ``|F(x) - x|`` about 2 reported as attractors), nor two attractors a hundredth of the
        box apart.
    Census (completeness, see :mod:`fpkit.engine.census`)
        ``max_starts``: adaptive attractor search: add batches of ``n_starts`` fresh starts while
        the estimated unseen basin mass (Good-Turing) exceeds ``unseen_target``, up to this many
        starts per network (``None``: no adaptive starts). ``census``: rounds of the
        multiple-shooting Newton search (:func:`~fpkit.engine.shooting_search`) from
        ``census_starts`` layer states per network (default ``n_starts``): every network gets
        ``census_min_rounds`` rounds, and stays while the indices of its fixed points do not sum
        to 1 or the Chao1 estimate of the roots its random starts have not reached is at least
        ``census_unseen_target``; at most ``census_rounds`` rounds. A shooting start is abandoned
        after ``shooting_patience`` Newton steps without 1 % progress; a step is halved at most
        ``shooting_max_halvings`` times; networks are searched in groups whose work arrays fit
        ``shooting_memory`` bytes.
        ``census_continuation``: then, for the networks still incomplete, follow the homotopy in
        the weight scale (:func:`~fpkit.engine.continuation_search`): the main branch up from
        the weight scale where the network contracts and, from every known fixed point, the arc
        to its partner of opposite index, at most ``continuation_steps`` predictor-corrector
        attempts per arc (the arcs of heavy-tailed networks at weight scales of 1e3 and more can
        need 20000 to 30000; about half that where the partner is known too, since the two arcs
        stop where they meet), in at most ``continuation_rounds`` rounds (later rounds follow
        the arcs of the points found since, for the networks still incomplete). The arcs' steps in
        the unknowns ``(asinh z_l, log t)``: ``continuation_initial_step``, at most
        ``continuation_max_step``, and an arc that needs a step below ``continuation_min_step``
        is given up (``0 < min <= initial <= max``); ``continuation_meet``: two arcs that follow
        one curve towards each other stop where they meet (about half the steps, the same ends);
        networks are followed in groups whose work arrays fit ``continuation_memory`` bytes.
        ``census_pairing``: run the continuation for every network, also those whose index sum
        is 1 already (a sum of 1 does not exclude missing pairs of opposite index), until the
        arcs of all known points close on known points (``per_network().pairs_closed``).
        ``census_warn_fraction``: the census warns (UserWarning: how many networks are
        incomplete, and why) when more than this fraction of the networks is incomplete
        (0: whenever one is).
    Attractors iteration missed (see :mod:`fpkit.engine.census.stable`)
        ``converge_attractors``: after iteration, rounds of damped Newton
        (:func:`~fpkit.engine.newton_search`, without deflation) from fresh uniform starts find the
        stable fixed points whose basins the starts missed (every stable fixed point is an
        attractor): round 0 gives every network ``attractor_starts`` starts, every later round as
        many as all its rounds before (the starts double), but only to the networks whose last round found a new fixed point; the rounds
        stop when the ensemble's mean number of stable fixed points and its fraction of networks with
        two or more move by less than ``convergence_fraction`` of their standard errors in a round,
        or after ``attractor_rounds`` rounds (``FixedPoints.convergence`` records every round,
        ``FixedPoints.converged`` whether the rule was met). Its Newton steps are halved at most
        ``attractor_max_halvings`` times, and a start is abandoned after ``attractor_patience`` steps
        without progress (from uniform starts, 4 halvings find as many fixed points as 8, in three
        quarters of the time).
    Host syncs (GPU)
        ``sync_every`` (1 to ``MAX_SYNC_EVERY``): the loops of the engine decide on the device which
        items (starts, arcs) finish at each step, keep a finished item's outcome and state frozen
        there, and read the device's mask, write finished items out and pack the block once every
        this many steps (the iteration, and :func:`~fpkit.engine.polish`,
        :func:`~fpkit.engine.newton_search`, :func:`~fpkit.engine.shooting_search` and
        :func:`~fpkit.engine.continuation_search` through their ``sync_every`` argument). On a GPU each
        read makes the host wait for the device; on a CPU it costs nothing, while the items that
        finished keep being computed until the next read. Every outcome (status, period, step at
        which an item finished, limit) is decided at the step it happens, so the results do not
        depend on ``sync_every`` beyond the rounding of a block packed at other steps (a BLAS
        kernel chosen by the block's shape: limits within about 1e-15). The iteration keeps the
        last ``max(max_period + 1, sync_every)`` states of every start. Default 1, the CPU's
        best; 8 on a GPU makes about one sync per 8 iteration steps.
    Census recall (see :mod:`fpkit.engine.descent` and :mod:`fpkit.engine.verify`)
        ``census_descent_starts``: in every round of the multiple-shooting stage, also this many
        starts per network of the trust-region descent on the layer equations
        (:func:`~fpkit.engine.descent.layer_descent_search`, from uniform random saturation
        patterns), which reaches the pairs of fixed points close to a fold that Newton and multiple
        shooting rarely reach (0: none). ``census_until_quiet``: a network stays in those rounds
        until this many rounds in a row found no new fixed point (0: no such rule; the rules above
        still apply), at most ``census_rounds`` rounds.
    """

    n_starts: int = 256
    seeding: str = "uniform"
    tol: float = 1e-10
    max_iter: int = 5000
    max_period: int = 8
    cycle_min_step: float = 1e-6
    cycle_check_every: int = 16
    precision: str = "float64"
    float32_tol: float = 1e-5
    float32_steps: int = 64
    merge_tol: float = 1e-6
    polish_tol: float = 1e-12
    newton: bool = False
    newton_starts: int | None = None
    newton_rounds: int = 2
    max_starts: int | None = None
    unseen_target: float = 0.01
    census: bool = False
    census_starts: int | None = None
    census_rounds: int = 8
    census_min_rounds: int = 1
    census_unseen_target: float = 0.5
    census_continuation: bool = True
    continuation_steps: int = 50000
    continuation_rounds: int = 2
    census_pairing: bool = False
    census_warn_fraction: float = 0.01
    root_tol: float = 1e-12
    shooting_patience: int = 10
    shooting_max_halvings: int = 6
    shooting_memory: int = 256 * 2**20
    continuation_initial_step: float = 0.02
    continuation_max_step: float = 0.5
    continuation_min_step: float = 1e-13
    continuation_meet: bool = True
    continuation_memory: int = 256 * 2**20
    converge_attractors: bool = False
    attractor_starts: int = 32
    attractor_rounds: int = 6
    convergence_fraction: float = 0.25
    attractor_max_halvings: int = 4
    attractor_patience: int = 8
    sync_every: int = 1
    # census recall (fpkit.engine.descent, fpkit.engine.verify)
    census_descent_starts: int = 0
    census_until_quiet: int = 0

    def __post_init__(self) -> None:
        s = object.__setattr__
        cap = MAX_STARTS_PER_NETWORK
        s(self, "n_starts", v.check_int(self.n_starts, "n_starts", minimum=1, maximum=cap))
        v.check_choice(self.seeding, "seeding", SEEDINGS)
        s(self, "tol", _check_tolerance(self.tol, "tol"))
        s(self, "max_iter", v.check_int(self.max_iter, "max_iter", minimum=1))
        s(self, "max_period", v.check_int(self.max_period, "max_period", minimum=1))
        s(self, "cycle_min_step", v.check_real(self.cycle_min_step, "cycle_min_step", low=0.0))
        s(self, "cycle_check_every", v.check_int(self.cycle_check_every, "cycle_check_every", minimum=1))
        v.check_choice(self.precision, "precision", PRECISIONS)
        s(self, "float32_tol", v.check_real(self.float32_tol, "float32_tol", low=1e-6, high=1.0, high_open=True))
        s(self, "float32_steps", v.check_int(self.float32_steps, "float32_steps", minimum=1))
        s(self, "merge_tol", _check_tolerance(self.merge_tol, "merge_tol"))
        s(self, "polish_tol", _check_tolerance(self.polish_tol, "polish_tol"))
        s(self, "newton", v.check_bool(self.newton, "newton"))
        if self.newton_starts is not None:
            s(self, "newton_starts", v.check_int(self.newton_starts, "newton_starts", minimum=1, maximum=cap))
        s(self, "newton_rounds", v.check_int(self.newton_rounds, "newton_rounds", minimum=1))
        if self.max_starts is not None:
            s(self, "max_starts", v.check_int(self.max_starts, "max_starts", minimum=1, maximum=cap))
            if self.max_starts < self.n_starts:
                raise ValueError(f"max_starts must be >= n_starts = {self.n_starts}; got {self.max_starts}")
        s(self, "unseen_target", v.check_real(self.unseen_target, "unseen_target", low=0.0, high=1.0,
                                               low_open=True, high_open=True))
        s(self, "census", v.check_bool(self.census, "census"))
        if self.census_starts is not None:
            s(self, "census_starts", v.check_int(self.census_starts, "census_starts", minimum=1, maximum=cap))
        s(self, "census_rounds", v.check_int(self.census_rounds, "census_rounds", minimum=1))
        s(self, "census_min_rounds", v.check_int(self.census_min_rounds, "census_min_rounds", minimum=0))
        if self.census_min_rounds > self.census_rounds:
            raise ValueError(f"census_min_rounds must be <= census_rounds = {self.census_rounds}; "
                             f"got {self.census_min_rounds}")
        s(self, "census_unseen_target", v.check_real(self.census_unseen_target, "census_unseen_target",
                                                      low=0.0, low_open=True))
        s(self, "census_continuation", v.check_bool(self.census_continuation, "census_continuation"))
        s(self, "continuation_steps", v.check_int(self.continuation_steps, "continuation_steps", minimum=1))
        s(self, "continuation_rounds", v.check_int(self.continuation_rounds, "continuation_rounds", minimum=1))
        s(self, "census_pairing", v.check_bool(self.census_pairing, "census_pairing"))
        s(self, "census_warn_fraction", v.check_real(self.census_warn_fraction, "census_warn_fraction",
                                                      low=0.0, high=1.0, high_open=True))
        s(self, "root_tol", _check_tolerance(self.root_tol, "root_tol"))
        s(self, "shooting_patience", v.check_int(self.shooting_patience, "shooting_patience", minimum=1))
        s(self, "shooting_max_halvings", v.check_int(self.shooting_max_halvings, "shooting_max_halvings",
                                                     minimum=0))
        s(self, "shooting_memory", v.check_int(self.shooting_memory, "shooting_memory", minimum=1))
        for name in ("continuation_min_step", "continuation_initial_step", "continuation_max_step"):
            s(self, name, v.check_real(getattr(self, name), name, low=0.0, low_open=True))
        if not self.continuation_min_step <= self.continuation_initial_step <= self.continuation_max_step:
            raise ValueError("the continuation steps must satisfy continuation_min_step <= continuation_initial_step "
                             f"<= continuation_max_step; got {self.continuation_min_step}, "
                             f"{self.continuation_initial_step}, {self.continuation_max_step}")
        s(self, "continuation_meet", v.check_bool(self.continuation_meet, "continuation_meet"))
        s(self, "continuation_memory", v.check_int(self.continuation_memory, "continuation_memory", minimum=1))
        s(self, "converge_attractors", v.check_bool(self.converge_attractors, "converge_attractors"))
        s(self, "attractor_starts", v.check_int(self.attractor_starts, "attractor_starts", minimum=1,
                                                maximum=MAX_STARTS_PER_NETWORK))
        s(self, "attractor_rounds", v.check_int(self.attractor_rounds, "attractor_rounds", minimum=1, maximum=20))
        s(self, "attractor_max_halvings", v.check_int(self.attractor_max_halvings, "attractor_max_halvings",
                                                      minimum=0, maximum=60))
        s(self, "attractor_patience", v.check_int(self.attractor_patience, "attractor_patience", minimum=1))
        s(self, "convergence_fraction", v.check_real(self.convergence_fraction, "convergence_fraction",
                                                      low=0.0, high=1.0, low_open=True))
        s(self, "sync_every", v.check_int(self.sync_every, "sync_every", minimum=1, maximum=MAX_SYNC_EVERY))
        s(self, "census_descent_starts", v.check_int(self.census_descent_starts, "census_descent_starts", minimum=0,
                                                     maximum=MAX_STARTS_PER_NETWORK))
        s(self, "census_until_quiet", v.check_int(self.census_until_quiet, "census_until_quiet", minimum=0))
        if self.merge_tol <= self.polish_tol:
            raise ValueError(f"merge_tol must be > polish_tol = {self.polish_tol}; got {self.merge_tol}")
        if self.merge_tol <= self.root_tol:
            raise ValueError(f"merge_tol must be > root_tol = {self.root_tol}; got {self.merge_tol}")

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_mapping(cls, options: Mapping[str, Any] | None, *, source: str = "options") -> EngineSettings:
        """Settings from a mapping (e.g. a YAML file); unknown keys are an error naming them."""
        if options is None:
            return cls()
        if isinstance(options, EngineSettings):
            return options
        if not isinstance(options, Mapping):
            raise TypeError(f"{source} must be a mapping of option -> value; got {type(options).__name__}")
        unknown = sorted(set(options) - set(cls.field_names()))
        if unknown:
            raise ValueError(f"{source}: unknown option(s) {unknown}; allowed: {sorted(cls.field_names())}")
        return cls(**dict(options))

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """The names of the options."""
        return tuple(f.name for f in dataclasses.fields(cls))

    def replace(self, **changes: Any) -> EngineSettings:
        """A copy with some options changed (validated again); unknown names are an error."""
        unknown = sorted(set(changes) - set(self.field_names()))
        if unknown:
            raise TypeError(f"unknown engine option(s) {unknown}; allowed: {sorted(self.field_names())}")
        return dataclasses.replace(self, **changes) if changes else self

    def as_dict(self) -> dict[str, Any]:
        """Every option by name (the sweep's cache key uses it)."""
        return dataclasses.asdict(self)

    # ------------------------------------------------------------------ derived
    def grid_per_axis(self, N: int) -> int:
        """Points per axis of the ``"grid"`` seeding at width N.

        Refuses (ValueError) a grid with more than ``2 * n_starts`` points: at width N a grid has
        at least 2**N points, so it cannot honour a smaller ``n_starts``.
        """
        import math

        N = v.check_int(N, "N", minimum=1)
        per_axis = max(2, round(self.n_starts ** (1.0 / N))) if N < 2**53 else 2
        if N >= 2**53 or N * math.log2(per_axis) > math.log2(2 * max(self.n_starts, MAX_GRID_STARTS)):  # not per_axis**N: huge
            raise ValueError(f"seeding='grid' at N = {N} gives {per_axis}**{N} starts per network, more than "
                             f"2 * n_starts = {2 * self.n_starts} and than {MAX_GRID_STARTS}; use seeding='uniform'")
        size = per_axis**N
        if size > 2 * self.n_starts or size > MAX_GRID_STARTS:
            smallest = max(2 ** N, per_axis ** N)
            raise ValueError(
                f"seeding='grid' at N = {N} gives {per_axis}**{N} = {size} starts per network, more than "
                f"2 * n_starts = {2 * self.n_starts}; use seeding='uniform', or n_starts >= {smallest // 2} "
                f"(grids need at least 2**N points; at most {MAX_GRID_STARTS})"
            )
        return per_axis

    def starts_per_network(self, N: int) -> int:
        """The number of starts per network the seeding actually gives at width N."""
        return self.grid_per_axis(N) ** N if self.seeding == "grid" else self.n_starts


def resolve_settings(settings: Any, options: Mapping[str, Any]) -> EngineSettings:
    """``settings`` (an EngineSettings or None for the defaults) with single ``options`` overridden.

    A TypeError names ``settings`` when it is not an EngineSettings (a dict, say: use
    :meth:`~fpkit.engine.EngineSettings.from_mapping`), and any unknown option.
    """
    if settings is not None and not isinstance(settings, EngineSettings):
        raise TypeError(f"settings must be an EngineSettings or None; got {type(settings).__name__} "
                        "(EngineSettings.from_mapping reads a dict)")
    return (settings or EngineSettings()).replace(**options)
