#!/usr/bin/python3
"""The PyTorch peer of `npm run bench:train`: one training step of the same binary network, loss
and optimizer as lib/train/trainer.ts, timed the same way (median after warm-up).

    /usr/bin/python3 scripts/pytorch_train_step.py --config '<JSON>' [--warmup 3] [--steps 5] [--threads 2]

The JSON is `networkConfig()` of bench/benchNetworks.ts (cli/bench-train.ts passes it), so both
sides build the network from the same preset. The network, as lib/models:
  MLP:     flatten − [dropout in] − (BinaryLinear → BatchNorm → sign → [dropout]) × N − BinaryLinear → BatchNorm
  ConvNet: (BinaryConv 3×3 same → [MaxPool 2×2 after every 2nd conv] → BatchNorm → sign) × N − flatten −
           (BinaryLinear → BatchNorm → sign) × M − BinaryLinear → BatchNorm
Binary weights and activations: sign (0 → +1) forward, straight-through gradient cancelled where
|x| > 1. No biases (BatchNorm's shift replaces them). BatchNorm momentum 0.1 (tfjs 0.9), eps 1e-4.
Squared hinge loss on ±1 one-hot targets. Adam (0.9, 0.999, 1e-8) with each binary kernel in its own
parameter group whose lr carries the Glorot scale 1 / sqrt(1.5 / (fan_in + fan_out)); latent
kernels clamped to [−H, H] after each step. (torch's Adam adds eps to sqrt(v̂) where Lasagne's adds
it to sqrt(v): the same work, a negligible numerical difference.)

Prints one JSON line: { network, implementation: 'pytorch', batchSize, msPerStep, threads, ... }.
torch is optional for the project (Debian: apt-get install python3-torch).
"""
import argparse
import json
import os
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class SignSTE(torch.autograd.Function):
    """sign with 0 → +1; gradient passed where |x| ≤ 1 and zeroed elsewhere."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.where(x >= 0, 1.0, -1.0)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad.masked_fill(x.abs() > 1, 0.0)


class Sign(nn.Module):
    def forward(self, x):
        return SignSTE.apply(x)


class BinaryLinear(nn.Linear):
    def __init__(self, fan_in, fan_out, H):
        super().__init__(fan_in, fan_out, bias=False)
        nn.init.uniform_(self.weight, -H, H)
        self.lr_scale = 1 / (1.5 / (fan_in + fan_out)) ** 0.5

    def forward(self, x):
        return F.linear(x, SignSTE.apply(self.weight))


class BinaryConv2d(nn.Conv2d):
    def __init__(self, cin, cout, H):
        super().__init__(cin, cout, 3, padding=1, bias=False)
        nn.init.uniform_(self.weight, -H, H)
        self.lr_scale = 1 / (1.5 / (cin * 9 + cout * 9)) ** 0.5

    def forward(self, x):
        return F.conv2d(x, SignSTE.apply(self.weight), padding=1)


def bn1d(n):
    return nn.BatchNorm1d(n, eps=1e-4, momentum=0.1)


def build(c):
    H = c["H"]
    height, width, channels = c["inputShape"]
    layers = []
    if c["arch"] == "mlp":
        layers.append(nn.Flatten())
        if c["dropoutInput"] > 0:
            layers.append(nn.Dropout(c["dropoutInput"]))
        features = height * width * channels
    else:
        cin = channels
        for i, f in enumerate(c["convFilters"]):
            layers.append(BinaryConv2d(cin, f, H))
            if i % 2 == 1:  # pooling before BatchNorm and sign, as lib/models/convnet.ts
                layers.append(nn.MaxPool2d(2))
                height, width = height // 2, width // 2
            layers += [nn.BatchNorm2d(f, eps=1e-4, momentum=0.1), Sign()]
            cin = f
        layers.append(nn.Flatten())
        features = cin * height * width
    for units in c["hiddenUnits"]:
        layers += [BinaryLinear(features, units, H), bn1d(units), Sign()]
        if c["dropoutHidden"] > 0:
            layers.append(nn.Dropout(c["dropoutHidden"]))
        features = units
    layers += [BinaryLinear(features, c["numClasses"], H), bn1d(c["numClasses"])]
    return nn.Sequential(*layers)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", required=True, help="networkConfig() JSON of bench/benchNetworks.ts")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    c = json.loads(args.config)
    torch.set_num_threads(args.threads)
    torch.manual_seed(c["seed"])

    model = build(c).train()
    binary = [m for m in model.modules() if isinstance(m, (BinaryLinear, BinaryConv2d))]
    kernel_ids = {id(m.weight) for m in binary}
    groups = [{"params": [m.weight], "lr": c["lr"] * m.lr_scale} for m in binary]
    groups.append({"params": [p for p in model.parameters() if id(p) not in kernel_ids], "lr": c["lr"]})
    optimizer = torch.optim.Adam(groups, lr=c["lr"], betas=(0.9, 0.999), eps=1e-8)
    kernels = [m.weight for m in binary]

    n = c["batchSize"]
    height, width, channels = c["inputShape"]
    x = torch.rand(n, channels, height, width) * 2 - 1
    labels = torch.randint(0, c["numClasses"], (n,))
    targets = F.one_hot(labels, c["numClasses"]).float() * 2 - 1

    def step():
        t0 = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        scores = model(x)
        loss = torch.mean(torch.square(F.relu(1 - targets * scores)))
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        optimizer.step()
        with torch.no_grad():
            for w in kernels:
                w.clamp_(-c["H"], c["H"])
        t3 = time.perf_counter()
        # Read back loss and error, as the tfjs step does.
        loss.item()
        (scores.argmax(1) != labels).float().mean().item()
        t4 = time.perf_counter()
        return {"step": t4 - t0, "forward": t1 - t0, "backward": t2 - t1, "optimizer": t3 - t2, "readout": t4 - t3}

    for _ in range(args.warmup):
        step()
    timed = [step() for _ in range(args.steps)]
    ms = lambda key: round(1000 * statistics.median(t[key] for t in timed), 3)
    print(
        json.dumps(
            {
                "network": c["network"],
                "implementation": "pytorch",
                "batchSize": n,
                "msPerStep": ms("step"),
                "threads": torch.get_num_threads(),
                "phasesMs": {k: ms(k) for k in ("forward", "backward", "optimizer", "readout")},
                "stepsMs": [round(1000 * t["step"], 3) for t in timed],
                "warmup": args.warmup,
                "steps": args.steps,
                "torch": torch.__version__,
                # Debian's torch calls the system libblas.so.3: reference BLAS unless OpenBLAS is installed.
                "blas": os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3"),
            }
        )
    )


if __name__ == "__main__":
    main()
