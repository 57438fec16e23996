#!/usr/bin/env python3
"""PyTorch eager peer for bench/Functional.Bench: the same MLP and seed-000 CNN, the same real MNIST batches,
Adam(lr=1e-3), the same loss (nll of log of clipped softmax), train step and inference, batch 64 and 256.

Usage: python3 bench/pytorch_bench.py [--quick] [--threads N] [--device cpu|cuda] [--json out.json]
On Debian: apt-get install -y --no-install-recommends python3-torch, run with /usr/bin/python3.
"""
import argparse, gzip, json, os, statistics, struct, time
import torch
import torch.nn as nn
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("--quick", action="store_true")
p.add_argument("--threads", type=int, default=os.cpu_count())
p.add_argument("--device", default="cpu")
p.add_argument("--json")
a = p.parse_args()
torch.set_num_threads(a.threads)
dev = torch.device(a.device)
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

def idx(path):
    data = gzip.open(path).read()
    magic, = struct.unpack(">I", data[:4]); rank = magic & 0xff
    dims = struct.unpack(">" + "I" * rank, data[4:4 + 4 * rank])
    return torch.frombuffer(bytearray(data[4 + 4 * rank:]), dtype=torch.uint8).reshape(dims)

images = idx(os.path.join(root, "data/mnist/images-idx3-ubyte.gz")).float() / 255.0
labels = idx(os.path.join(root, "data/mnist/labels-idx1-ubyte.gz")).long()

def cnn():
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(1152, 10), nn.Softmax(1))

def mlp():
    return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10), nn.Softmax(1))

def loss_fn(p, t):
    return F.nll_loss(p.clamp(1e-7, 1 - 1e-7).log(), t)

def batch(n, flat):
    x = images[:n].reshape(n, 784) if flat else images[:n].reshape(n, 1, 28, 28)
    return x.to(dev), labels[:n].to(dev)

def sync():
    if dev.type == "cuda": torch.cuda.synchronize()

RING = 8

def train_step(make, n, flat):
    torch.manual_seed(1)
    net = make().to(dev); net.train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    # The same ring of 8 batches the .NET bench cycles through.
    x, y = batch(n * RING, flat)
    k = [0]
    def step():
        s = (k[0] % RING) * n; k[0] += 1
        opt.zero_grad(); l = loss_fn(net(x[s:s + n]), y[s:s + n]); l.backward(); opt.step(); l.item()
    return step

def infer_step(make, n, flat):
    net = make().to(dev); net.eval()
    x, _ = batch(n, flat)
    def step():
        with torch.no_grad(): net(x).sum().item()
    return step

rounds = 5 if a.quick else 15
results = []
for n in (64, 256):
    for name, make, flat, per in (("mlp", mlp, True, 30), ("cnn", cnn, False, 8 if n == 64 else 3)):
        for kind, factory in (("train", train_step), ("infer", infer_step)):
            step = factory(make, n, flat)
            for _ in range(3): step()
            k = max(2, per // 3) if a.quick else per * (2 if kind == "infer" else 1)
            times = []
            for _ in range(rounds):
                sync(); t = time.perf_counter()
                for _ in range(k): step()
                sync(); times.append((time.perf_counter() - t) * 1000 / k)
            r = dict(case=f"{name} {kind} b{n}", variant=f"pytorch {torch.__version__} {a.device}",
                     median_ms=statistics.median(times), min_ms=min(times), max_ms=max(times))
            results.append(r)
            print(f"| {r['case']} | {r['variant']} | {r['median_ms']:.3f} | {r['min_ms']:.3f} | {r['max_ms']:.3f} |", flush=True)
if a.json:
    json.dump(dict(threads=a.threads, torch=torch.__version__, results=results), open(a.json, "w"), indent=2)
