"""Dumps a ptychodus product file as JSON, read the way ptychodus reads it: h5py for .h5,
numpy.load (no pickles) for .npz. Every dataset, member and attribute becomes
{"dtype", "shape", "value"} (complex values as [re, im] pairs, strings with dtype "str" and
their storage in "storage"); HDF5 attributes are named "dataset@attribute", root ones "@name".
The Rust test (product_files.rs) checks the dump; this script only reads."""

import json
import sys

import numpy as np


def describe(value, storage=None):
    if isinstance(value, (str, bytes)):
        text = value.decode() if isinstance(value, bytes) else value
        return {"dtype": "str", "shape": [], "value": text, "storage": storage}
    array = np.asarray(value)
    if array.dtype.kind == "U":
        return {"dtype": "str", "shape": list(array.shape), "value": str(array),
                "storage": array.dtype.str}
    if np.iscomplexobj(array):
        data = np.stack([array.real, array.imag], axis=-1).tolist()
    else:
        data = array.tolist()
    return {"dtype": str(array.dtype), "shape": list(array.shape), "value": data}


def h5_string_storage(attrs, name):
    import h5py

    info = h5py.check_string_dtype(attrs.get_id(name).dtype)
    if info is None:
        return None
    return ("vlen " if info.length is None else f"fixed {info.length} ") + info.encoding


def main(path):
    out = {}
    if path.endswith(".npz"):
        with np.load(path, allow_pickle=False) as archive:
            for key in archive.files:
                out[key] = describe(archive[key])
    else:
        import h5py

        with h5py.File(path, "r") as f:
            for name, value in f.attrs.items():
                out["@" + name] = describe(value, h5_string_storage(f.attrs, name))
            for key, item in f.items():
                if not isinstance(item, h5py.Dataset):
                    out[key] = {"dtype": "group", "shape": [], "value": None}
                    continue
                out[key] = describe(item[()])
                for name, value in item.attrs.items():
                    out[key + "@" + name] = describe(value, h5_string_storage(item.attrs, name))
    out["versions"] = {"numpy": np.__version__}
    if not path.endswith(".npz"):
        import h5py

        out["versions"]["h5py"] = h5py.__version__
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
