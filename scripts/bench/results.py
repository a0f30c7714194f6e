"""The one schema of measured results: docs/bench/results/<commit>_<machine>.json (docs/bench/results/README.md).

Standard library only: bench.py and scaling.py write with it (python3 on the GPU machine), the plot
scripts read with it (/usr/bin/python3 here).

    import results
    recs = [results.record("W1", 1_000_000, 4, 200, "kkmeans", "ms_per_epoch", 0.140, cmd, min=0.120)]
    results.write(recs, directory=results.DEFAULT_DIR)          # commit and machine found here
"""
import json
import os
import platform
import re
import subprocess
import time

SCHEMA = "kkmeans-bench-results/1"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_DIR = os.path.join(ROOT, "docs", "bench", "results")
# what makes two records "the same figure": a newer measurement of it replaces the older one in a file
KEY = ("workload", "shape", "tool", "variant", "metric", "scaling", "gpus")


def git_commit():
    """$KKMEANS_COMMIT where set (a copy of the tree whose .git may be stale or missing, as on the GPU
    machine), else the short hash of the checkout's HEAD, else "unknown"."""
    if os.environ.get("KKMEANS_COMMIT"):
        return os.environ["KKMEANS_COMMIT"]
    try:
        return subprocess.run(["git", "-C", ROOT, "rev-parse", "--short=7", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip() or "unknown"
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def gpu_names():
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                             text=True).stdout
        return [ln.strip() for ln in out.splitlines() if ln.strip()]
    except OSError:
        return []


def machine_id(gpus=None):
    """'h200', 'h100x4', … from nvidia-smi (the model of the first GPU, × count when several); else 'cpuN'."""
    gpus = gpu_names() if gpus is None else gpus
    if gpus:
        m = re.search(r"\b([A-Z]+\d+[A-Z]*)\b", gpus[0].replace("NVIDIA", ""))
        model = (m.group(1) if m else re.sub(r"\W+", "", gpus[0])).lower()
        return model + (f"x{len(gpus)}" if len(gpus) > 1 else "")
    return f"cpu{os.cpu_count()}"


def hardware(gpus=None):
    gpus = gpu_names() if gpus is None else gpus
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    parts = [f"{len(gpus)} × {gpus[0]}"] if gpus else []
    return ", ".join(parts + [f"{os.cpu_count()} CPU cores ({cpu})"])


def record(workload, n, d, k, tool, metric, value, command, dtype="float32", **extra):
    """One measured figure. extra: variant, min, max, iterations, inertia, samples, scaling, gpus, … (README.md)."""
    r = {"workload": workload, "shape": {"n": int(n), "d": int(d), "k": int(k), "dtype": dtype}, "tool": tool,
         "variant": extra.pop("variant", ""), "metric": metric, "value": value}
    r.update({key: v for key, v in extra.items() if v is not None})
    r["command"] = command
    return r


def _key(r):
    return tuple(json.dumps(r.get(f), sort_keys=True) for f in KEY)


def write(records, directory=DEFAULT_DIR, commit=None, machine=None, date=None, hardware_desc=None, software=None,
          notes=None):
    """Adds records to DIRECTORY/<commit>_<machine>.json (created if missing); a record with the key of
    one already there replaces it. Returns the path."""
    commit = commit or git_commit()
    machine = machine or machine_id()
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"{commit}_{machine}.json")
    doc = {"schema": SCHEMA, "commit": commit, "date": date or time.strftime("%Y-%m-%d"), "machine": machine,
           "hardware": hardware_desc or hardware(), "software": {}, "records": []}
    if os.path.exists(path):
        with open(path) as f:
            old = json.load(f)
        if old.get("schema") != SCHEMA:
            raise SystemExit(f"{path}: schema {old.get('schema')!r}, expected {SCHEMA!r}")
        doc.update({key: v for key, v in old.items() if key in doc})
        if date:
            doc["date"] = date
    doc["software"].update(software or {})
    if notes:
        doc["notes"] = notes
    kept = {_key(r): i for i, r in enumerate(doc["records"])}
    for r in records:  # a newer measurement of a figure takes the older one's place
        if _key(r) in kept:
            doc["records"][kept[_key(r)]] = r
        else:
            kept[_key(r)] = len(doc["records"])
            doc["records"].append(r)
    with open(path, "w") as f:
        f.write(_dump(doc))
    return path


def _dump(doc):
    """The file's header indented, then one record per line (short diffs, easy to grep)."""
    head = json.dumps({key: v for key, v in doc.items() if key != "records"}, indent=1, ensure_ascii=False)
    rows = ",\n".join("  " + json.dumps(r, ensure_ascii=False) for r in doc["records"])
    return head[:-2] + ',\n "records": [\n' + rows + "\n ]\n}\n"


def load(paths):
    """Records of the given files, each with the file's commit, date and machine added (keys '_commit', …)."""
    out = []
    for p in paths:
        with open(p) as f:
            doc = json.load(f)
        if doc.get("schema") != SCHEMA:
            raise SystemExit(f"{p}: not a {SCHEMA} file (docs/bench/results/README.md)")
        for r in doc["records"]:
            out.append(dict(r, _commit=doc["commit"], _date=doc["date"], _machine=doc["machine"],
                            _hardware=doc.get("hardware", "")))
    return out
