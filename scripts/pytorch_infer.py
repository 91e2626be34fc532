#!/usr/bin/python3
"""The PyTorch peer of `npm run bench:infer`: whole-network float inference of the network that the
parent exported (float.json + float.bin in the spec's folder: the same ops as the ONNX graph, from
floatNetwork() of lib/engine/onnxExport.ts), on the same uint8 images, timed the same way.

    /usr/bin/python3 scripts/pytorch_infer.py '<WorkerSpec JSON>'

Ops: input (p / 127.5 − 1, NHWC → NCHW), conv (±1 float32 weights), maxpool, batchnorm
(F.batch_norm in inference mode), sign (0 → +1, torch.where), flatten, matmul. Runs under
torch.inference_mode() with torch.set_num_threads(threads); the parent also sets
OPENBLAS_NUM_THREADS (Debian's OpenBLAS ignores torch's setting).
Prints one JSON line: { detail, timings: [{ images, msPerBatch, runsMs }], predictions }.
torch is optional for the project (Debian: apt-get install python3-torch libopenblas0-pthread).
"""
import json
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F


def load_network(folder):
    with open(os.path.join(folder, "float.json")) as f:
        net = json.load(f)
    blob = open(os.path.join(folder, "float.bin"), "rb").read()

    def array(ref, shape=None):
        dtype = np.int8 if ref["dtype"] == "int8" else np.float32
        a = np.frombuffer(blob, dtype=dtype, count=ref["length"], offset=ref["offset"]).astype(np.float32)
        t = torch.from_numpy(a.copy())
        return t.reshape(shape) if shape else t

    ops = []
    for o in net["ops"]:
        if o["op"] == "conv":
            ops.append(dict(o, weights=array(o["weights"], o["shape"])))
        elif o["op"] == "matmul":
            ops.append(dict(o, weights=array(o["weights"], o["shape"])))
        elif o["op"] == "batchnorm":
            ops.append(dict(o, **{k: array(o[k]) for k in ("scale", "bias", "mean", "variance")}))
        else:
            ops.append(o)
    return net, ops


def forward(ops, pixels):
    x = None
    for o in ops:
        kind = o["op"]
        if kind == "input":
            x = pixels.to(torch.float32) / 127.5 - 1
            if o["nchw"]:
                x = x.permute(0, 3, 1, 2).contiguous()
        elif kind == "sign":
            x = torch.where(x >= 0, 1.0, -1.0)
        elif kind == "conv":
            k = o["shape"][2]
            if o["padding"] == "same" and o["stride"] == 1 and k % 2 == 1:
                x = F.conv2d(x, o["weights"], padding=k // 2)
            elif o["padding"] == "valid":
                x = F.conv2d(x, o["weights"], stride=o["stride"])
            else:
                raise ValueError(f"{o['name']}: 'same' padding with stride {o['stride']}, kernel {k}")
        elif kind == "maxpool":
            if o["padding"] != "valid":
                raise ValueError(f"{o['name']}: only 'valid' max pooling")
            x = F.max_pool2d(x, o["size"], o["strides"])
        elif kind == "batchnorm":
            x = F.batch_norm(x, o["mean"], o["variance"], o["scale"], o["bias"], False, 0.0, o["epsilon"])
        elif kind == "flatten":
            x = x.flatten(1)
        elif kind == "matmul":
            x = x @ o["weights"]
        else:
            raise ValueError(f"unknown op {kind}")
    return x


def main():
    spec = json.loads(sys.argv[1])
    torch.set_num_threads(spec["threads"])
    net, ops = load_network(spec["dir"])
    shape = net["inputShape"]
    per = int(np.prod(shape))
    pixels = np.fromfile(os.path.join(spec["dir"], "images.bin"), dtype=np.uint8)
    timings, predictions, largest = [], [], 0
    with torch.inference_mode():
        for b in spec["batches"]:
            images = torch.from_numpy(pixels[: b["images"] * per].reshape([b["images"]] + shape).copy())
            for _ in range(b["warmup"]):
                scores = forward(ops, images)
            runs = []
            for _ in range(b["runs"]):
                t0 = time.perf_counter()
                scores = forward(ops, images)
                runs.append((time.perf_counter() - t0) * 1000)
            if b["runs"] == 0:
                scores = forward(ops, images)
            timings.append(
                {"images": b["images"], "msPerBatch": statistics.median(runs), "runsMs": [round(r, 3) for r in runs]}
            )
            if b["images"] > largest:
                largest = b["images"]
                predictions = scores.argmax(1).tolist()
    blas = "OpenBLAS" if "openblas" in torch.__config__.show().lower() else "unknown BLAS"
    detail = f"torch {torch.__version__} ({blas}), float32, {torch.get_num_threads()} threads"
    print(json.dumps({"detail": detail, "timings": timings, "predictions": predictions}))


if __name__ == "__main__":
    main()
