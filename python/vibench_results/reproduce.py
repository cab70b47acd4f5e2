"""`make reproduce`: recompute every experiment from scratch into a scratch directory, at the scale (and with the
--set overrides) its committed results file records, and compare each new file with the committed one through
vibench_results.compare. Prints one table: per experiment, cells bitwise identical, statistically consistent,
untestable (differing values without standard errors) and disagreeing, and cells present on one side only.
Exit status 1 when any cell is not identical or consistent, or a run fails."""
import argparse
import os
import shlex
import subprocess
import sys
import time

from .compare import Comparison
from .reader import provenance


def committed_run_arguments(prov):
    """The --scale and --set arguments of the committed run (from its provenance), so the rerun is the same grid."""
    scale = str(prov.get("scale", "quick"))
    args = [] if scale == "quick" else ["--scale", scale]  # quick is the default: the YAML has no entry for it
    # The command line is recorded with its words joined by spaces (no quoting): a --set value containing
    # spaces or quotes cannot be recovered, and such an experiment is reported instead of rerun differently.
    try:
        words = shlex.split(str(prov.get("command_line", "")))
    except ValueError as e:
        raise ValueError(f"cannot recover the --set arguments from its command_line attribute ({e})") from None
    for i, w in enumerate(words):
        if w == "--set" and i + 1 < len(words):
            args += ["--set", words[i + 1]]
        elif w.startswith("--set="):
            args += ["--set", w[len("--set="):]]
    return args


def main(argv=None):
    ap = argparse.ArgumentParser(prog="reproduce", description=__doc__.splitlines()[0])
    ap.add_argument("--vibench", default="build/vibench", help="the vibench binary (default build/vibench)")
    ap.add_argument("--experiments", default="experiments", help="folder of experiment YAML files")
    ap.add_argument("--results", default="results", help="folder of committed results files")
    ap.add_argument("--scratch", default="build/reproduce",
                    help="where the recomputed files go (each experiment's file is recomputed with --fresh)")
    ap.add_argument("--threads", type=int, default=0, help="threads per run (default: all cores)")
    ap.add_argument("--only", nargs="*", help="only these experiments (names)")
    args = ap.parse_args(argv)

    names = sorted(f[:-5] for f in os.listdir(args.experiments) if f.endswith(".yaml"))
    if args.only:
        unknown = set(args.only) - set(names)
        if unknown:
            ap.error(f"no experiment named {', '.join(sorted(unknown))} in {args.experiments}/")
        names = [n for n in names if n in args.only]
    os.makedirs(args.scratch, exist_ok=True)
    rows, failed = [], False
    for name in names:
        committed = os.path.join(args.results, name + ".h5")
        if not os.path.exists(committed):
            # results/<scale>/ holds only the experiments run at that scale (paper-scale runs are partial).
            rows.append((name, None, f"skipped: no {committed}"))
            continue
        fresh = os.path.join(args.scratch, name + ".h5")
        if os.path.exists(fresh):
            os.remove(fresh)
        try:
            run_args = committed_run_arguments(provenance(committed))
        except (OSError, KeyError, ValueError) as e:
            rows.append((name, None, f"cannot read how {committed} was run: {e}"))
            failed = True
            continue
        cmd = [args.vibench, "run", os.path.join(args.experiments, name + ".yaml"), "--out", args.scratch, "--fresh",
               *run_args]
        if args.threads:
            cmd += ["--threads", str(args.threads)]
        print(f"== {name}: {' '.join(cmd)}", flush=True)
        start = time.monotonic()
        run = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        seconds = time.monotonic() - start
        if run.returncode != 0:
            tail = run.stderr.strip().splitlines()[-3:]
            rows.append((name, None, f"run failed (exit {run.returncode}): {' | '.join(tail)}"))
            failed = True
            continue
        try:
            cmp = Comparison(committed, fresh)
        except Exception as e:  # one unreadable file must not lose the table of the others
            rows.append((name, None, f"cannot compare: {type(e).__name__}: {e}"))
            failed = True
            continue
        s = cmp.summary()
        failed |= cmp.exit_status() != 0 or bool(s["only_in_a"] or s["only_in_b"])
        rows.append((name, s, f"{seconds:.0f} s" + ("; libm differs" if s["libm_differs"] else "")))

    header = f"{'experiment':<24}{'cells':>7}{'identical':>11}{'consistent':>12}{'untestable':>12}{'disagree':>10}" \
             f"{'only committed':>16}{'only new':>10}  note"
    print()
    print(header)
    print("-" * len(header))
    total = [0] * 7
    for name, s, note in rows:
        if s is None:
            print(f"{name:<24}{'':>78}  {note}")
            continue
        c = s["cells"]
        values = [s["common_cells"], c["identical"], c["consistent"], c["untestable"], c["disagree"], s["only_in_a"],
                  s["only_in_b"]]
        total = [t + v for t, v in zip(total, values)]
        print(f"{name:<24}{values[0]:>7}{values[1]:>11}{values[2]:>12}{values[3]:>12}{values[4]:>10}{values[5]:>16}"
              f"{values[6]:>10}  {note}")
    print("-" * len(header))
    print(f"{'total':<24}{total[0]:>7}{total[1]:>11}{total[2]:>12}{total[3]:>12}{total[4]:>10}{total[5]:>16}{total[6]:>10}")
    print("identical: every value the same bits; consistent: differences within round-off or within the z limit of "
          "both files' standard errors (vibench compare); untestable: values without standard errors differ; "
          "disagree: a z-score beyond the limit or a structural difference. "
          f"Recomputed files: {args.scratch}/")
    if any(s is not None and s["libm_differs"] for _, s, _ in rows):
        print("libm differs: this machine's C math library rounds differently from the one that computed the committed "
              "results (a CPU without AVX2 and FMA, or another glibc): expect round-off differences and untestable "
              "trajectories (README \"Determinism\").")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
