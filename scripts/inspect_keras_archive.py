#!/usr/bin/env python3
"""Lists a .keras archive as Keras 3's saving_lib sees it, read with h5py (the HDF5 C library), not with this
library's own reader: zip entries and their compression, metadata.json, the config's top-level keys and layer classes,
and every group of model.weights.h5 with its attributes and every dataset with shape, dtype and sum.

    python3 scripts/inspect_keras_archive.py model.keras      # Debian: apt-get install python3-h5py

Used to check that archives written by ModelFile.Save open in the HDF5 library Keras itself uses (h5py 3.7 /
HDF5 1.10.8 on Debian 12). Exits non-zero if an entry is missing or a dataset cannot be read."""
import io
import json
import sys
import zipfile

import h5py


def main(path):
    archive = zipfile.ZipFile(path)
    names = [i.filename for i in archive.infolist()]
    print("entries:", [(i.filename, "stored" if i.compress_type == 0 else f"compression {i.compress_type}") for i in archive.infolist()])
    for required in ("metadata.json", "config.json", "model.weights.h5"):
        if required not in names:
            sys.exit(f"{path}: no {required}")
    print("metadata:", json.loads(archive.read("metadata.json")))
    config = json.loads(archive.read("config.json"))
    layers = config.get("config", {}).get("layers", [])
    print("config:", config.get("class_name"), config.get("module"), sorted(config), [l.get("class_name") for l in layers])
    weights = h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r")

    def show(name, obj):
        attrs = {k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in obj.attrs.items()}
        if isinstance(obj, h5py.Dataset):
            value = obj[()]
            print(f"  {name} {obj.shape} {obj.dtype} {attrs} sum={float(value.sum()) if obj.size else 0.0:.6g}")
        else:
            print(f"{name} {attrs}")

    weights.visititems(show)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
