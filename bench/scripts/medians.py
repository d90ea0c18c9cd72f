#!/usr/bin/env python3
"""Prints the medians over rounds of a bench run's results.tsv, one line per case and path (for runs
that leave docs/ alone, such as the forwarder trial). usage: medians.py RESULTS_TSV"""
import csv
import statistics
import sys

rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
order = []
for r in rows:
    if (r["case"], r["path"]) not in order:
        order.append((r["case"], r["path"]))
print("case\tpath\trounds\trps\tp50_us\tp99_us\ttotal_p50_us\terrors\tcpu_us_per_req\tper-round rps or p50")
for case, path in order:
    mine = [r for r in rows if r["case"] == case and r["path"] == path]

    def med(field):
        values = [float(r[field]) for r in mine if r.get(field) not in ("", None)]
        return f"{statistics.median(values):.0f}" if values else "-"

    key = "p50_us" if case == "stream" else "rps"
    rounds = ",".join(f"{float(r[key]):.0f}" for r in mine if r[key])
    errors = sum(int(r["errors"] or 0) for r in mine)
    print(f"{case}\t{path}\t{len(mine)}\t{med('rps')}\t{med('p50_us')}\t{med('p99_us')}\t{med('total_p50_us')}\t{errors}\t{med('cpu_us_per_req')}\t{rounds}")
