"""One digits-MLP training step in PyTorch (CPU, one thread), timed the way `halfstep bench` times
HalfStep's: the same model (64-64-32-10, ReLU), SGD lr 0.05 momentum 0.9, mean cross-entropy, batches
of the shifted digits task. Prints one JSON object per batch size: {"batch": B, "steps_per_second": S}.

    python Tools/bench/pytorch_step.py [--batches 1,8,32,128] [--steps 2000]
"""
import argparse
import json
import os
import time

import numpy as np
import torch

torch.set_num_threads(1)
here = os.path.dirname(os.path.abspath(__file__))
data = os.path.join(here, "..", "examples", "digits")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", default="1,8,32,128")
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args()
    x = torch.from_numpy(np.load(os.path.join(data, "shifted-train-x.npy")))
    y = torch.from_numpy(np.load(os.path.join(data, "shifted-train-y.npy")))
    for batch in [int(b) for b in args.batches.split(",")]:
        model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 32), torch.nn.ReLU(),
                                    torch.nn.Linear(32, 10))
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        best = 0.0
        for _ in range(3):
            start = time.perf_counter()
            for step in range(args.steps):
                i = (step * batch) % (len(x) - batch)
                loss = torch.nn.functional.cross_entropy(model(x[i:i + batch]), y[i:i + batch])
                opt.zero_grad()
                loss.backward()
                opt.step()
            best = max(best, args.steps / (time.perf_counter() - start))
        print(json.dumps({"batch": batch, "steps_per_second": best}), flush=True)


if __name__ == "__main__":
    main()
