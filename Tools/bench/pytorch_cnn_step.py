"""One digits-CNN training step in PyTorch (CPU, fp32, one thread), timed the way `halfstep bench` times
HalfStep's: the bundled Tools/examples/digits-cnn model (Tools/fixtures/make_cnn.py's SmallCNN: 3x3 conv +
BN + ReLU, MaxPool, depthwise 3x3 + ReLU6 + pointwise residual block, 1x1 expand + ReLU, AvgPool, Linear),
its pretrained weights read from model.onnx, every parameter training, BatchNorm in eval mode (running
statistics frozen, affine trains: what `halfstep plan --train all` keeps), SGD lr 0.005 momentum 0.9,
mean cross-entropy, batches of the shifted digits task read as [N, 1, 8, 8].
Prints one JSON object per batch size: {"batch": B, "steps_per_second": S}, best of 3 runs.

`--model strided` times instead the shape of issue 13's figure, "two 3x3 convs, one strided, Linear", on
the same 1x8x8 digits: Conv 1->16 3x3 pad 1, ReLU, Conv 16->32 3x3 stride 2 pad 1, ReLU, Linear 512->10
(PyTorch's default initialisation, seed 0); `--export PATH` writes that model as ONNX for `halfstep plan`.

    python Tools/bench/pytorch_cnn_step.py [--model digits|strided] [--batches 32] [--steps 2000] [--export PATH]
"""
import argparse
import json
import os
import time

import numpy as np
import torch
import torch.nn as nn

torch.set_num_threads(1)
here = os.path.dirname(os.path.abspath(__file__))
data = os.path.join(here, "..", "examples", "digits")
model_path = os.path.join(here, "..", "examples", "digits-cnn", "model.onnx")


class SmallCNN(nn.Module):
    """Tools/fixtures/make_cnn.py's SmallCNN, repeated so timing needs neither sklearn nor onnxruntime."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.pool = nn.MaxPool2d(2)
        self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.pw = nn.Conv2d(8, 8, 1)
        self.expand = nn.Conv2d(8, 16, 1)
        self.avg = nn.AvgPool2d(2)
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = self.pool(torch.relu(self.bn1(self.conv1(x))))
        x = x + self.pw(nn.functional.relu6(self.dw(x)))
        x = self.avg(torch.relu(self.expand(x)))
        return self.fc(torch.flatten(x, 1))


class StridedCNN(nn.Module):
    """Two 3x3 convolutions, the second strided, and a Linear layer."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, stride=2, padding=1)
        self.fc = nn.Linear(32 * 4 * 4, 10)

    def forward(self, x):
        x = torch.relu(self.conv2(torch.relu(self.conv1(x))))
        return self.fc(torch.flatten(x, 1))


def strided_state():
    torch.manual_seed(0)
    return StridedCNN().state_dict()


def export_strided(path):
    model = StridedCNN()
    model.load_state_dict(strided_state())
    model.eval()
    torch.onnx.export(model, torch.zeros(2, 1, 8, 8), path, dynamo=False, opset_version=13, input_names=["input"],
                      output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})


def pretrained_state():
    """model.onnx's initializers as a state dict (names match SmallCNN's); None without the onnx package."""
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        return None
    m = onnx.load(model_path)
    return {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in m.graph.initializer}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", default="32")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--model", choices=["digits", "strided"], default="digits")
    parser.add_argument("--export", help="write the strided model as ONNX to this path and exit")
    args = parser.parse_args()
    if args.export:
        export_strided(args.export)
        return
    make = SmallCNN if args.model == "digits" else StridedCNN
    x = torch.from_numpy(np.load(os.path.join(data, "shifted-train-x.npy")).astype(np.float32).reshape(-1, 1, 8, 8))
    y = torch.from_numpy(np.load(os.path.join(data, "shifted-train-y.npy")).astype(np.int64))
    state = pretrained_state() if args.model == "digits" else strided_state()
    for batch in [int(b) for b in args.batches.split(",")]:
        best = 0.0
        for _ in range(3):
            model = make()
            if state is not None:
                model.load_state_dict(state, strict=False)
            model.eval()   # digits: BN running statistics frozen, as in the plan; its affine parameters train
            opt = torch.optim.SGD(model.parameters(), lr=0.005, momentum=0.9)
            start = time.perf_counter()
            for step in range(args.steps):
                i = (step * batch) % (len(x) - batch)
                loss = nn.functional.cross_entropy(model(x[i:i + batch]), y[i:i + batch])
                opt.zero_grad()
                loss.backward()
                opt.step()
            best = max(best, args.steps / (time.perf_counter() - start))
        print(json.dumps({"model": args.model, "batch": batch, "steps_per_second": best, "pretrained": state is not None}), flush=True)


if __name__ == "__main__":
    main()
