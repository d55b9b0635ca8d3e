"""One training step in PyTorch (CPU, fp32, one thread), timed the way `halfstep bench` times
HalfStep's, on the same model, recipe and data:

  mlp           the digits MLP (64-64-32-10, ReLU), SGD lr 0.05 momentum 0.9, shifted digits
  cnn           the digits CNN (Tools/fixtures/models.py SmallCNN), SGD lr 0.005 momentum 0.9,
                shifted digits read as [N, 1, 8, 8]
  strided       issue 13's small CNN (Tools/fixtures/models.py StridedCNN: two 3x3 convolutions, the
                second strided, and a Linear layer), SGD lr 0.005 momentum 0.9, the digits as [N, 1, 8, 8]
  mobilenetv2   MobileNetV2 0.35 at 96x96, 10 classes, SGD lr 0.01 momentum 0.9, the bundled batch

Every parameter trains; BatchNorm keeps its running statistics (eval mode) and trains its affine
parameters, Dropout is off: what HalfStep's plan of the exported model computes. Weights are
PyTorch's initialisation (timing does not depend on their values). Mean cross-entropy.
Prints one JSON object per batch size: {"model": M, "batch": B, "steps_per_second": S}.

    python Tools/bench/pytorch_step.py [--model mlp|cnn|strided|mobilenetv2] [--batches 1,8,32,128] [--steps 2000]
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch

torch.set_num_threads(1)
here = os.path.dirname(os.path.abspath(__file__))
examples = os.path.join(here, "..", "examples")
sys.path.insert(0, os.path.join(here, "..", "fixtures"))


def data(model):
    if model == "mobilenetv2":
        x = np.load(os.path.join(examples, "mobilenetv2", "batch-x.npy")).astype(np.float32)
        y = np.load(os.path.join(examples, "mobilenetv2", "batch-y.npy")).astype(np.int64)
        return torch.from_numpy(x.reshape(-1, 3, 96, 96)), torch.from_numpy(y)
    x = np.load(os.path.join(examples, "digits", "shifted-train-x.npy")).astype(np.float32)
    y = np.load(os.path.join(examples, "digits", "shifted-train-y.npy")).astype(np.int64)
    if model in ("cnn", "strided"):
        x = x.reshape(-1, 1, 8, 8)
    return torch.from_numpy(x), torch.from_numpy(y)


def make(model):
    if model == "mlp":
        return torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 32), torch.nn.ReLU(),
                                   torch.nn.Linear(32, 10)), 0.05
    from models import MobileNetV2, SmallCNN, StridedCNN
    if model == "cnn":
        return SmallCNN(), 0.005
    if model == "strided":
        torch.manual_seed(0)
        return StridedCNN(), 0.005
    return MobileNetV2(), 0.01


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", choices=["mlp", "cnn", "strided", "mobilenetv2"], default="mlp")
    parser.add_argument("--batches", default="1,8,32,128")
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args()
    x, y = data(args.model)
    for batch in [int(b) for b in args.batches.split(",")]:
        model, lr = make(args.model)
        model.eval()
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
        best = 0.0
        for _ in range(3):
            start = time.perf_counter()
            for step in range(args.steps):
                i = (step * batch) % max(1, len(x) - batch + 1)
                loss = torch.nn.functional.cross_entropy(model(x[i:i + batch]), y[i:i + batch])
                opt.zero_grad()
                loss.backward()
                opt.step()
            best = max(best, args.steps / (time.perf_counter() - start))
        print(json.dumps({"model": args.model, "batch": batch, "steps_per_second": best}), flush=True)


if __name__ == "__main__":
    main()
