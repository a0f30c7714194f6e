#!/usr/bin/python3
"""Convert a CSV/text table or a NumPy .npy array to an HDF5 dataset kkmeans can read.

    /usr/bin/python3 scripts/to_hdf5.py data.csv data.h5:/points [--delimiter ,] [--skip-header 1] [--dtype float32]
    /usr/bin/python3 scripts/to_hdf5.py data.npy data.h5:/points

The array must be 2-D (rows × columns; a 1-D array becomes one column). Values are checked: NaN or
infinite entries are refused with their count and first position, as kkmeans would. Refuses to
overwrite an existing dataset unless --overwrite.
"""
import argparse
import os
import sys

import h5py
import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src")
    ap.add_argument("dst", help="FILE.h5:/DATASET")
    ap.add_argument("--delimiter", default=None, help="CSV delimiter (default: any white space, or ',' for .csv)")
    ap.add_argument("--skip-header", type=int, default=0)
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--chunk-rows", type=int, default=0, help="chunked dataset with this many rows per chunk")
    ap.add_argument("--overwrite", action="store_true")
    a = ap.parse_args()
    if ":/" not in a.dst:
        sys.exit(f"to_hdf5: expected FILE.h5:/DATASET, got '{a.dst}'")
    fname, dset = a.dst.rsplit(":/", 1)
    try:
        if a.src.endswith(".npy"):
            x = np.load(a.src, allow_pickle=False)
        else:
            delim = a.delimiter if a.delimiter is not None else ("," if a.src.endswith(".csv") else None)
            x = np.loadtxt(a.src, delimiter=delim, skiprows=a.skip_header, ndmin=2)
    except (OSError, ValueError) as e:
        sys.exit(f"to_hdf5: cannot read '{a.src}': {e}")
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        sys.exit(f"to_hdf5: '{a.src}' has shape {x.shape}; a non-empty rows × columns table is needed")
    if not np.issubdtype(x.dtype, np.number):
        sys.exit(f"to_hdf5: '{a.src}' is not numeric (dtype {x.dtype})")
    x = x.astype(a.dtype)
    bad = ~np.isfinite(x)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        sys.exit(f"to_hdf5: '{a.src}' has {int(bad.sum())} NaN or infinite value(s); the first at row {r}, column {c}")
    mode = "a" if os.path.exists(fname) else "w"
    with h5py.File(fname, mode) as f:
        if dset in f:
            if not a.overwrite:
                sys.exit(f"to_hdf5: '{a.dst}' exists (pass --overwrite to replace it)")
            del f[dset]
        chunks = (min(a.chunk_rows, x.shape[0]), x.shape[1]) if a.chunk_rows > 0 else None
        f.create_dataset(dset, data=x, chunks=chunks)
    print(f"wrote {x.shape[0]} × {x.shape[1]} {a.dtype} to {a.dst}")


if __name__ == "__main__":
    main()
