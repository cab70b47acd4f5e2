"""`make bench`: vibench's Google Benchmark workloads and the PyTorch baseline in the same run, joined into one
table of ratios (PyTorch time / vibench time per gradient estimate, both on the same number of threads),
plus each estimate's floor (its normals alone + its flops at the measured peak), the 1- vs 2-thread speed-up
of a grid run (with a bitwise comparison of the two results files), sweeps of up to 100,002 tiny cells (time,
peak memory, resume, inspect, index_frame), and the goals of the performance issue, each met or missed.
Writes bench/results.json, bench/RESULTS.md and bench/ratios.png. Ratios, not absolute times, are the claims.
"""
import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from vibench_results import index_frame  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def cpp_results(binary, min_time):
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run([binary, f"--benchmark_min_time={min_time}", "--benchmark_format=console",
                        f"--benchmark_out={out.name}", "--benchmark_out_format=json"], check=True,
                       stdout=subprocess.DEVNULL)
        data = json.load(open(out.name))
    times, items = {}, {}
    for b in data["benchmarks"]:
        scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[b["time_unit"]]
        times[b["name"]] = b["real_time"] * scale
        if "items_per_second" in b:
            items[b["name"]] = b["items_per_second"]
    return times, data["context"], items


def metrics_digest(path):
    """SHA-256 over every float dataset of every cell, in sorted order (bitwise comparison of two runs)."""
    h = hashlib.sha256()
    with h5py.File(path, "r") as f:
        for cid in sorted(f["cells"]):
            for name in sorted(f["cells"][cid]):
                ds = f["cells"][cid][name]
                if ds.dtype.kind == "f":
                    h.update(np.ascontiguousarray(ds[()]).tobytes())
    return h.hexdigest()


def parallel_speedup(vibench, yaml):
    out = {}
    for threads in (1, 2):
        with tempfile.TemporaryDirectory() as d:
            start = time.perf_counter()
            subprocess.run([vibench, "run", yaml, "--out", d, "--threads", str(threads), "--fresh"], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            seconds = time.perf_counter() - start
            name = os.path.splitext(os.path.basename(yaml))[0]
            out[threads] = (seconds, metrics_digest(os.path.join(d, name + ".h5")))
    return out


SWEEP_YAML = """name: sweep
study: gradient_stats
seed: 1
replicates: 100
fixed:
  target: {{name: quadratic, dim: 1}}
  family: {{name: gaussian_diag, parameterization: mean_sigma}}
  point: {{mean: [1.0], sigma: [1.0]}}
  objective: expectation
  samples: 1
grid:
  estimator: [score_function, reparam]
  target.k: range(0, {last_k}, 1)
"""

# The issue-12 measurements of the code before the sweep work (commit 4b75826, this machine, 2 threads).
SWEEP_BEFORE = {5002: {"seconds": 31, "ms_per_cell": 6.2, "peak_rss_mb": 3500},
                10002: {"seconds": 68, "ms_per_cell": 6.8, "peak_rss_mb": 7000},
                20002: {"seconds": 158, "ms_per_cell": 7.9, "peak_rss_mb": 13700}}
SWEEP_BEFORE_INDEX_FRAME_5002 = 7.7


def timed(cmd):
    """Run cmd; (wall seconds, peak RSS of the child in MB)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}")
    return seconds, usage.ru_maxrss / 1024


def sweep_scale(vibench, cells, threads):
    """A grid of `cells` tiny gradient_stats cells (quadratic, 100 replicates): the run's wall time and peak RSS,
    the per-cell overhead beyond the cells' own compute (wall time minus the cells' summed wall_seconds, per
    thread), the time to resume the finished grid, `vibench inspect` and index_frame."""
    with tempfile.TemporaryDirectory() as d:
        yaml = os.path.join(d, "sweep.yaml")
        open(yaml, "w").write(SWEEP_YAML.format(last_k=(cells - 2) // 2))
        run = [vibench, "run", yaml, "--out", d, "--threads", str(threads)]
        seconds, rss = timed(run)
        path = os.path.join(d, "sweep.h5")
        with h5py.File(path, "r") as f:
            n = len(f["index"])
            compute = float(np.sum(f["index"]["wall_seconds"]))
        resume, resume_rss = timed(run)
        inspect, inspect_rss = timed([vibench, "inspect", path])
        start = time.perf_counter()
        frame = index_frame(path)
        frame_seconds = time.perf_counter() - start
        assert len(frame) == n
        size = os.path.getsize(path)
    return {"cells": n, "threads": threads, "seconds": seconds, "peak_rss_mb": rss, "compute_seconds": compute,
            "overhead_ms_per_cell": (seconds - compute / threads) / n * 1e3, "resume_seconds": resume,
            "resume_rss_mb": resume_rss, "inspect_seconds": inspect, "index_frame_seconds": frame_seconds,
            "file_kb_per_cell": size / n / 1024}


def sweep_lines(sweeps):
    lines = ["", "Sweeps of tiny cells (`gradient_stats`, quadratic D = 1, 100 replicates a cell, grid "
             "estimator x target.k; bench/run_bench.py `sweep_scale`). Before: commit 4b75826 as measured for issue 12 "
             "(2 threads); after: this build. Overhead = (run wall time - the cells' summed wall_seconds / threads) "
             "per cell. Goals for 100,000 cells: peak RSS <= 1 GB, overhead <= 0.5 ms a cell, resume <= 5 s, "
             "inspect and index_frame <= 3 s each.", "",
             "| cells | threads | run s | peak RSS MB | before: run s / peak RSS MB | overhead ms/cell | resume s | "
             "inspect s | index_frame s | file KB/cell |", "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for s in sweeps:
        before = SWEEP_BEFORE.get(s["cells"])
        was = f"{before['seconds']} / {before['peak_rss_mb']}" if before else "-"
        lines.append(f"| {s['cells']} | {s['threads']} | {s['seconds']:.1f} | {s['peak_rss_mb']:.0f} | {was} | "
                     f"{s['overhead_ms_per_cell']:.3f} | {s['resume_seconds']:.2f} | {s['inspect_seconds']:.2f} | "
                     f"{s['index_frame_seconds']:.2f} | {s['file_kb_per_cell']:.2f} |")
    lines += ["", f"Before, index_frame of 5,002 cells took {SWEEP_BEFORE_INDEX_FRAME_5002} s and files took 7.7 KB a "
              "cell; at ~700 KB of RSS a cell, some 35,000 cells exhausted this 24 GB machine."]
    return lines


# Floating-point operations of one gradient estimate of the PyTorch-twinned workloads (linear_gaussian with
# M = D, gaussian_diag, S draws or K importance samples), counted from the code:
# - the dense product, 2·D·M per draw (a multiply and an add per element): ZΛ in ∇z log p (reparam, iwae, dreg)
#   or ZAᵀ in log p (score_function);
# - element-wise work per draw and coordinate: z = μ + σ·ε (2), the quadratic form or residual sums (3), and the
#   estimator's own terms: reparam 3 (pullback into μ and σ), score_function 14 (log q 4, score 4, the two
#   weighted accumulations 4, log p's likelihood sum 2), iwae 10 and dreg 14 (log q and its pathwise gradient,
#   the weighted pullback; dreg's doubly reparameterized weights w̃²);
# - per draw, one exp or log (the weights: counted as 20 operations).
ELEMENTWISE = {"reparam": 8, "score_function": 19, "iwae": 15, "dreg": 19}


def estimate_flops(name):
    parts = name.split("/")
    dims = dict(part.split(":") for part in parts[2:])
    d = int(dims["D"])
    draws = int(dims.get("S", 1)) * int(dims.get("K", 1))
    return draws * (2 * d * d + ELEMENTWISE[parts[1]] * d + 20)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--min-time", type=float, default=0.2)
    ap.add_argument("--grid", default=os.path.join(HERE, "..", "experiments", "estimator_variance.yaml"))
    ap.add_argument("--sweep-cells", type=int, nargs="*", default=[5002, 20002, 100002],
                    help="grid sizes of the sweep benchmark (none: skip it)")
    args = ap.parse_args()
    sweeps = [sweep_scale(os.path.join(args.build, "vibench"), n, 2) for n in args.sweep_cells]
    cpp, context, cpp_items = cpp_results(os.path.join(args.build, "bench", "vibench_bench"), args.min_time)
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run([sys.executable, os.path.join(HERE, "torch_baseline.py"), "--threads", "1", "--out", out.name,
                        "--min-seconds", str(args.min_time)], check=True)
        torch_data = json.load(open(out.name))
    # A per-core comparison only if the baseline stayed on one core (its BLAS may start threads of its own).
    torch_cores = torch_data["max_cores_used"]
    if torch_cores > 1.3:
        sys.exit(f"bench: the PyTorch baseline used {torch_cores:.2f} cores (CPU time / wall time) on one of its "
                 "workloads; its ratios would not be per core")
    torch_t = {r["name"]: r["ns_per_estimate"] for r in torch_data["results"]}

    rows = []
    for name, t_cpp in cpp.items():
        if name in torch_t:
            rows.append({"workload": name, "vibench_ns": t_cpp, "torch_ns": torch_t[name], "ratio": torch_t[name] / t_cpp})
    def normals_time(name):
        """Time of generating the S·K·D normals of the estimate workload `name` (…/D:d/S:s[/K:k] or …/D:d/K:k)."""
        dims = dict(part.split(":") for part in name.split("/")[2:])
        return cpp.get(f"BM_Normals/D:{dims['D']}/S:{int(dims.get('S', 1)) * int(dims.get('K', 1))}")

    peak = cpp_items.get("BM_PeakArith")  # flops per second, separate multiplies and adds on the widest vectors
    floor = []  # each estimate against its floor: its normals at the generator's speed + its flops at peak
    for name, t in cpp.items():
        if name.startswith("BM_Estimate/") or name.startswith("BM_EstimateIwae/"):
            normals = normals_time(name)
            if normals:
                flops = estimate_flops(name)
                floor_ns = normals + (flops / peak * 1e9 if peak else 0.0)
                floor.append({"workload": name, "estimate_over_normals": t / normals, "flops": flops,
                              "floor_ns": floor_ns, "estimate_over_floor": t / floor_ns})
    par = parallel_speedup(os.path.join(args.build, "vibench"), args.grid)
    speedup, identical = par[1][0] / par[2][0], par[1][1] == par[2][1]

    est = [r for r in rows if r["workload"].startswith("BM_Estimate")]
    vib = [r for r in rows if r["workload"].startswith("BM_VibStep")]
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; " \
              f"{context.get('num_cpus')} CPUs at {context.get('mhz_per_cpu')} MHz (Google Benchmark context)"
    lines = ["# Benchmark results (last `make bench`)", "",
             f"Machine: {machine}. One thread for both sides (per-core comparison; PyTorch's CPU time / wall time "
             f"at most {torch_cores:.2f} over its workloads, its BLAS limited to one thread); PyTorch "
             f"{torch_data['torch']}, float64, vectorized over replicates and samples.", "",
             "| workload | vibench ns/estimate | PyTorch ns/estimate | PyTorch / vibench |", "|---|---:|---:|---:|"]
    for r in rows:
        if not r["workload"].startswith("BM_VibStep"):
            lines.append(f"| {r['workload']} | {r['vibench_ns']:.0f} | {r['torch_ns']:.0f} | {r['ratio']:.2f} |")
    ratios = np.array([r["ratio"] for r in est])
    lines += ["", f"Gradient-estimate workloads: PyTorch/vibench ratio median {np.median(ratios):.2f}, "
              f"min {ratios.min():.2f}, max {ratios.max():.2f} (goal: median >= 15, min >= 5).", "",
              "Floor of each estimate: its normals alone (BM_Normals, the generator at its measured speed) plus its "
              "floating-point operations (counted in bench/run_bench.py `estimate_flops`) at the measured peak of "
              "separate multiplies and adds (BM_PeakArith: "
              + (f"{peak / 1e9:.1f} Gflop/s" if peak else "not measured") + "). Goal: estimate / floor <= 2.", "",
              "| workload | flops | floor ns | estimate / floor | estimate / its normals |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {f['workload']} | {f['flops']:.3g} | {f['floor_ns']:.0f} | {f['estimate_over_floor']:.2f} | "
              f"{f['estimate_over_normals']:.2f} |" for f in floor]
    over_floor = np.array([f["estimate_over_floor"] for f in floor])
    lines += ["", f"{np.sum(over_floor <= 2)} of {len(over_floor)} workloads within 2x of their floor "
              f"(range {over_floor.min():.2f}-{over_floor.max():.2f})."]
    others = []  # every other registered estimator (vibench only), with its own floor ratio
    for name, t in cpp.items():
        if name.startswith("BM_EstimatorCost/"):
            normals = normals_time(name)
            others.append((name, t, t / normals if normals else float("nan")))
    lines += ["", "Other estimators (vibench only; on linear_gaussian + gaussian_diag with the ELBO, or IWAE-K, or on "
              "bernoulli_toy + bernoulli, whichever the estimator supports first)", "",
              "| workload | ns/estimate | estimate / its normals |", "|---|---:|---:|"]
    lines += [f"| {name} | {t:.0f} | {f:.2f} |" for name, t, f in others]
    families = [(name, t) for name, t in cpp.items() if name.startswith("BM_Family/")]
    lines += ["", "Families: sample (S = 100) + log q + score at the initial phi, D = 20 (vibench only)", "",
              "| workload | ns per draw |", "|---|---:|"]
    lines += [f"| {name} | {t / 100:.0f} |" for name, t in families]
    targets = [(name, t) for name, t in cpp.items() if name.startswith("BM_Target/")]
    lines += ["", "Targets: log p(x, z) and its gradient in z over S = 100 points z ~ N(0, I/4), D = 20 where the target "
              "takes it (vibench only)", "", "| workload | ns per point |", "|---|---:|"]
    lines += [f"| {name} | {t / 100:.0f} |" for name, t in targets]
    runner = {name.split("/")[1]: t for name, t in cpp.items() if name.startswith("BM_Runner/")}
    if runner:
        lines += ["", "Runner (one thread, `vibench run` in-process on the cheapest cells: quadratic D = 1, reparam, S = 1): "
                  f"{runner.get('per_cell', float('nan')) / 8 / 1e6:.2f} ms per cell (setup, part record, "
                  f"assembly; grid of 8), {runner.get('per_replicate', float('nan')) / 1e5:.0f} ns per replicate "
                  "(one cell of 100000, estimate included)."]
    lines += ["", "VIB training step (forward + backward + Adam, batch 100, float64, 1 thread; goal: PyTorch / vibench >= 1.2)",
              "", "| workload | vibench ms/step | PyTorch ms/step | PyTorch / vibench |", "|---|---:|---:|---:|"]
    lines += [f"| {r['workload']} | {r['vibench_ns'] / 1e6:.2f} | {r['torch_ns'] / 1e6:.2f} | {r['ratio']:.2f} |" for r in vib]
    gemm_rate = {tuple(name.split("/")[1:3]): v for name, v in cpp_items.items() if name.startswith("BM_Gemm/")}
    gemm_ops = list(dict.fromkeys(op for op, _ in gemm_rate))  # in the benchmarks' order
    gemm_bodies = [b for b in ("avx512", "avx2") if any(k[1] == b for k in gemm_rate)]
    if gemm_ops:
        lines += ["", "The networks' products (paper VIB network's shapes, batch 100; Gflop/s, 1 thread): vibench's own gemm "
                  "(fixed FMA chains, the same bits on every CPU) on each body, against OpenBLAS (its own kernels for "
                  "this CPU)", "", "| product | OpenBLAS | " + " | ".join(gemm_bodies) + " | own / OpenBLAS |",
                  "|---|---:|" + "---:|" * len(gemm_bodies) + "---:|"]
        for op in gemm_ops:
            blas = gemm_rate.get((op, "openblas"), float("nan"))
            own = [gemm_rate.get((op, b), float("nan")) for b in gemm_bodies]
            lines.append(f"| {op} | {blas / 1e9:.1f} | " + " | ".join(f"{v / 1e9:.1f}" for v in own)
                         + f" | {own[0] / blas:.2f} |")
    writes = [(name, t) for name, t in cpp.items() if name.startswith("BM_WritePart")]
    lines += ["", "Store: one cell appended to a part file (16 metrics, encoded and checksummed; wall time)", "",
              "| workload | ms per cell | MB/s of metric data |", "|---|---:|---:|"]
    for name, t in writes:
        n = int(name.split(":")[-1].split("/")[0])
        lines.append(f"| {name} | {t / 1e6:.2f} | {16 * n * 8 / (t / 1e9) / 1e6:.1f} |")
    lines += sweep_lines(sweeps)
    lines += ["", f"Parallel: `{os.path.relpath(args.grid, os.path.join(HERE, '..'))}` on 1 vs 2 threads: speed-up "
              f"{speedup:.2f} (goal: >= 1.9); metric datasets bitwise identical: {identical}."]
    bodies = {name.split("/")[1]: 1e9 / v for name, v in cpp_items.items() if name.startswith("BM_NormalsBody/") and name.endswith("/N:4096")}
    philox = {name.split("/")[1]: 1e9 / v for name, v in cpp_items.items() if name.startswith("BM_PhiloxBody/")}
    if bodies:
        lines += ["", "Normals per instruction-set body (4096 at a time; the same numbers on each) and their Philox4x64 "
                  "words alone", "", "| body | ns per normal | ns per Philox word |", "|---|---:|---:|"]
        lines += [f"| {b} | {bodies[b]:.2f} | {philox.get(b, float('nan')):.2f} |" for b in bodies]
    fixed = cpp.get("BM_Estimate/reparam/D:2/S:1")
    vib_ratios = [r["ratio"] for r in vib]
    per_cell_ms = runner.get("per_cell", float("nan")) / 8 / 1e6
    fastest = min(bodies.values()) if bodies else float("nan")

    def verdict(ok):
        return "met" if ok else "missed"
    lines += ["", "Goals of issue 16 (performance, second round), measured in this run:", "",
              "| goal | measured | |", "|---|---|---|",
              f"| 1. normals <= 1 ns each (fastest body) | {fastest:.2f} ns | {verdict(fastest <= 1)} |",
              f"| 2. every gradient workload within 2x of its floor | {np.sum(over_floor <= 2)} of {len(over_floor)} | "
              f"{verdict(bool(np.all(over_floor <= 2)))} |",
              f"| 3. PyTorch/vibench median >= 15, min >= 5 | median {np.median(ratios):.2f}, min {ratios.min():.2f} | "
              f"{verdict(np.median(ratios) >= 15 and ratios.min() >= 5)} |",
              f"| 3. fixed cost per estimate <= 30 ns (reparam D = 2, S = 1) | {fixed:.0f} ns | {verdict(fixed <= 30)} |",
              f"| 5. runner overhead <= 0.5 ms a cell | {per_cell_ms:.2f} ms | {verdict(per_cell_ms <= 0.5)} |",
              f"| 5. 2 threads >= 1.9x one thread, bitwise identical | {speedup:.2f}x, identical: {identical} | "
              f"{verdict(speedup >= 1.9 and identical)} |",
              f"| 6. VIB step >= 1.2x PyTorch (both networks) | {', '.join(f'{v:.2f}' for v in vib_ratios)} | "
              f"{verdict(bool(vib_ratios) and min(vib_ratios) >= 1.2)} |",
              "", "Goal 4 (FMA decided by measurement; networks the same bits on every CPU): the products table above "
              "and README \"Determinism\"; goal 7 (the whole suite's time) is not a `make bench` number: README "
              "\"Performance\"."]
    text = "\n".join(lines) + "\n"
    print(text)
    open(os.path.join(HERE, "RESULTS.md"), "w").write(text)
    json.dump({"context": context, "torch": torch_data["torch"], "rows": rows, "floor": floor,
               "other_estimators": [{"workload": n, "ns": t, "estimate_over_normals": f} for n, t, f in others],
               "parallel_speedup": speedup, "parallel_identical": identical, "sweeps": sweeps},
              open(os.path.join(HERE, "results.json"), "w"), indent=1)

    fig, ax = plt.subplots(figsize=(9, 0.22 * len(est) + 1.5), constrained_layout=True)
    ax.barh([r["workload"].replace("BM_", "") for r in est], ratios, color="tab:blue")
    ax.axvline(1, color="k", lw=0.8)
    ax.axvline(15, color="tab:red", lw=0.8, ls="--", label="goal: median 15x")
    ax.set_xscale("log")
    ax.set_xlabel("PyTorch time / vibench time per gradient estimate (1 thread each)")
    ax.invert_yaxis()
    ax.legend(fontsize=8)
    ax.tick_params(axis="y", labelsize=6.5)
    fig.savefig(os.path.join(HERE, "ratios.png"), dpi=120)
    if not identical:
        print("1- and 2-thread results differ: determinism broken")
        sys.exit(1)


if __name__ == "__main__":
    main()
