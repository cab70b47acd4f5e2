"""PyTorch baseline for vibench's benchmark workloads (bench/bench_main.cpp), written as a competent PyTorch
user would: float64, vectorized over R independent replicates and over samples, autograd for gradients
(per-replicate gradients in one backward pass by giving each replicate its own parameter row), and
torch.set_num_threads matching vibench's benchmark threads.

Model (same shapes and cost as vibench's linear_gaussian): log p(x, z) = -1/2 z^T Lam z + h^T z + c with a
dense SPD Lam (D x D); q = N(mu, diag sigma^2) with phi = (mu, log sigma); objective ELBO (K = 1) or IWAE-K.
Estimators: reparam, score_function (surrogate f.detach() * log q), iwae (reparameterized IWAE-K), dreg
(Tucker et al. 2018: log q with stopped parameters, weights w~^2 stopped). normals: torch.randn alone.

Writes a JSON list of {"name", "ns_per_estimate"} whose names match the Google Benchmark names.
"""
import argparse
import json
import math
import os
import sys
import time


def _threads_from_argv(default=1):
    """--threads N, read before torch is imported (see below)."""
    for i, a in enumerate(sys.argv):
        if a == "--threads" and i + 1 < len(sys.argv):
            return sys.argv[i + 1]
        if a.startswith("--threads="):
            return a[len("--threads="):]
    return str(default)


# torch.set_num_threads does not reach the BLAS that Debian's torch calls: OpenBLAS (the pthread build the
# Makefile installs) starts a thread per core unless told otherwise when it is loaded. Without this the
# "one thread" baseline ran its matrix products on both cores (CPU time = 2.0 x wall time, measured).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = _threads_from_argv()

import torch  # noqa: E402  (after the thread limits above)


def model(d, gen):
    a = torch.randn(d, d, dtype=torch.float64, generator=gen) / math.sqrt(d)
    lam = torch.eye(d, dtype=torch.float64) + a.T @ a
    h = torch.randn(d, dtype=torch.float64, generator=gen)
    return lam, h


def log_joint(z, lam, h):
    return -0.5 * ((z @ lam) * z).sum(-1) + z @ h


def log_q(z, mu, log_sigma):
    u = (z - mu) * torch.exp(-log_sigma)
    return (-0.5 * u * u - log_sigma - 0.5 * math.log(2 * math.pi)).sum(-1)


def estimate(kind, d, s, k, r, lam, h):
    """One batch of r gradient estimates; returns the gradient tensor (r x 2d)."""
    phi = torch.zeros(r, 2 * d, dtype=torch.float64, requires_grad=True)
    mu, log_sigma = phi[:, :d].unsqueeze(1), phi[:, d:].unsqueeze(1)
    n = s * k
    eps = torch.randn(r, n, d, dtype=torch.float64)
    if kind == "score_function":
        with torch.no_grad():
            z = mu + torch.exp(log_sigma) * eps
            f = log_joint(z, lam, h) - log_q(z, mu, log_sigma)
        surrogate = (f * log_q(z, mu, log_sigma)).mean(1).sum()
        (g,) = torch.autograd.grad(surrogate, phi)
        return g
    z = mu + torch.exp(log_sigma) * eps
    if kind == "dreg":
        lw = log_joint(z, lam, h) - log_q(z, mu.detach(), log_sigma.detach())
        w = torch.softmax(lw, dim=1).detach()
        (g,) = torch.autograd.grad(((w * w) * lw).sum(), phi)
        return g
    lw = log_joint(z, lam, h) - log_q(z, mu, log_sigma)
    if kind == "iwae":
        bound = torch.logsumexp(lw, dim=1) - math.log(k)
    else:
        bound = lw.mean(1)
    (g,) = torch.autograd.grad(bound.sum(), phi)
    return g


def vib_step_factory(h, k, gen):
    """One Deep VIB training step as a PyTorch user writes it: nn.Sequential encoder 784-h-h-2k, linear decoder,
    float64, Adam(1e-4, betas (0.5, 0.999)), loss = CE + 1e-3 KL, batch 100 of synthetic pixels."""
    torch.manual_seed(1)
    enc = torch.nn.Sequential(torch.nn.Linear(784, h), torch.nn.ReLU(), torch.nn.Linear(h, h), torch.nn.ReLU(),
                              torch.nn.Linear(h, 2 * k)).double()
    dec = torch.nn.Linear(k, 10).double()
    opt = torch.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=1e-4, betas=(0.5, 0.999))
    x = torch.rand(100, 784, dtype=torch.float64, generator=gen)
    y = torch.arange(100) % 10

    def step():
        opt.zero_grad(set_to_none=True)
        out = enc(x)
        mu, sigma = out[:, :k], torch.nn.functional.softplus(out[:, k:] - 5.0)
        z = mu + sigma * torch.randn(100, k, dtype=torch.float64)
        kl = (0.5 * (mu**2 + sigma**2 - 1) - torch.log(sigma)).sum(1).mean()
        loss = torch.nn.functional.cross_entropy(dec(z), y) + 1e-3 * kl
        loss.backward()
        opt.step()

    return step


cores_used = []  # CPU time / wall time of every timed workload: 1.0 is one core


def timed(fn, min_seconds):
    fn()  # warm up
    reps, start, cpu_start = 0, time.perf_counter(), time.process_time()
    while True:
        fn()
        reps += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            cores_used.append((time.process_time() - cpu_start) / elapsed)
            return elapsed / reps


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--min-seconds", type=float, default=0.3)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(1)
    results = []

    def batch_size(work):  # replicates per batch: about 2e6 doubles of noise, at least 1, at most 4096
        return max(1, min(4096, int(2e6 // work)))

    for d in (2, 20, 200):
        lam, h = model(d, gen)
        for kind in ("reparam", "score_function"):
            for s in (1, 10, 100):
                r = batch_size(s * d)
                t = timed(lambda: estimate(kind, d, s, 1, r, lam, h), args.min_seconds)
                results.append({"name": f"BM_Estimate/{kind}/D:{d}/S:{s}", "ns_per_estimate": 1e9 * t / r})
        for kind in ("iwae", "dreg"):
            for k in (10, 100, 1000):
                r = batch_size(k * d)
                t = timed(lambda: estimate(kind, d, 1, k, r, lam, h), args.min_seconds)
                results.append({"name": f"BM_EstimateIwae/{kind}/D:{d}/K:{k}", "ns_per_estimate": 1e9 * t / r})
        for s in (1, 10, 100, 1000):
            r = batch_size(s * d)
            t = timed(lambda: torch.randn(r, s, d, dtype=torch.float64), args.min_seconds)
            results.append({"name": f"BM_Normals/D:{d}/S:{s}", "ns_per_estimate": 1e9 * t / r})
    for h, k in ((1024, 256), (256, 32)):
        t = timed(vib_step_factory(h, k, gen), args.min_seconds)
        results.append({"name": f"BM_VibStep/H:{h}/K:{k}", "ns_per_estimate": 1e9 * t})
    with open(args.out, "w") as f:
        json.dump({"threads": args.threads, "torch": torch.__version__, "max_cores_used": max(cores_used),
                   "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
