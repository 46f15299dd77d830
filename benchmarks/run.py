"""Benchmarks of the fixed-point engine; prints each ratio next to its target.

    make bench                                  # all CPU benchmarks (a few minutes on 2 cores)
    .venv/bin/python benchmarks/run.py --quick  # smaller sizes, same checks
    .venv/bin/python benchmarks/run.py --gpu    # also CuPy vs NumPy and vs PyTorch on CUDA

Both sides of a comparison run in this one process, interleaved, best of --repeats, each timed
call after --warmup seconds of untimed calls of the same side (steady state: on 2-core VMs an idle
second core needs about 0.1 s of load to come up to speed); every comparison first checks that both
sides give the same answer.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import pandas as pd

from fpkit import GAUSSIAN_REGIME
from fpkit.bench import (activation_share, compare, flops_per_step, iteration_agreement, matmul_roofline,
                         python_loop_iterate, steady_iteration, torch_iterate)
from fpkit.backend import to_numpy
from fpkit.engine import EngineSettings, iterate_map, uniform_starts
from fpkit.network import Ensemble

ROWS: list[dict] = []


def report(name, ratio, target, detail):
    ok = "meets" if ratio >= target else "BELOW"
    ROWS.append({"benchmark": name, "ratio": ratio, "target": target, "verdict": ok, "detail": detail})
    print(f"{name:<44s} {ratio:9.2f}x   target >= {target:g}x   {ok:5s}  {detail}", flush=True)


def setup(N, L, E, M, seed=0, backend="numpy"):
    ens = Ensemble.sample(GAUSSIAN_REGIME.replace(N=N, L=L), E, seed=seed, backend=backend)
    return ens, uniform_starts(ens, M, seed=seed + 1)


def bench_loop(args):
    E, M, N, L = 32, 256, 32, 8
    ens, x0 = setup(N, L, E, M)
    n_sub = 64 if args.quick else 256
    subset = np.random.default_rng(2).choice(E * M, n_sub, replace=False)
    t, out = compare({"engine": lambda: iterate_map(ens, x0),
                      "engine, no cycles": lambda: iterate_map(ens, x0, max_period=1),
                      "engine, mixed": lambda: iterate_map(ens, x0, precision="mixed"),
                      "loop": lambda: python_loop_iterate(ens, x0, subset=subset)},
                     repeats=args.repeats, warmup=args.warmup)
    diff = max(iteration_agreement(to_numpy(out[name].limit).reshape(E * M, N)[subset], out["loop"])
               for name in ("engine", "engine, no cycles", "engine, mixed"))
    assert diff < 1e-8, f"engine and loop disagree by {diff:.2e}"
    loop_total = t["loop"] * (E * M) / n_sub
    report("1. engine vs per-start Python loop", loop_total / t["engine"], 50,
           f"E={E} M={M} N={N} L={L}: engine {t['engine']:.3f} s, loop {loop_total:.1f} s "
           f"(timed on {n_sub} starts, scaled to {E * M}); limits agree to {diff:.1e}")
    # the loop's own algorithm: iterate to |F(x) - x| < tol, no cycle detection (max_period = 1)
    report("1b. the same without cycle detection", loop_total / t["engine, no cycles"], 50,
           f"engine with max_period=1 {t['engine, no cycles']:.3f} s: the algorithm the loop runs")
    # float32 until each start's step is below float32_tol, then float64 (every orbit decided in float64)
    report("1c. the same with precision='mixed'", loop_total / t["engine, mixed"], 50,
           f"engine {t['engine, mixed']:.3f} s: float32 first, float64 from step < "
           f"float32_tol = {EngineSettings().float32_tol:g} on")


def bench_roofline(args):
    E, M, L, steps = 16, 256, 8, 10 if args.quick else 20
    for N in ((64, 128) if args.quick else (64, 128, 256)):
        ens, x0 = setup(N, L, E, M)
        t, _ = compare({"engine": lambda: steady_iteration(ens, x0, steps),
                        "matmul": lambda: matmul_roofline(ens, x0, steps)},
                       repeats=args.repeats, warmup=args.warmup)
        gf = flops_per_step(E, M, N, L) * steps / 1e9
        share = activation_share(ens, x0, steps, repeats=args.repeats, warmup=args.warmup)
        report(f"2. engine rate / matmul rate, N={N}", t["matmul"] / t["engine"], 0.5,
               f"E={E} M={M} L={L}: engine {gf / t['engine']:.1f} GFLOP/s, matmul {gf / t['matmul']:.1f} GFLOP/s; "
               f"the activation takes {100 * share:.0f} % of a step")


def bench_torch(args):
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    for N in (32, 64):
        E, M, L = 32, 256, 8
        ens, x0 = setup(N, L, E, M)
        t, out = compare({"numpy": lambda: iterate_map(ens, x0, max_period=1),
                          "numpy+cycles": lambda: iterate_map(ens, x0),
                          "torch": lambda: torch_iterate(ens, x0)},
                         repeats=args.repeats, warmup=args.warmup)
        diff = iteration_agreement(to_numpy(out["numpy"].limit), out["torch"][0])
        same_iters = bool(np.array_equal(to_numpy(out["numpy"].iterations), out["torch"][1]))
        assert diff < 1e-8, f"numpy and torch disagree by {diff:.2e}"
        report(f"3. numpy engine vs torch CPU, N={N}", t["torch"] / t["numpy"], 1.0,
               f"E={E} M={M} L={L}: numpy {t['numpy']:.3f} s (with cycle detection {t['numpy+cycles']:.3f} s), "
               f"torch {t['torch']:.3f} s ({torch.get_num_threads()} threads); limits agree to {diff:.1e}, "
               f"same iteration counts: {same_iters}")


def bench_gpu(args):
    from fpkit.backend import BackendUnavailableError, get_namespace

    try:
        get_namespace("cupy")
    except BackendUnavailableError as exc:
        print(f"4. GPU benchmarks skipped: {exc}")
        return
    import cupy
    import torch

    N, L, E, M, steps = 256, 8, 128, 1024, 5
    ens_np, x_np = setup(N, L, E, M)
    ens_cp = Ensemble(cupy.asarray(ens_np.weights), cupy.asarray(ens_np.biases), ens_np.activation)
    x_cp = cupy.asarray(x_np)

    def run_cp():
        out = steady_iteration(ens_cp, x_cp, steps)
        cupy.cuda.get_current_stream().synchronize()
        return out

    t, out = compare({"numpy": lambda: steady_iteration(ens_np, x_np, steps), "cupy": run_cp},
                     repeats=args.repeats, warmup=args.warmup)
    diff = iteration_agreement(out["numpy"], cupy.asnumpy(out["cupy"]))
    assert diff < 1e-8, f"numpy and cupy disagree by {diff:.2e}"
    report(f"4a. cupy engine vs numpy engine, N={N}", t["numpy"] / t["cupy"], 20,
           f"E*M={E * M} L={L}, {steps} steady steps: numpy {t['numpy']:.2f} s, cupy {t['cupy']:.4f} s; agree to {diff:.1e}")
    E2, M2 = 64, 2048  # full iteration to convergence on the GPU, both sides
    ens_np, x_np = setup(N, L, E2, M2)
    ens_cp = Ensemble(cupy.asarray(ens_np.weights), cupy.asarray(ens_np.biases), ens_np.activation)
    x_cp = cupy.asarray(x_np)

    def run_cp_full():
        out = iterate_map(ens_cp, x_cp, max_period=1)
        cupy.cuda.get_current_stream().synchronize()
        return out

    def run_torch():
        out = torch_iterate(ens_np, x_np, device="cuda")
        torch.cuda.synchronize()
        return out

    t, out = compare({"cupy": run_cp_full, "torch": run_torch}, repeats=args.repeats, warmup=args.warmup)
    diff = iteration_agreement(cupy.asnumpy(out["cupy"].limit), out["torch"][0])
    assert diff < 1e-8, f"cupy and torch disagree by {diff:.2e}"
    report(f"4b. cupy engine vs torch CUDA, N={N}", t["torch"] / t["cupy"], 0.8,
           f"E*M={E2 * M2} L={L}, to convergence: cupy {t['cupy']:.3f} s, torch {t['torch']:.3f} s; agree to {diff:.1e}")


def bench_bordered(args):
    """The continuation's bordered block-cyclic solve: layer-wise QR against a dense LU."""
    from fpkit.engine.continuation.spectrum import cyclic_matrix
    from fpkit.engine.continuation.system import bordered_solve

    P, N = 16, 10
    for L in ((16,) if args.quick else (8, 32)):
        rng = np.random.default_rng(L)
        A = 2.0 * rng.standard_normal((P, L, N, N)) / np.sqrt(N)
        g, c = rng.standard_normal((P, L, N)), rng.standard_normal((P, L, N))
        ct, r, rb = rng.standard_normal(P), rng.standard_normal((P, L, N, 2)), rng.standard_normal((P, 2))

        def dense():
            D = L * N + 1
            M = np.empty((P, D, D))
            M[:, :-1, :-1] = cyclic_matrix(A, np) - np.eye(L * N)
            M[:, :-1, -1] = g.reshape(P, -1)
            M[:, -1, :-1] = c.reshape(P, -1)
            M[:, -1, -1] = ct
            return np.linalg.solve(M, np.concatenate([r.reshape(P, L * N, 2), rb[:, None]], axis=1))

        t, out = compare({"qr": lambda: bordered_solve(A, g, c, ct, r, rb, np), "dense": dense},
                         repeats=args.repeats, warmup=args.warmup)
        du, dt = out["qr"]
        scale = np.abs(out["dense"]).max()
        diff = max(np.abs(du.reshape(P, L * N, 2) - out["dense"][:, :-1]).max(), np.abs(dt - out["dense"][:, -1]).max())
        diff /= scale
        assert diff < 1e-10, f"layer-wise QR and dense LU disagree by {diff:.2e} (relative)"
        # O(L N^3) against O((L N)^3): on par at L = 8, the gap grows with depth
        report(f"5. bordered solve, QR by layer vs dense, L={L}", t["dense"] / t["qr"], 0.5 if L < 16 else 3.0,
               f"P={P} N={N}: qr {t['qr'] * 1e3:.1f} ms, dense {t['dense'] * 1e3:.1f} ms; agree to {diff:.1e} (relative)")


def bench_meet(args):
    """The continuation stage's arcs: two arcs on one curve stop where they meet, against every
    arc followed to its end (the same ends, checked)."""
    from fpkit import CAUCHY_REGIME, find_fixed_points
    from fpkit.engine import continuation_search
    from fpkit.engine.points import pack_by_network

    E, N, L = (12, 6, 8) if args.quick else (24, 10, 8)
    ens = Ensemble.sample(CAUCHY_REGIME.replace(N=N, L=L), E, seed=3)
    res = find_fixed_points(ens, n_starts=64, seed=4, newton=True)
    known, _ = pack_by_network(res.x, res.fp_network, E, N, fill=np.nan)
    t, out = compare({"meet": lambda: continuation_search(ens, known),
                      "full": lambda: continuation_search(ens, known, meet=False)},
                     repeats=args.repeats, warmup=args.warmup)
    assert np.array_equal(out["meet"].status, out["full"].status), "arcs that meet end elsewhere"
    crossed = out["meet"].status == 0
    diff = float(np.abs(out["meet"].x[crossed] - out["full"].x[crossed]).max(initial=0.0))
    assert diff < 1e-9, f"arcs that meet end {diff:.1e} away from the full arcs' ends"
    report("6. continuation, arcs that meet stop", t["full"] / t["meet"], 1.0,
           f"E={E} N={N} L={L}, {int(np.isfinite(known[..., 0]).sum())} known points: meet {t['meet']:.2f} s "
           f"({out['meet'].steps.sum()} steps), every arc to its end {t['full']:.2f} s ({out['full'].steps.sum()} "
           f"steps); same statuses, ends agree to {diff:.1e}")


def bench_converged_census(args):
    """Converged attractor counts (every stable fixed point): the census with sequential stopping and
    doubling Newton starts (converge_attractors) against today's fixed setting (256 iteration starts,
    adaptive to 1,024, and 256 deflated Newton starts in 2 rounds); both must agree on mean Q and
    P(Q >= 2) within their standard errors."""
    from fpkit import CAUCHY_REGIME, find_fixed_points
    from fpkit.engine.census.stable import attractor_statistics

    new = EngineSettings(n_starts=32, max_starts=128, max_iter=300, converge_attractors=True)
    old = EngineSettings(n_starts=256, max_starts=1024, max_iter=300, newton=True, newton_starts=256, newton_rounds=2)
    for N, L, E in ((10, 4, 60 if args.quick else 200), (32, 8, 6 if args.quick else 16)):
        ens = Ensemble.sample(CAUCHY_REGIME.replace(N=N, L=L), E, seed=7)
        t, out = compare({"new": lambda: find_fixed_points(ens, settings=new, seed=8),
                          "old": lambda: find_fixed_points(ens, settings=old, seed=8)},
                         repeats=1, warmup=0.0)
        a, b = (attractor_statistics(out[k].per_network()["Q"]) for k in ("new", "old"))
        gap = max(abs(a["mean_Q"] - b["mean_Q"]) / max(np.hypot(a["se_Q"], b["se_Q"]), 1e-12),
                  abs(a["P_multi"] - b["P_multi"]) / max(np.hypot(a["se_P_multi"], b["se_P_multi"]), 1e-12))
        assert gap <= 1.0, f"the two censuses disagree by {gap:.2f} standard errors"
        report(f"8. converged attractor census, N={N} L={L}", t["old"] / t["new"], 3.0,
               f"{E} Cauchy networks: {E / t['new']:.2f} networks/s (sequential, doubling) against "
               f"{E / t['old']:.2f} (256 starts + 256 Newton x 2); mean Q {a['mean_Q']:.3f} +- {a['se_Q']:.3f} vs "
               f"{b['mean_Q']:.3f} +- {b['se_Q']:.3f}, P(Q >= 2) {a['P_multi']:.3f} vs {b['P_multi']:.3f} "
               f"(gap {gap:.2f} s.e.)")


def bench_syncs(args):
    """Host syncs per step of the engine's loops (what a GPU waits for), counted on the CPU by the
    counting backend (fpkit.syncs) at sync_every 1 and 8. The ratio is the iteration's syncs per step
    at 1 over those at 8; target: at least 4 (at most one sync per 8 steps plus the call's own)."""
    from fpkit import CAUCHY_REGIME
    from fpkit.bench import syncs_per_step

    E, M = (4, 8) if args.quick else (16, 32)
    ens = Ensemble.sample(CAUCHY_REGIME.replace(N=6, L=3), E, seed=1)
    x0 = np.random.default_rng(2).uniform(-1.0, 1.0, (E, M, 6))
    table = syncs_per_step(ens, x0, sync_every=(1, 8)).set_index(["stage", "sync_every"])["syncs_per_step"]
    detail = "; ".join(f"{st} {table[st, 1]:.2f} -> {table[st, 8]:.2f}"
                       for st in ("iteration", "newton", "shooting", "continuation"))
    report("9. host syncs per step, sync_every 1 -> 8", table["iteration", 1] / table["iteration", 8], 4.0,
           f"counting backend, {E} Cauchy networks N=6 L=3 x {M} starts: {detail}")


def bench_blas_threads(args):
    """The census with BLAS allowed one thread and two (the default of a 2-core machine outside
    make): fpkit runs its linear algebra single-threaded inside its own threads, so two BLAS threads
    must not make it slower (they did, up to 10 times on a loaded machine, issue 25)."""
    from threadpoolctl import threadpool_limits

    from fpkit import CAUCHY_REGIME, find_fixed_points

    E, N, L = (16, 32, 3) if args.quick else (32, 64, 3)
    ens = Ensemble.sample(CAUCHY_REGIME.replace(N=N, L=L), E, seed=5)
    settings = EngineSettings(n_starts=32, census=True, census_starts=16, census_rounds=2)

    def census(threads):
        def run():
            with threadpool_limits(limits=threads, user_api="blas"):
                return find_fixed_points(ens, settings=settings, seed=6)
        return run

    t, out = compare({"blas1": census(1), "blas2": census(2)}, repeats=args.repeats, warmup=args.warmup)
    same = np.array_equal(out["blas1"].x, out["blas2"].x) and np.array_equal(out["blas1"].status, out["blas2"].status)
    assert same, "the census depends on the number of BLAS threads"
    report("7. census, 1 BLAS thread vs 2", t["blas1"] / t["blas2"], 0.9,
           f"E={E} N={N} L={L} Cauchy, census: 1 thread {t['blas1']:.2f} s, 2 threads {t['blas2']:.2f} s "
           f"(ratio = time with 1 / time with 2; fpkit keeps BLAS at one thread inside its own threads); "
           f"same points bitwise")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--gpu", action="store_true", help="also run the GPU benchmarks (needs CuPy and CUDA)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats per comparison (best kept)")
    parser.add_argument("--warmup", type=float, default=0.2,
                        help="seconds of untimed calls before each timed call (steady state; see fpkit.bench.compare)")
    parser.add_argument("--out", default=None, help="write the table of ratios to this CSV file")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    if not 0 <= args.warmup <= 60:
        parser.error("--warmup must be in [0, 60] seconds")
    import fpkit

    start = time.perf_counter()
    print(f"fpkit {fpkit.__version__} (source {fpkit.source_hash()}), {os.cpu_count()} CPUs", flush=True)
    bench_loop(args)
    bench_roofline(args)
    bench_torch(args)
    bench_bordered(args)
    bench_meet(args)
    bench_blas_threads(args)
    bench_converged_census(args)
    bench_syncs(args)
    if args.gpu:
        bench_gpu(args)
    table = pd.DataFrame(ROWS)
    if args.out:
        table.to_csv(args.out, index=False)
    print(f"done in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
