#!/usr/bin/env python3
"""Fits CostModel's per-family rates to QEMU instruction counts.

usage: Tools/costmodel/fit.py CORE=FILE.json[,FILE.json...] ...   (e.g. m4f=a.json,b.json m7=c.json)
       (Tools/costmodel/measure.sh makes the files for the calibration plans and runs this)

Each file is the output of `halfstep validate PLAN --qemu --json` (its "qemu" object holds, per op,
the instructions of one run on one micro-batch, of the same op on zero rows, and the op's kernel
family and work). Per core and per family:
  perOp        the least zero-row count among the family's timed ops: dispatch, views and loop
               setup. Not the mean: a zero-row backward still zeroes its weight gradient, work
               that grows with the layer and so belongs with the elementwise operations;
  perMAC, perElementwise
               non-negative least squares of (instructions - perOp) on the ops' MACs and
               elementwise operations, each op weighted by 1 / its plan's step count so every
               plan weighs the same whatever its size.
The firmware does not time the loss and the updates (timing an update would change the weights it
reports), so their rates come from what a step costs beyond its timed ops: the loss is priced as
elementwise work plus 40 instructions per exp/log, the rest is fitted to the update ops' count and
elementwise work over the plans. Prints the Swift rate tables for CostModel.swift and each plan's
residual. Needs numpy and scipy; the build and the tests do not.
"""
import json
import sys

import numpy as np
from scipy.optimize import nnls

TRANSCENDENTAL = 40.0
ORDER = ["denseForward", "denseBackward", "convolutionForward", "convolutionBackward", "convolutionPanel", "pointwiseForward",
         "pointwiseBackward", "depthwiseForward", "depthwiseBackward", "expandDepthwise", "pooling", "elementwise",
         "loss", "update"]


def load(path):
    with open(path) as f:
        d = json.load(f)
    q = d["qemu"]
    ops = []
    for i, w in q["op_work"].items():
        ops.append(dict(w, timed=i in q["op_instructions"], instructions=q["op_instructions"].get(i, 0),
                        fixed=q["op_fixed_instructions"].get(i, 0)))
    return dict(path=path, step=q["instructions_per_step"], ops=ops)


def fit(runs):
    rates = {}
    for family in ORDER:
        timed = [(r, o) for r in runs for o in r["ops"] if o["family"] == family and o["timed"]]
        if not timed:
            continue
        per_op = float(min(o["fixed"] for _, o in timed))
        a = np.array([[o["macs"], o["elementwise"]] for _, o in timed], dtype=float)
        b = np.array([o["instructions"] - per_op for _, o in timed], dtype=float)
        w = np.array([1.0 / r["step"] for r, _ in timed])
        cols = [c for c in range(2) if a[:, c].any()]
        x = np.zeros(2)
        x[cols], _ = nnls(a[:, cols] * w[:, None], b * w)
        rates[family] = (per_op, x[0], x[1])
    element = rates["elementwise"]
    rates["loss"] = (element[0], 0.0, element[2])
    # What each step costs beyond its timed ops, less the loss: the updates' share.
    rows, rest = [], []
    for r in runs:
        untimed = r["step"] - sum(o["instructions"] for o in r["ops"] if o["timed"])
        loss = [o for o in r["ops"] if o["family"] == "loss"]
        untimed -= sum(element[0] + element[2] * o["elementwise"] + TRANSCENDENTAL * o["transcendentals"] for o in loss)
        updates = [o for o in r["ops"] if o["family"] == "update"]
        rows.append([len(updates) / r["step"], sum(o["elementwise"] for o in updates) / r["step"]])
        rest.append(untimed / r["step"])
    x, _ = nnls(np.array(rows), np.array(rest))
    rates["update"] = (x[0], 0.0, x[1])
    return rates


def estimate(rates, r):
    total = 0.0
    for o in r["ops"]:
        per_op, mac, element = rates[o["family"]]
        total += per_op + mac * o["macs"] + element * o["elementwise"] + TRANSCENDENTAL * o["transcendentals"]
    return total


def main():
    if len(sys.argv) < 2 or any("=" not in a for a in sys.argv[1:]):
        sys.exit(__doc__)
    for name, arg in (a.split("=", 1) for a in sys.argv[1:]):
        runs = [load(p) for p in arg.split(",")]
        rates = fit(runs)
        print(f"    static let {name}Rates: [KernelFamily: Rate] = [")
        for family in ORDER:
            if family in rates:
                p, m, e = rates[family]
                print(f"        .{family}: Rate(perOp: {p:.0f}, perMAC: {m:.2f}, perElementwise: {e:.2f}),")
        print("    ]")
        for r in runs:
            model = estimate(rates, r)
            print(f"    // {r['path']}: QEMU {r['step']}, model {model:.0f}, residual {(model / r['step'] - 1) * 100:+.1f}%")


main()
