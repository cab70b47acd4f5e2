"""`make bench`: vibench's Google Benchmark workloads and the PyTorch baseline in the same run, joined into one
table of ratios (PyTorch time / vibench time per gradient estimate, both on the same number of threads),
plus the RNG floor (estimate cost / cost of its normals alone) and the 1- vs 2-thread speed-up of a grid run
(with a bitwise comparison of the two results files), and sweeps of up to 100,002 tiny cells (time, peak memory,
resume, inspect, index_frame). Writes bench/results.json, bench/RESULTS.md and
bench/ratios.png. Ratios, not absolute times, are the claims.
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
    times = {}
    for b in data["benchmarks"]:
        scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[b["time_unit"]]
        times[b["name"]] = b["real_time"] * scale
    return times, data["context"]


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


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--min-time", type=float, default=0.2)
    ap.add_argument("--grid", default=os.path.join(HERE, "..", "experiments", "estimator_variance.yaml"))
    ap.add_argument("--sweep-cells", type=int, nargs="*", default=[5002, 20002, 100002],
                    help="grid sizes of the sweep benchmark (none: skip it)")
    args = ap.parse_args()
    sweeps = [sweep_scale(os.path.join(args.build, "vibench"), n, 2) for n in args.sweep_cells]
    cpp, context = cpp_results(os.path.join(args.build, "bench", "vibench_bench"), args.min_time)
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run([sys.executable, os.path.join(HERE, "torch_baseline.py"), "--threads", "1", "--out", out.name,
                        "--min-seconds", str(args.min_time)], check=True)
        torch_data = json.load(open(out.name))
    torch_t = {r["name"]: r["ns_per_estimate"] for r in torch_data["results"]}

    rows = []
    for name, t_cpp in cpp.items():
        if name in torch_t:
            rows.append({"workload": name, "vibench_ns": t_cpp, "torch_ns": torch_t[name], "ratio": torch_t[name] / t_cpp})
    def normals_time(name):
        """Time of generating the S·K·D normals of the estimate workload `name` (…/D:d/S:s[/K:k] or …/D:d/K:k)."""
        dims = dict(part.split(":") for part in name.split("/")[2:])
        return cpp.get(f"BM_Normals/D:{dims['D']}/S:{int(dims.get('S', 1)) * int(dims.get('K', 1))}")

    floor = []  # each estimate against generating its normals alone (the goal is stated for reparam)
    for name, t in cpp.items():
        if name.startswith("BM_Estimate/") or name.startswith("BM_EstimateIwae/"):
            normals = normals_time(name)
            if normals:
                floor.append({"workload": name, "estimate_over_normals": t / normals})
    par = parallel_speedup(os.path.join(args.build, "vibench"), args.grid)
    speedup, identical = par[1][0] / par[2][0], par[1][1] == par[2][1]

    est = [r for r in rows if r["workload"].startswith("BM_Estimate")]
    vib = [r for r in rows if r["workload"].startswith("BM_VibStep")]
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; " \
              f"{context.get('num_cpus')} CPUs at {context.get('mhz_per_cpu')} MHz (Google Benchmark context)"
    lines = ["# Benchmark results (last `make bench`)", "",
             f"Machine: {machine}. One thread for both sides (per-core comparison); PyTorch {torch_data['torch']}, "
             "float64, vectorized over replicates and samples.", "",
             "| workload | vibench ns/estimate | PyTorch ns/estimate | PyTorch / vibench |", "|---|---:|---:|---:|"]
    for r in rows:
        if not r["workload"].startswith("BM_VibStep"):
            lines.append(f"| {r['workload']} | {r['vibench_ns']:.0f} | {r['torch_ns']:.0f} | {r['ratio']:.2f} |")
    ratios = np.array([r["ratio"] for r in est])
    lines += ["", f"Gradient-estimate workloads: PyTorch/vibench ratio median {np.median(ratios):.2f}, "
              f"min {ratios.min():.2f}, max {ratios.max():.2f} (goal: >= 10).", "",
              "RNG floor: each estimate / generating its normals alone (goal for reparam: <= 3)", "",
              "| workload | ratio |", "|---|---:|"]
    lines += [f"| {f['workload']} | {f['estimate_over_normals']:.2f} |" for f in floor]
    reparam_floor = np.array([f["estimate_over_normals"] for f in floor if "/reparam/" in f["workload"]])
    lines += ["", f"reparam: {np.sum(reparam_floor <= 3)} of {len(reparam_floor)} workloads within 3x of their normals "
              f"(range {reparam_floor.min():.2f}-{reparam_floor.max():.2f})."]
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
    lines += ["", "VIB training step (forward + backward + Adam, batch 100, float64, 1 thread; goal: PyTorch / vibench >= 1)",
              "", "| workload | vibench ms/step | PyTorch ms/step | PyTorch / vibench |", "|---|---:|---:|---:|"]
    lines += [f"| {r['workload']} | {r['vibench_ns'] / 1e6:.2f} | {r['torch_ns'] / 1e6:.2f} | {r['ratio']:.2f} |" for r in vib]
    writes = [(name, t) for name, t in cpp.items() if name.startswith("BM_WritePart")]
    lines += ["", "Store: one cell appended to a part file (16 metrics, encoded and checksummed; wall time)", "",
              "| workload | ms per cell | MB/s of metric data |", "|---|---:|---:|"]
    for name, t in writes:
        n = int(name.split(":")[-1].split("/")[0])
        lines.append(f"| {name} | {t / 1e6:.2f} | {16 * n * 8 / (t / 1e9) / 1e6:.1f} |")
    lines += sweep_lines(sweeps)
    lines += ["", f"Parallel: `{os.path.relpath(args.grid, os.path.join(HERE, '..'))}` on 1 vs 2 threads: speed-up "
              f"{speedup:.2f} (goal: >= 1.8); metric datasets bitwise identical: {identical}."]
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
    ax.axvline(10, color="tab:red", lw=0.8, ls="--", label="goal: 10x")
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
