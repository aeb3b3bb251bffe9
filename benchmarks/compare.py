#!/usr/bin/env python3
"""Speed and memory of poisson_noise against PyTorch, measured in one run.

Runs, one after the other on the same machine:
  build/benchmarks/step_timing --model all   one training step of each of the four models
                                             and the bare sgemm calls of a step (the floor)
  build/benchmarks/bench_noise --json        the noise layer alone, per estimator, 1 and 2
                                             threads, on 100x32x28x28 ReLU-like rates
  torch_reference.py step / noise            the same in PyTorch (Debian's python3-torch)
and prints each figure with the ratios that docs/performance.md discusses. Every program
prints one JSON object per result on a line of its own; this script only collects them.

  benchmarks/compare.py [--build build] [--torch PATH] [--repeats N] [--json OUT]

bench_noise prints its JSON lines itself; step_timing prints one per model.
"""
import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_TORCH = os.path.join(ROOT, "..", "shared", "bench", "torch_reference.py")


def json_lines(command, env=None):
    """Runs command, echoes its human-readable output to stderr, returns its JSON lines."""
    print("$ " + " ".join(command), file=sys.stderr, flush=True)
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    results = []
    for line in done.stdout.splitlines():
        if line.startswith("{"):
            results.append(json.loads(line))
        else:
            print("  " + line, file=sys.stderr)
    if done.returncode != 0:
        sys.exit(f"compare.py: {command[0]} failed ({done.returncode}):\n{done.stderr}")
    return results


def ratio(a, b):
    return a / b if a and b else float("nan")


def verdict(value, limit, at_most=True):
    ok = value <= limit if at_most else value >= limit
    return f"{value:8.2f}  target {'<=' if at_most else '>='} {limit:<5g} {'met' if ok else 'MISSED'}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--torch", default=DEFAULT_TORCH)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", help="also write every result to this file")
    args = parser.parse_args()

    env = dict(os.environ, OMP_WAIT_POLICY=os.environ.get("OMP_WAIT_POLICY", "passive"))
    ours_steps = {r["model"]: r for r in json_lines(
        [os.path.join(args.build, "benchmarks", "step_timing"), str(args.repeats),
         "--model", "all"], env)}
    ours_noise = json_lines(
        [os.path.join(args.build, "benchmarks", "bench_noise"), str(args.repeats)], env)

    torch_steps, torch_noise = {}, {}
    if os.path.exists(args.torch):
        python = "/usr/bin/python3"
        common = ["--threads", str(args.threads), "--repeats", str(args.repeats)]
        torch_steps = {r["model"]: r for r in json_lines([python, args.torch, "step"] + common)}
        torch_noise = {r["op"]: r for r in json_lines([python, args.torch, "noise"] + common)}
    else:
        print(f"compare.py: no PyTorch reference at {args.torch}; ours only", file=sys.stderr)

    print("\ntraining step, batch 100")
    print(f"{'model':10} {'ours ms':>9} {'torch ms':>9} {'ours/torch':>11} {'ours RSS':>9}"
          f" {'torch RSS':>10}")
    for model in ["baseline", "p1", "p2", "p_ste"]:
        o, t = ours_steps.get(model, {}), torch_steps.get(model, {})
        print(f"{model:10} {o.get('ms_per_step', 0):9.1f} {t.get('ms_per_step', 0):9.1f}"
              f" {ratio(o.get('ms_per_step'), t.get('ms_per_step')):11.2f}"
              f" {o.get('peak_rss_mib', 0):8.0f}M {t.get('peak_rss_mib', 0):9.0f}M")
    base = ours_steps["baseline"]
    print(f"sgemm floor of one step: {base['sgemm_floor_ms']:.1f} ms")

    print("\nnoise layer alone, forward + backward, 100x32x28x28 rates")
    print(f"{'estimator':28} {'threads':>7} {'ms':>8} {'M el/s':>8} {'bytes/el':>9}")
    for r in ours_noise:
        label = f"{r['estimator']} tau {r['tau']:g}"
        print(f"{label:28} {r['threads']:7d} {r['ms']:8.1f} {r['m_elements_per_s']:8.1f}"
              f" {r['extra_bytes_per_element']:9.1f}")
    for op, r in torch_noise.items():
        print(f"{'torch ' + op:28} {args.threads:7d} {r['ms_fwd_bwd']:8.1f}"
              f" {r['m_elements_per_s']:8.2f}")

    def noise(name, threads, tau=1.0):
        return next((r for r in ours_noise if r["estimator"] == name and r["threads"] == threads
                     and r["tau"] == tau), {})

    st2 = noise("straight_through_gumbel", args.threads)
    st1 = noise("straight_through_gumbel", 1)
    print("\nratios (each measured in this run)")
    print("baseline step / PyTorch's        ",
          verdict(ratio(base["ms_per_step"], torch_steps.get("baseline", {}).get("ms_per_step")),
                  0.5))
    print("baseline step / sgemm floor      ", verdict(base["ratio"], 1.3))
    for model, limit in [("p1", 1.25), ("p2", 1.25), ("p_ste", 1.1)]:
        print(f"{model + ' step / baseline step':33}",
              verdict(ratio(ours_steps[model]["ms_per_step"], base["ms_per_step"]), limit))
    print("gumbel noise throughput / torch's",
          verdict(ratio(st2.get("m_elements_per_s"),
                        torch_noise.get("gumbel_st", {}).get("m_elements_per_s")), 50, False))
    print("gumbel noise extra bytes/element ", verdict(st2.get("extra_bytes_per_element", 0), 8))
    print("P_2 peak RSS / baseline's        ",
          verdict(ratio(ours_steps["p2"]["peak_rss_mib"], base["peak_rss_mib"]), 1.2))
    print(f"gumbel noise, {args.threads} threads / 1 thread ",
          f"{ratio(st2.get('m_elements_per_s'), st1.get('m_elements_per_s')):8.2f}x,",
          "bit-identical" if st2.get("checksum") == st1.get("checksum") else "DIFFERENT")

    if args.json:
        with open(args.json, "w") as out:
            json.dump({"ours_steps": ours_steps, "ours_noise": ours_noise,
                       "torch_steps": torch_steps, "torch_noise": torch_noise}, out, indent=1)


if __name__ == "__main__":
    main()
