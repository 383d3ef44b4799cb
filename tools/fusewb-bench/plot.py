#!/usr/bin/env python3
"""Draws the seed benchmark's cp results (fusewb-bench seed's TSV file).

usage: python3 plot.py TSV PNG

One subplot per server setting (threads, max_write); x: the latency added
per WRITE (ms); y: MB/s (10^6 bytes / median total time), one line per
configuration with the min-max over the repetitions as error bars; the raw
back end (no server) as a horizontal line in every subplot. Needs
matplotlib (Debian: python3-matplotlib); runs on the host after the VM run.
"""

import csv
import statistics
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LABELS = {
    "raw": "raw back end",
    "wt": "fuse-wb write-through",
    "wb": "fuse-wb write-back",
    "ml": "mainline",
    "ml-wb": "mainline write-back",
}
ORDER = ["wt", "wb", "ml", "ml-wb"]


def size_label(n):
    """A byte count as 4K, 1M when exact, else the number."""
    for shift, unit in ((30, "G"), (20, "M"), (10, "K")):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift}{unit}"
    return str(n)


def read_runs(path):
    """The cp runs: {(config, latency_us, threads, max_write): [(bytes, total_s)]}."""
    runs = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if row["op"] != "cp":
                continue
            key = (
                row["config"],
                None if row["latency_us"] == "-" else int(row["latency_us"]),
                None if row["threads"] == "-" else int(row["threads"]),
                None if row["max_write"] == "-" else int(row["max_write"]),
            )
            runs.setdefault(key, []).append(
                (int(row["bytes"]), float(row["total_s"]))
            )
    return runs


def rates(points):
    """(MB/s of the median time, MB/s of the slowest, MB/s of the fastest)."""
    nbytes = points[0][0]
    times = [t for _, t in points]
    mb = nbytes / 1e6
    return mb / statistics.median(times), mb / max(times), mb / min(times)


def plot(runs, png):
    settings = sorted({(k[2], k[3]) for k in runs if k[0] != "raw"})
    threads = sorted({t for t, _ in settings})
    writes = sorted({m for _, m in settings})
    if not settings:
        sys.exit("plot.py: no cp runs over a server in the TSV file")
    raw = [p for k, v in runs.items() if k[0] == "raw" for p in v]
    fig, axes = plt.subplots(
        len(threads),
        len(writes),
        figsize=(5.5 * len(writes), 4 * len(threads)),
        squeeze=False,
        sharey=True,
    )
    for i, t in enumerate(threads):
        for j, m in enumerate(writes):
            ax = axes[i][j]
            for cfg in ORDER:
                pts = sorted(
                    (k[1], v)
                    for k, v in runs.items()
                    if k[0] == cfg and k[2] == t and k[3] == m
                )
                if not pts:
                    continue
                xs = [lat / 1000 for lat, _ in pts]
                med, lo, hi = zip(*(rates(v) for _, v in pts))
                err = [
                    [a - b for a, b in zip(med, lo)],
                    [b - a for a, b in zip(med, hi)],
                ]
                ax.errorbar(xs, med, yerr=err, marker="o", capsize=3,
                            label=LABELS[cfg])
            if raw:
                ax.axhline(rates(raw)[0], color="black", linestyle="--",
                           label=LABELS["raw"])
            noun = "thread" if t == 1 else "threads"
            ax.set_title(f"{t} server {noun}, max_write {size_label(m)}")
            ax.set_xlabel("latency added per WRITE (ms)")
            ax.set_ylabel("MB/s (median, min-max)")
            ax.set_ylim(bottom=0)
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize="small")
    fig.suptitle("fuse-wb seed case: cp into the mount")
    fig.tight_layout()
    fig.savefig(png, dpi=100)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: python3 plot.py TSV PNG")
    runs = read_runs(sys.argv[1])
    plot(runs, sys.argv[2])
    print(f"plot.py: wrote {sys.argv[2]}")


if __name__ == "__main__":
    main()
