#!/usr/bin/python3
"""End-to-end tests of the kkmeans application: round trips and bad input.

    /usr/bin/python3 tests/app/test_app.py KKMEANS_BINARY [MPIEXEC]
    KKMEANS_APP_TESTS=name,name ... runs only those tests.
    KKMEANS_APP_SHARD=i/n runs the i-th of n shards of about equal time (ctest runs them side by side).

Each bad input must end with exactly one line on stderr naming the problem, the documented exit
status (2 usage, 1 data/runtime), no core dump, and no output file left behind.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

import h5py
import numpy as np

BIN = os.path.abspath(sys.argv[1])
MPIEXEC = sys.argv[2] if len(sys.argv) > 2 and not sys.argv[2].startswith("--") else shutil.which("mpirun")
ENV = dict(os.environ, OMP_PROC_BIND="false", OMP_NUM_THREADS="1", OMPI_ALLOW_RUN_AS_ROOT="1",
           OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMPI_MCA_rmaps_base_oversubscribe="1")
TESTS = []
# Seconds under AddressSanitizer (scripts/test.sh --sanitize, one thread) of the tests that take more
# than ten, for splitting the suite into shards of about equal time; the others count 5.
SECONDS = {"bad_inputs": 39, "preempted_fit_checkpoints_and_resumes": 60, "resume_refuses_another_run": 23,
           "data_beyond_the_arithmetic": 22, "checkpoint_kill_resume": 18, "outputs_never_replace_inputs": 16,
           "full_disk_fails_cleanly": 16, "stream_from_host_memory": 15, "numbers_beyond_the_arithmetic": 12,
           "device_memory_budget": 12, "map_rows_from_the_file": 12, "failure_on_one_rank_only": 11}
TABLE = []  # (command, exit status, message) of every bad input; see --table in main()


def test(fn):
    TESTS.append(fn)
    return fn


def run(args, np_=1, check=None):
    cmd = [BIN] + args
    if np_ > 1:
        cmd = [MPIEXEC, "-np", str(np_), "--oversubscribe"] + cmd
    p = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=300)
    if check is not None and p.returncode != check:
        raise AssertionError(f"{' '.join(cmd)}: exit {p.returncode}, expected {check}\n{p.stdout}\n{p.stderr}")
    return p


def gpu_build():
    """Whether the application runs on a GPU (its default execution space is CUDA's)."""
    return "default space: Cuda" in run(["info"], check=0).stdout


def blobs(path, n=2000, d=2, k=4, seed=0):
    run(["generate", "-o", f"{path}:/points", "--n", str(n), "--d", str(d), "--k", str(k), "--seed", str(seed),
         "--quiet"], check=0)


def expect_error(args, code, words, outputs=(), np_=1):
    p = run(args, np_=np_)
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    if np_ > 1:  # mpirun and Kokkos add their own lines; kkmeans must still say it once
        lines = [ln for ln in lines if "kkmeans" in ln]
    assert p.returncode == code, f"exit {p.returncode}, expected {code}: {p.stderr}"
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}: {p.stderr!r}"
    for w in words:
        assert w in lines[0], f"'{w}' not in: {lines[0]}"
    env = [f"{k}={v}" for k, v in ENV.items() if k.startswith("KKMEANS_TEST_")]
    TABLE.append((env, args, np_, code, lines[0]))
    for o in outputs:
        assert not os.path.exists(o), f"{o} was left behind"
    leftovers = [f for f in os.listdir(os.path.dirname(outputs[0]) or ".") if ".tmp-kkmeans" in f] if outputs else []
    assert not leftovers, f"temporary files left behind: {leftovers}"
    return lines[0]


@test
def help_and_version(d):
    assert "kkmeans" in run(["--version"], check=0).stdout
    for sub in ["fit", "predict", "generate", "info"]:
        assert "--help" in run([sub, "--help"], check=0).stdout or True


@test
def round_trip_np1_np4_predict(d):
    data = f"{d}/blobs.h5"
    blobs(data, n=5003, d=3, k=6, seed=1)
    run(["fit", "--input", f"{data}:/points", "--k", "6", "--seed", "2", "--output", f"{d}/m1.h5", "--report",
         f"{d}/r1.json", "--quiet"], check=0)
    run(["fit", "--input", f"{data}:/points", "--k", "6", "--seed", "2", "--output", f"{d}/m4.h5", "--quiet"],
        np_=4, check=0)
    with h5py.File(f"{d}/m1.h5") as a, h5py.File(f"{d}/m4.h5") as b:
        assert (a["labels"][:] == b["labels"][:]).all(), "labels differ between np = 1 and np = 4"
        assert (a["centroids"][:] == b["centroids"][:]).all(), "centroids differ between np = 1 and np = 4"
        assert a["centroids"].shape == (6, 3)
        assert a.attrs["ranks"] == 1 and b.attrs["ranks"] == 4
        assert len(a["history/inertia"]) == a.attrs["epochs"]
        labels = a["labels"][:]
    run(["predict", "--model", f"{d}/m1.h5", "--input", f"{data}:/points", "--output", f"{d}/p.h5", "--distances",
         "--quiet"], np_=3, check=0)
    with h5py.File(f"{d}/p.h5") as p:
        assert (p["labels"][:] == labels).all(), "predict labels differ from fit labels"
        assert p["distances"].shape == (5003,) and (p["distances"][:] >= 0).all()
    import json
    r = json.load(open(f"{d}/r1.json"))
    assert r["k_final"] == 6 and set(r["seconds"]) >= {"read", "init", "epochs", "write"}


@test
def first_rows_only(d):
    # --rows R fits the first R rows: the same model as a file holding only those rows, at np 1 and 3.
    data, head = f"{d}/all.h5", f"{d}/head.h5"
    blobs(data, n=3000, d=3, k=5, seed=4)
    with h5py.File(data) as f, h5py.File(head, "w") as g:
        g["points"] = f["points"][:1234]
    run(["fit", "--input", f"{head}:/points", "--k", "5", "--output", f"{d}/h.h5", "--quiet"], check=0)
    run(["fit", "--input", f"{data}:/points", "--rows", "1234", "--k", "5", "--output", f"{d}/r.h5", "--report",
         f"{d}/r.json", "--quiet"], np_=3, check=0)
    with h5py.File(f"{d}/h.h5") as a, h5py.File(f"{d}/r.h5") as b:
        assert b["labels"].shape == (1234,) and b.attrs["n_rows"] == 1234
        assert (a["labels"][:] == b["labels"][:]).all() and (a["centroids"][:] == b["centroids"][:]).all()
        assert "allreduce_seconds" in b["history"] and len(b["history/assign_seconds"]) == b.attrs["epochs"]
    import json
    for e in json.load(open(f"{d}/r.json"))["history"]:
        assert 0 <= e["assign_seconds"] <= e["seconds"] and 0 <= e["allreduce_seconds"] <= e["seconds"]


def slot_bytes(n, rows):
    """The assignment workspace's per-batch distance sums: one float64 per batch where the final
    assignment has several batches (fit epochs keep theirs behind the accumulator, copied with it)."""
    batches = -(-n // rows)
    return 8 * batches if batches > 1 else 0


@test
def memory_limits(d):
    # A slice larger than the free memory is refused before reading, naming the sizes and what to do;
    # --batch-size auto keeps the GEMM workspace within a quarter of the free memory it saw.
    data = f"{d}/m.h5"
    blobs(data, n=4000, d=8, k=5)
    out = f"{d}/o.h5"
    ENV["KKMEANS_TEST_FREE_MEMORY"] = "60000"  # 4000 (or 2000 per rank) × (8 × 4 + 4) bytes do not fit
    try:
        for np_ in (1, 2):
            expect_error(["fit", "--input", f"{data}:/points", "--k", "5", "--data-in", "device", "--output", out,
                          "--quiet"], 1,
                         ["4000" if np_ == 1 else "2000", "rows × 8 columns", "KiB free", "more ranks/GPUs", "--rows"],
                         outputs=[out], np_=np_)
    finally:
        del ENV["KKMEANS_TEST_FREE_MEMORY"]
    import json
    run(["fit", "--input", f"{data}:/points", "--k", "64", "--assign", "gemm", "--max-epochs", "2", "--report",
         f"{d}/r.json", "--quiet"], check=0)
    r = json.load(open(f"{d}/r.json"))
    m = r["memory"]
    assert r["assign_path"] == "gemm" and m["data_bytes"] == 4000 * 8 * 4
    rows = r["batch_size"] if r["batch_size"] > 0 else 4000
    # the batch × k product, ‖c‖² and μ (the epochs' inertia from the cluster sums), as allocated
    assert m["assign_workspace_bytes"] == (rows * 64 + 64 + 8) * 4 + slot_bytes(4000, rows)
    assert m["assign_workspace_bytes"] <= m["free_bytes_before_fit"] // 4
    # The checked GEMM path: the fused kernel's labels and centroids; its workspace as allocated: the
    # product, ‖c'‖², the shifted centroids, and all rows shifted once (with their norms) plus μ; the
    # list of rows the product leaves open (32 bytes per batch row: the row, 4 candidates, their
    # number, the threshold) and its count.
    # The fused checked path: the same, with each batch row's candidate list (36 bytes: five values,
    # four centroids) in place of its product, and the k × k squared gaps between the centroids.
    for path in ("fused", "gemm-checked", "fused-checked"):
        run(["fit", "--input", f"{data}:/points", "--k", "64", "--assign", path, "--max-epochs", "3", "--seed", "4",
             "--report", f"{d}/{path}.json", "--output", f"{d}/{path}.h5", "--quiet"], check=0)
    for path, product, gaps in (("gemm-checked", 64 * 4, 0), ("fused-checked", 36, 64 * 64 * 4)):
        with h5py.File(f"{d}/fused.h5") as a, h5py.File(f"{d}/{path}.h5") as b:
            assert (a["labels"][:] == b["labels"][:]).all() and (a["centroids"][:] == b["centroids"][:]).all()
        r = json.load(open(f"{d}/{path}.json"))
        rows = r["batch_size"] if r["batch_size"] > 0 else 4000
        assert r["assign_path"] == path
        assert r["memory"]["assign_workspace_bytes"] == ((64 + 64 * 8 + 4000 * 8 + 4000 + 8) * 4 + rows * product +
                                                         slot_bytes(4000, rows) + rows * 32 + 16 + gaps)


@test
def device_memory_budget(d):
    # --device-memory: the most the fit may use on a rank's device (rows, labels, work buffers).
    data = f"{d}/m.h5"
    blobs(data, n=4000, d=8, k=5)
    out = f"{d}/o.h5"
    base = ["fit", "--input", f"{data}:/points", "--k", "64", "--assign", "gemm-checked", "--seed", "4",
            "--max-epochs", "5", "--quiet"]
    # Too small for the rows, labels and the least work buffers (checked GEMM, 1024-row batches:
    # 471.63 KiB for 4000 rows, 401.32 KiB for each of two ranks' 2000): refused before reading.
    for np_, least in ((1, "471.63 KiB"), (2, "401.32 KiB")):
        expect_error(base + ["--device-memory", "300K", "--output", out], 1,
                     ["rows × 8 columns", "--device-memory 300.00 KiB", f"allow at least {least}", "--rows"],
                     outputs=[out], np_=np_)
    # The initialisation's per-row buffers count too: k-means++ (this machine's default) keeps each
    # row's weight and its distance to 6 trials (32 bytes a row) beside the rows; random rows nothing.
    fused = ["fit", "--input", f"{data}:/points", "--k", "64", "--assign", "fused", "--quiet"]
    expect_error(fused + ["--device-memory", "200K", "--output", out], 1,
                 ["--device-memory 200.00 KiB", "allow at least 265.62 KiB"], outputs=[out])
    run(fused + ["--device-memory", "200K", "--init", "random", "--max-epochs", "2"], check=0)
    for bad in ("12Q", "-5M", "0", "G", "1e400"):
        expect_error(base + ["--device-memory", bad], 2, ["device memory must be a number of bytes", f"'{bad}'"])
    # A batch size the budget cannot hold: refused by the library, a smaller batch named as the remedy.
    expect_error(base + ["--device-memory", "600K", "--batch-size", "4000", "--output", out], 1,
                 ["budget of 600.00 KiB leaves 459.38 KiB", "4000-row batches needs", "choose a smaller batch size"],
                 outputs=[out])
    # Budgets the fit fits into: smaller batches, the same labels and centroids as without a budget (the
    # checked path's labels are exact); rows, labels and workspace within the budget. From a deck too.
    run(base + ["--output", f"{d}/free.h5"], check=0)
    for budget in ("600K", "1.5MiB"):
        deck = f"{d}/budget.toml"
        open(deck, "w").write(f'device_memory = "{budget}"\n')
        run([base[0], deck] + base[1:] + ["--output", f"{d}/b.h5", "--report", f"{d}/b.json", "--overwrite"], check=0)
        r = json.load(open(f"{d}/b.json"))
        m = r["memory"]
        assert 0 < r["batch_size"] < 4000 and m["device_memory_budget"] == {"600K": 614400, "1.5MiB": 1572864}[budget]
        assert m["data_bytes"] + 4000 * 4 + m["assign_workspace_bytes"] <= m["device_memory_budget"]
        with h5py.File(f"{d}/free.h5") as a, h5py.File(f"{d}/b.h5") as b:
            assert (a["labels"][:] == b["labels"][:]).all() and (a["centroids"][:] == b["centroids"][:]).all()


@test
def stream_from_host_memory(d):
    # --data-in host: the rows stay in host memory and every Lloyd epoch streams them to the device in
    # chunks that --device-memory bounds. The labels and centroids are those of the rows on the device,
    # on 1 and 3 ranks, with the default initialisation and with chunks of a few hundred rows.
    data = f"{d}/s.h5"
    blobs(data, n=6000, d=8, k=5)
    base = ["fit", "--input", f"{data}:/points", "--k", "7", "--seed", "3", "--quiet"]
    run(base + ["--output", f"{d}/device.h5", "--data-in", "device"], check=0)
    run(base + ["--output", f"{d}/random.h5", "--init", "random"], check=0)
    # (GPU builds' default init, k-means‖, keeps 24 bytes a row on the device beside the chunks)
    budget = "260K" if gpu_build() else "200K"
    for name, extra, np_ in (("host", ["--device-memory", budget], 1), ("host3", ["--device-memory", "100K"], 3),
                             ("chunks", ["--device-memory", "48K", "--init", "random"], 1)):
        run(base + extra + ["--data-in", "host", "--output", f"{d}/{name}.h5", "--report", f"{d}/{name}.json"],
            np_=np_, check=0)
        same = f"{d}/random.h5" if name == "chunks" else f"{d}/device.h5"
        with h5py.File(same) as a, h5py.File(f"{d}/{name}.h5") as b:
            assert (a["labels"][:] == b["labels"][:]).all() and (a["centroids"][:] == b["centroids"][:]).all(), name
        m = json.load(open(f"{d}/{name}.json"))["memory"]
        rows = 6000 // np_
        assert m["data_in"] == "host" and m["bytes_streamed_per_epoch"] == rows * 8 * 4, m
        assert 0 < m["stream_chunk_rows"] < rows, m
    assert json.load(open(f"{d}/chunks.json"))["memory"]["stream_chunk_rows"] * 10 < 6000
    # predict --data-in host: the labels and distances of predict from the device.
    for where in ("device", "host"):
        run(["predict", "--model", f"{d}/device.h5", "--input", f"{data}:/points", "--output", f"{d}/p-{where}.h5",
             "--distances", "--data-in", where, "--quiet"], check=0)
    with h5py.File(f"{d}/p-device.h5") as a, h5py.File(f"{d}/p-host.h5") as b, h5py.File(f"{d}/device.h5") as m:
        assert (a["labels"][:] == b["labels"][:]).all() and (a["distances"][:] == b["distances"][:]).all()
        assert (a["labels"][:] == m["labels"][:]).all()
    # Progress lines and the summary say the rows were streamed, and how fast.
    p = run([a for a in base if a != "--quiet"] + ["--data-in", "host", "--max-epochs", "2"], check=0)
    assert re.search(r"epoch +1 .* GB/s streamed", p.stderr), p.stderr
    assert "rows streamed from host memory: 187.50 KiB per epoch" in p.stdout, p.stdout
    # Checkpoints of a streamed fit: killed after epoch 2's, resumed streamed on 2 ranks, it ends as the
    # device fit did.
    ck, ckargs = f"{d}/ck.h5", ["--checkpoint", f"{d}/ck.h5", "--checkpoint-every", "2", "--data-in", "host"]
    p = subprocess.run([BIN] + base + ckargs + ["--output", f"{d}/killed.h5"],
                       env=dict(ENV, KKMEANS_TEST_KILL_AFTER_CHECKPOINT="2"), capture_output=True)
    assert p.returncode == -9 and not os.path.exists(f"{d}/killed.h5"), p.returncode
    run(base + ckargs + ["--resume", "--output", f"{d}/resumed.h5"], np_=2, check=0)
    with h5py.File(f"{d}/device.h5") as a, h5py.File(f"{d}/resumed.h5") as b:
        assert (a["labels"][:] == b["labels"][:]).all() and (a["centroids"][:] == b["centroids"][:]).all()
        assert b.attrs["resumed_from_epoch"] == 2
    # From a deck; the device's memory holds the labels and two chunks, not the rows.
    deck = f"{d}/host.toml"
    open(deck, "w").write('data_in = "host"\nhost_memory = "1M"\n')
    run(["fit", deck] + base[1:] + ["--report", f"{d}/deck.json"], check=0)
    assert json.load(open(f"{d}/deck.json"))["memory"]["data_in"] == "host"
    # Budgets that cannot hold the stream, or the rows in host memory: refused before reading.
    out = f"{d}/o.h5"
    expect_error(base + ["--data-in", "host", "--device-memory", "30K", "--init", "random", "--output", out], 1,
                 ["6000 rows × 8 columns", "two chunk buffers", "--device-memory 30.00 KiB", "allow at least"],
                 outputs=[out])
    expect_error(base + ["--data-in", "host", "--host-memory", "100K", "--output", out], 1,
                 ["187.50 KiB of host memory", "--host-memory allows 100.00 KiB", "--rows"], outputs=[out])
    expect_error(base + ["--data-in", "nowhere"], 2, ["data-in setting", "'nowhere'", "device", "host"])
    expect_error(base + ["--data-in", "host", "--host-memory", "12Q"], 2, ["host memory must be a number of bytes"])


@test
def map_rows_from_the_file(d):
    # --data-in file: the rows are mapped from their file instead of read (CPU builds: read in place;
    # GPU builds: streamed from the mapping, within --device-memory); the labels and centroids are
    # those of the rows read into memory, on 1 and 3 ranks, resumed from a checkpoint, and from
    # predict; auto maps rows that fit neither the device nor (GPU builds) host memory. A file that
    # changes under the fit stops it with one line.
    data = f"{d}/m.h5"
    blobs(data, n=6000, d=8, k=5)
    base = ["fit", "--input", f"{data}:/points", "--k", "7", "--seed", "3", "--quiet"]
    out = f"{d}/o.h5"
    gpu = gpu_build()
    run(base + ["--data-in", "file", "--output", f"{d}/f.h5", "--report", f"{d}/f.json"], check=0)
    run(base + ["--output", f"{d}/device.h5", "--data-in", "device"], check=0)
    run(base + ["--data-in", "file", "--output", f"{d}/f3.h5"], np_=3, check=0)
    auto = subprocess.run([BIN] + base + ["--output", f"{d}/auto.h5", "--report", f"{d}/auto.json"],
                          env=dict(ENV, KKMEANS_TEST_FREE_MEMORY="150000", KKMEANS_TEST_FREE_HOST_MEMORY="150000"),
                          capture_output=True, text=True)
    assert auto.returncode == 0, auto.stderr
    ck, ckargs = f"{d}/ck.h5", ["--checkpoint", f"{d}/ck.h5", "--checkpoint-every", "2", "--data-in", "file"]
    p = subprocess.run([BIN] + base + ckargs + ["--output", f"{d}/killed.h5"],
                       env=dict(ENV, KKMEANS_TEST_KILL_AFTER_CHECKPOINT="2"), capture_output=True)
    assert p.returncode == -9 and not os.path.exists(f"{d}/killed.h5"), p.returncode
    run(base + ckargs + ["--resume", "--output", f"{d}/resumed.h5"], np_=2, check=0)
    for name in ("f", "f3", "auto", "resumed"):
        with h5py.File(f"{d}/device.h5") as a, h5py.File(f"{d}/{name}.h5") as b:
            assert (a["labels"][:] == b["labels"][:]).all() and (a["centroids"][:] == b["centroids"][:]).all(), name
    for name in ("f", "auto"):
        assert json.load(open(f"{d}/{name}.json"))["memory"]["data_in"] == "file", name
    for where in ("device", "file"):
        run(["predict", "--model", f"{d}/device.h5", "--input", f"{data}:/points", "--output", f"{d}/p-{where}.h5",
             "--distances", "--data-in", where, "--quiet"], check=0)
    with h5py.File(f"{d}/p-device.h5") as a, h5py.File(f"{d}/p-file.h5") as b:
        assert (a["labels"][:] == b["labels"][:]).all() and (a["distances"][:] == b["distances"][:]).all()
    if gpu:  # streamed from the mapping: two chunks within --device-memory
        run(base + ["--data-in", "file", "--device-memory", "260K", "--output", f"{d}/f-budget.h5", "--report",
                    f"{d}/fb.json"], check=0)
        with h5py.File(f"{d}/device.h5") as a, h5py.File(f"{d}/f-budget.h5") as b:
            assert (a["labels"][:] == b["labels"][:]).all() and (a["centroids"][:] == b["centroids"][:]).all()
        assert 0 < json.load(open(f"{d}/fb.json"))["memory"]["stream_chunk_rows"] < 6000
    # A file that grows under the fit (once its epochs have begun): stopped at the next epoch, nothing
    # written.
    long_fit = [BIN] + [a for a in base if a != "--quiet"] + ["--data-in", "file", "--tol", "0",
                                                              "--no-stop-on-no-change", "--max-epochs", "100000000",
                                                              "--output", out]
    p = subprocess.Popen(long_fit, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for line in p.stderr:
        if "epoch" in line:
            break
    with open(data, "ab") as f:
        f.write(b"\0" * 64)
    err = p.communicate(timeout=300)[1]
    errors = [ln for ln in err.splitlines() if "error" in ln]
    assert p.returncode == 1 and len(errors) == 1 and "changed during the fit" in errors[0], err[-2000:]
    assert not os.path.exists(out)


@test
def read_unmappable_rows_from_the_file(d):
    # --data-in file where the dataset cannot be mapped (chunked and compressed; float64 for a
    # float32 fit; on CPU builds, rows held to --device-memory): read a block at a time and streamed,
    # with the labels, centroids and distances of the rows read into memory, on 1 and 3 ranks, resumed
    # from a checkpoint, and from predict; k-means++, the median update, the farthest policy and the
    # mini-batch modes too. A corrupt chunk, or a file that changes under the fit,
    # stops it with one line and no output.
    blobs(f"{d}/m.h5", n=6000, d=8, k=5)
    with h5py.File(f"{d}/m.h5") as src:
        x = src["points"][:]
    with h5py.File(f"{d}/z.h5", "w") as f:
        f.create_dataset("points", data=x, chunks=(128, 8), compression="gzip", shuffle=True)
    with h5py.File(f"{d}/f64.h5", "w") as f:
        f.create_dataset("points", data=x.astype(np.float64))
    base = ["--k", "7", "--seed", "3", "--init", "kmeans||", "--quiet"]  # (auto's choice where rows are read)
    run(["fit", "--input", f"{d}/m.h5:/points", "--data-in", "device", "--output", f"{d}/device.h5"] + base, check=0)
    fit_z = ["fit", "--input", f"{d}/z.h5:/points", "--data-in", "file"] + base
    run(fit_z + ["--output", f"{d}/z1.h5", "--report", f"{d}/z1.json"], check=0)
    run(fit_z + ["--output", f"{d}/z3.h5"], np_=3, check=0)
    run(fit_z + ["--device-memory", "260K", "--output", f"{d}/zb.h5", "--report", f"{d}/zb.json"], check=0)
    run(["fit", "--input", f"{d}/f64.h5:/points", "--data-in", "file", "--output", f"{d}/f64.h5.out"] + base, check=0)
    ckargs = ["--checkpoint", f"{d}/ck.h5", "--checkpoint-every", "2"]
    p = subprocess.run([BIN] + fit_z + ckargs + ["--output", f"{d}/killed.h5"],
                       env=dict(ENV, KKMEANS_TEST_KILL_AFTER_CHECKPOINT="2"), capture_output=True)
    assert p.returncode == -9 and not os.path.exists(f"{d}/killed.h5"), p.returncode
    run(fit_z + ckargs + ["--resume", "--output", f"{d}/resumed.h5"], np_=2, check=0)
    for name in ("z1", "z3", "zb", "f64.h5.out", "resumed"):
        name = name if name.endswith(".out") else name + ".h5"
        with h5py.File(f"{d}/device.h5") as a, h5py.File(f"{d}/{name}") as b:
            assert (a["labels"][:] == b["labels"][:]).all() and (a["centroids"][:] == b["centroids"][:]).all(), name
    for name in ("z1", "zb"):
        assert json.load(open(f"{d}/{name}.json"))["memory"]["data_in"] == "file", name
    assert 0 < json.load(open(f"{d}/zb.json"))["memory"]["stream_chunk_rows"] < 6000
    # What reads rows one at a time or in several passes streams them from the file too: k-means++,
    # the median update, the farthest policy and the mini-batch modes (on one rank: their batches
    # depend on the split). The farthest policy's data repeats 60 rows, so that random draws repeat a
    # row and leave its twin centroid empty.
    for name, rows in (("m", x), ("dup", np.repeat(x[:60], 100, axis=0))):
        with h5py.File(f"{d}/{name}-c.h5", "w") as f:
            f.create_dataset("points", data=rows)
        with h5py.File(f"{d}/{name}-z.h5", "w") as f:
            f.create_dataset("points", data=rows, chunks=(128, 8), compression="gzip")
    kpar = ["--k", "7", "--init", "kmeans||"]
    features = {"kmpp": ("m", ["--k", "7", "--init", "kmeans++"], 2),
                "median": ("m", kpar + ["--metric", "manhattan"], 2),
                "farthest": ("dup", ["--k", "12", "--init", "random", "--empty", "farthest"], 2),
                "minibatch": ("m", kpar + ["--mode", "minibatch", "--batch-size", "1000"], 1)}
    for name, (data, extra, ranks) in features.items():
        for suffix, where in (("c", "device"), ("z", "file")):
            run(["fit", "--input", f"{d}/{data}-{suffix}.h5:/points", "--seed", "3", "--max-epochs", "6", "--quiet",
                 "--data-in", where, "--output", f"{d}/{name}-{where}.h5", "--report", f"{d}/{name}-{where}.json"]
                + extra, np_=1 if where == "device" else ranks, check=0)
        with h5py.File(f"{d}/{name}-device.h5") as a, h5py.File(f"{d}/{name}-file.h5") as b:
            assert (a["labels"][:] == b["labels"][:]).all() and (a["centroids"][:] == b["centroids"][:]).all(), name
    assert sum(e["relocated"] for e in json.load(open(f"{d}/farthest-file.json"))["history"]) > 0
    for src, where in ((f"{d}/m.h5", "device"), (f"{d}/z.h5", "file")):
        run(["predict", "--model", f"{d}/device.h5", "--input", f"{src}:/points", "--output", f"{d}/p-{where}.h5",
             "--distances", "--data-in", where, "--quiet"], check=0)
    with h5py.File(f"{d}/p-device.h5") as a, h5py.File(f"{d}/p-file.h5") as b:
        assert (a["labels"][:] == b["labels"][:]).all() and (a["distances"][:] == b["distances"][:]).all()
    # A chunk whose compressed bytes are overwritten: the read that meets it stops the fit.
    with h5py.File(f"{d}/z.h5") as f:
        info = f["points"].id.get_chunk_info(20)
    with open(f"{d}/z.h5", "r+b") as f:
        f.seek(info.byte_offset + 8)
        f.write(b"\xff" * max(1, info.size - 16))
    out = f"{d}/o.h5"
    expect_error(fit_z + ["--output", out], 1, ["z.h5:/points", "corrupt"], outputs=[out])
    expect_error(["predict", "--model", f"{d}/device.h5", "--input", f"{d}/z.h5:/points", "--output", out,
                  "--data-in", "file", "--quiet"], 1, ["z.h5:/points", "corrupt"], outputs=[out])
    # A file that grows under the fit (once its epochs have begun): stopped at the next epoch.
    with h5py.File(f"{d}/z.h5", "w") as f:
        f.create_dataset("points", data=x, chunks=(128, 8), compression="gzip")
    long_fit = [BIN] + [a for a in fit_z if a != "--quiet"] + ["--tol", "0", "--no-stop-on-no-change",
                                                               "--max-epochs", "100000000", "--output", out]
    p = subprocess.Popen(long_fit, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for line in p.stderr:
        if "epoch" in line:
            break
    with open(f"{d}/z.h5", "ab") as f:
        f.write(b"\0" * 64)
    err = p.communicate(timeout=300)[1]
    errors = [ln for ln in err.splitlines() if "error" in ln]
    assert p.returncode == 1 and len(errors) == 1 and "changed during the fit" in errors[0], err[-2000:]
    assert not os.path.exists(out)


@test
def deck_and_override(d):
    data = f"{d}/blobs.h5"
    blobs(data, n=1000, k=3)
    deck = f"{d}/deck.toml"
    open(deck, "w").write(f'input = "{data}:/points"\nk = 5\nseed = 3\noutput = "{d}/deck.h5"\nquiet = true\n')
    run(["fit", deck, "--k", "3"], check=0)
    with h5py.File(f"{d}/deck.h5") as m:
        assert m["centroids"].shape[0] == 3, "the flag must override the deck"


@test
def pipeline_setting_changes_nothing(d):
    import json
    data = f"{d}/blobs.h5"
    blobs(data, n=4000, d=3, k=8, seed=7)
    for pl in ["on", "off"]:
        run(["fit", "--input", f"{data}:/points", "--k", "8", "--seed", "3", "--pipeline", pl, "--tol", "0",
             "--max-epochs", "15", "--no-stop-on-no-change", "--output", f"{d}/{pl}.h5", "--report", f"{d}/{pl}.json",
             "--quiet"], check=0)
    with h5py.File(f"{d}/on.h5") as a, h5py.File(f"{d}/off.h5") as b:
        for n in ["centroids", "labels", "history/inertia", "history/changed", "history/shift"]:
            assert np.array_equal(a[n][:], b[n][:]), f"{n} differs between --pipeline on and off"
    on, off = json.load(open(f"{d}/on.json")), json.load(open(f"{d}/off.json"))
    assert on["epochs"] == off["epochs"] >= 3
    # every epoch but the first was queued while the host checked the one before
    assert on["pipeline"] == {"setting": "on", "epochs_overlapped": on["epochs"] - 1, "epochs_rerun": 0}, on["pipeline"]
    assert off["pipeline"] == {"setting": "off", "epochs_overlapped": 0, "epochs_rerun": 0}, off["pipeline"]
    out = f"{d}/never.h5"
    expect_error(["fit", "--input", f"{data}:/points", "--k", "8", "--pipeline", "maybe", "--output", out], 2,
                 ["--pipeline", "maybe"], outputs=[out])
    deck = f"{d}/pipeline.toml"
    open(deck, "w").write(f'input = "{data}:/points"\nk = 8\npipeline = "sometimes"\noutput = "{out}"\n')
    expect_error(["fit", deck, "--quiet"], 2, ["pipeline", "sometimes", "auto, on, off"], outputs=[out])


@test
def integer_chunked_input_and_float64(d):
    path = f"{d}/ints.h5"
    x = np.random.default_rng(0).integers(-50, 50, size=(999, 3)).astype(np.int16)
    with h5py.File(path, "w") as f:
        f.create_dataset("g/x", data=x, chunks=(7, 2))
    run(["fit", "--input", f"{path}:/g/x", "--k", "4", "--precision", "double", "--output", f"{d}/i.h5",
         "--quiet"], check=0)
    run(["fit", "--input", f"{path}:/g/x", "--k", "4", "--output", f"{d}/i4.h5", "--quiet"], np_=2, check=0)
    with h5py.File(f"{d}/i.h5") as a, h5py.File(f"{d}/i4.h5") as b:
        assert a["centroids"].dtype == np.float64 and b["centroids"].dtype == np.float32
        assert (a["labels"][:] == b["labels"][:]).all()


@test
def sixteen_bit_rows(d):
    # --precision half / bfloat16: 16-bit rows, read as stored from a float16 dataset or rounded to
    # nearest (ties to even, as numpy rounds) from any other type; the fit equals the float fit of the
    # same 16-bit values widened, bit for bit, on 1 and 3 ranks, and predict gives its labels; a float16
    # dataset read as float gives those widened values. A value beyond float16's range stops the read
    # with one line.
    path = f"{d}/h.h5"
    x = np.random.default_rng(5).normal(0, 3, size=(3001, 6)).astype(np.float32) + np.arange(6, dtype=np.float32)
    u = x.view(np.uint32)
    bf = ((u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000).astype(np.uint32).view(np.float32)
    with h5py.File(path, "w") as f:
        f["f32"], f["f16"], f["wide16"], f["widebf"] = x, x.astype(np.float16), x.astype(np.float16).astype(np.float32), bf
        f["big"] = np.vstack([x[:10], [[7e4] * 6]])
    base = ["fit", "--k", "5", "--seed", "4", "--quiet"]
    runs = {"half": ("f32", "half", 1), "stored": ("f16", "half", 1), "ranks3": ("f16", "half", 3),
            "float": ("wide16", "float", 1), "bf": ("f32", "bfloat16", 1), "bfwide": ("widebf", "float", 1),
            "f16_as_float": ("f16", "float", 1)}
    for name, (ds, precision, ranks) in runs.items():
        run(base + ["--input", f"{path}:/{ds}", "--precision", precision, "--output", f"{d}/{name}.h5", "--report",
                    f"{d}/{name}.json"], np_=ranks, check=0)
    for a, b in [("half", "float"), ("stored", "float"), ("ranks3", "float"), ("bf", "bfwide"), ("f16_as_float", "float")]:
        with h5py.File(f"{d}/{a}.h5") as fa, h5py.File(f"{d}/{b}.h5") as fb:
            assert fa["centroids"].dtype == np.float32, a
            assert (fa["labels"][:] == fb["labels"][:]).all() and (fa["centroids"][:] == fb["centroids"][:]).all(), a
            assert a == "ranks3" or fa.attrs["inertia"] == fb.attrs["inertia"], a  # (a sum over ranks: last bits)
    r = json.load(open(f"{d}/half.json"))
    assert r["precision"] == "half" and r["memory"]["data_bytes"] == 3001 * 6 * 2, r
    run(["predict", "--model", f"{d}/stored.h5", "--input", f"{path}:/f16", "--precision", "half", "--output",
         f"{d}/p.h5", "--quiet"], np_=2, check=0)
    with h5py.File(f"{d}/p.h5") as fp, h5py.File(f"{d}/stored.h5") as fs:
        assert (fp["labels"][:] == fs["labels"][:]).all()
    assert "float16" in run(["info", f"{path}:/f16"], check=0).stdout
    out = f"{d}/big_out.h5"
    expect_error(base + ["--input", f"{path}:/big", "--precision", "half", "--output", out], 1,
                 ["7", "row 10", "float16's range", "--precision float"], outputs=[out])


@test
def single_row_and_identical_rows(d):
    path = f"{d}/one.h5"
    with h5py.File(path, "w") as f:
        f["x"] = np.array([[1.0, 2.0]], dtype=np.float32)
        f["same"] = np.full((40, 2), 3.0, dtype=np.float32)
    run(["fit", "--input", f"{path}:/x", "--k", "1", "--output", f"{d}/o1.h5", "--quiet"], check=0)
    run(["fit", "--input", f"{path}:/same", "--k", "3", "--output", f"{d}/o2.h5", "--quiet"], check=0)
    with h5py.File(f"{d}/o2.h5") as m:
        assert m.attrs["k_final"] == 1 and m.attrs["k_requested"] == 3
    # --empty keep: the two centroids that get no rows stay, k stays 3.
    run(["fit", "--input", f"{path}:/same", "--k", "3", "--empty", "keep", "--output", f"{d}/o3.h5", "--quiet"],
        check=0)
    with h5py.File(f"{d}/o3.h5") as m:
        assert m.attrs["k_final"] == 3 and m["centroids"].shape == (3, 2), dict(m.attrs)
        assert m["history/empty"][0] == 2


@test
def sample_weights(d):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(400, 2)).astype(np.float32)
    w = rng.integers(0, 4, size=400).astype(np.float64)
    dup = np.repeat(x, w.astype(int), axis=0)
    with h5py.File(f"{d}/w.h5", "w") as f:
        f["x"] = x
        f["w"] = w
        f["w2d"] = w[:, None]
        f["dup"] = dup
        f["init"] = x[:3]
        f["short"] = w[:10]
        f["neg"] = np.where(np.arange(400) == 9, -2.0, w)
    common = ["--k", "3", "--init-from", f"{d}/w.h5:/init", "--quiet"]
    run(["fit", "--input", f"{d}/w.h5:/x", "--weights", f"{d}/w.h5:/w", "--output", f"{d}/a.h5"] + common, np_=2,
        check=0)
    run(["fit", "--input", f"{d}/w.h5:/x", "--weights", f"{d}/w.h5:/w2d", "--output", f"{d}/a2.h5"] + common, check=0)
    run(["fit", "--input", f"{d}/w.h5:/dup", "--output", f"{d}/b.h5"] + common, check=0)
    with h5py.File(f"{d}/a.h5") as a, h5py.File(f"{d}/a2.h5") as a2, h5py.File(f"{d}/b.h5") as b:
        assert (a["centroids"][:] == b["centroids"][:]).all(), "weights must equal repeated rows"
        assert (a["centroids"][:] == a2["centroids"][:]).all()
        assert abs(a.attrs["inertia"] - b.attrs["inertia"]) <= 1e-9 * b.attrs["inertia"]
    out = f"{d}/bad.h5"
    expect_error(["fit", "--input", f"{d}/w.h5:/x", "--weights", f"{d}/w.h5:/neg", "--output", out] + common, 1,
                 ["negative", "row 9"], outputs=[out])
    expect_error(["fit", "--input", f"{d}/w.h5:/x", "--weights", f"{d}/w.h5:/short", "--output", out] + common, 1,
                 ["one weight per row"], outputs=[out])
    expect_error(["fit", "--input", f"{d}/w.h5:/x", "--weights", f"{d}/w.h5:/nope", "--output", out] + common, 1,
                 ["no dataset"], outputs=[out])


@test
def checkpoint_kill_resume(d):
    data = f"{d}/blob.h5"
    # One wide blob fitted with k = 30: Lloyd creeps for many epochs, so there is a middle to kill.
    run(["generate", "-o", f"{data}:/points", "--n", "30000", "--d", "3", "--k", "1", "--seed", "4", "--quiet"],
        check=0)
    args = ["fit", "--input", f"{data}:/points", "--k", "30", "--seed", "1", "--tol", "0", "--max-epochs", "40",
            "--quiet"]
    run(args + ["--output", f"{d}/full.h5"], check=0)
    with h5py.File(f"{d}/full.h5") as f:
        full_c, full_l, full_epochs = f["centroids"][:], f["labels"][:], int(f.attrs["epochs"])
    assert full_epochs > 12, f"the reference run stopped after {full_epochs} epochs: too few to test resume"

    def same(path, what):
        with h5py.File(path) as f:
            assert (f["centroids"][:] == full_c).all(), f"{what}: centroids differ from the uninterrupted run"
            assert (f["labels"][:] == full_l).all(), f"{what}: labels differ from the uninterrupted run"
            assert int(f.attrs["epochs"]) == full_epochs, what
            return int(f.attrs["resumed_from_epoch"])

    ck = f"{d}/ck.h5"
    ckargs = ["--checkpoint", ck, "--checkpoint-every", "3"]
    # 1. killed (SIGKILL) right after the checkpoint of epoch 6: no output, checkpoint at epoch 6
    env = dict(ENV, KKMEANS_TEST_KILL_AFTER_CHECKPOINT="6")
    p = subprocess.run([BIN] + args + ckargs + ["--output", f"{d}/out.h5"], env=env, capture_output=True)
    assert p.returncode == -9, f"expected SIGKILL, got {p.returncode}"
    assert not os.path.exists(f"{d}/out.h5")
    with h5py.File(ck) as f:
        assert f.attrs["checkpoint_epoch"] == 6
    # resumed on 3 ranks: the same centroids and labels as the uninterrupted one-rank run
    run(args + ckargs + ["--resume", "--output", f"{d}/out.h5"], np_=3, check=0)
    assert same(f"{d}/out.h5", "resume after kill") == 6
    # 2. killed while writing the checkpoint of epoch 9: the epoch-6 checkpoint stays whole
    os.remove(ck)
    env = dict(ENV, KKMEANS_TEST_KILL_IN_CHECKPOINT="9")
    p = subprocess.run([BIN] + args + ckargs + ["--output", f"{d}/out2.h5"], env=env, capture_output=True)
    assert p.returncode == -9, f"expected SIGKILL, got {p.returncode}"
    with h5py.File(ck) as f:
        assert f.attrs["checkpoint_epoch"] == 6, "a half-written checkpoint replaced the previous one"
    assert any(".tmp-kkmeans" in n for n in os.listdir(d)), "the test hook did not stop inside the write"
    run(args + ckargs + ["--resume", "--output", f"{d}/out2.h5"], check=0)
    assert same(f"{d}/out2.h5", "resume after a kill inside a checkpoint write") == 6
    assert not any(".tmp-kkmeans" in n for n in os.listdir(d)), "stale temporary files were not removed"
    # 3. a real kill -9 from outside, at whatever epoch it lands
    os.remove(ck)
    proc = subprocess.Popen([BIN] + args + ["--checkpoint", ck, "--checkpoint-every", "1", "--output",
                                            f"{d}/out3.h5"], env=ENV)
    t0 = time.time()
    while not os.path.exists(ck) and proc.poll() is None and time.time() - t0 < 60:
        time.sleep(0.001)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    if os.path.exists(ck):
        run(args + ["--checkpoint", ck, "--checkpoint-every", "1", "--resume", "--output", f"{d}/out3.h5",
                    "--overwrite"], np_=2, check=0)
        same(f"{d}/out3.h5", "resume after kill -9")
    # 4. resume refuses a checkpoint of other data or another k, and a missing one
    other = f"{d}/other.h5"
    run(["generate", "-o", f"{other}:/points", "--n", "30000", "--d", "3", "--k", "1", "--seed", "5", "--quiet"],
        check=0)
    run(args + ckargs + ["--output", f"{d}/tmp.h5"], check=0)
    expect_error(["fit", "--input", f"{other}:/points", "--k", "30", "--seed", "1", "--quiet", "--checkpoint", ck,
                  "--resume", "--output", f"{d}/x.h5"], 1, ["other data"], outputs=[f"{d}/x.h5"])
    expect_error(["fit", "--input", f"{data}:/points", "--k", "20", "--seed", "1", "--quiet", "--checkpoint", ck,
                  "--resume", "--output", f"{d}/x.h5"], 1, ["k = 30"], outputs=[f"{d}/x.h5"])
    expect_error(["fit", "--input", f"{data}:/points", "--k", "30", "--quiet", "--checkpoint", f"{d}/none.h5",
                  "--resume", "--output", f"{d}/x.h5"], 1, ["nothing to resume"], outputs=[f"{d}/x.h5"])
    expect_error(["fit", "--input", f"{data}:/points", "--k", "30", "--quiet", "--checkpoint", ck,
                  "--checkpoint-every", "2", "--n-init", "3"], 2, ["n-init 1"])


@test
def resume_refuses_another_run(d):
    """--resume continues only the run that wrote the checkpoint: the same rows in the same order,
    the same weights, and the same settings the epochs depend on; each difference is named. What
    only decides when to stop may change: resumed with more epochs, the fit ends as an uninterrupted
    run with that many."""
    data = f"{d}/blob.h5"
    run(["generate", "-o", f"{data}:/points", "--n", "3000", "--d", "3", "--k", "1", "--seed", "4", "--quiet"],
        check=0)
    with h5py.File(data, "r+") as f:
        x = f["points"][...]
        f["shuffled"] = x[np.random.default_rng(0).permutation(len(x))]
        w = np.linspace(1, 3, len(x))
        f["w"] = w
        f["w_swapped"] = np.concatenate([w[1:2], w[:1], w[2:]])  # the same sum, two rows' weights swapped
    ck = f"{d}/ck.h5"
    base = ["fit", "--quiet", "--k", "12", "--seed", "1", "--tol", "0", "--checkpoint", ck]
    first = base + ["--input", f"{data}:/points", "--max-epochs", "6", "--checkpoint-every", "3"]
    again = base + ["--resume", "--output", f"{d}/x.h5", "--input", f"{data}:/points"]
    run(first + ["--weights", f"{data}:/w"], check=0)
    expect_error(again + ["--weights", f"{data}:/w_swapped"], 1, ["rows in another order or other sample weights"],
                 outputs=[f"{d}/x.h5"])
    run(first + ["--overwrite"], check=0)
    cases = [
        (["--input", f"{data}:/shuffled"], ["the same column sums, but the rows in another order"]),
        (["--empty", "farthest"], ["made with --empty drop, this run has --empty farthest"]),
        (["--init", "random"], ["made with --init auto, this run has --init random"]),
        (["--assign", "fused"], ["made with --assign auto, this run has --assign fused"]),
        (["--precision", "double"], ["made with --precision float, this run has --precision double"]),
        (["--weights", f"{data}:/w"], ["other data"]),
    ]
    for extra, words in cases:
        args = again + extra
        if extra[0] == "--input":
            args = base + ["--resume", "--output", f"{d}/x.h5"] + extra
        for np_ in (1, 2):
            expect_error(args, 1, words, outputs=[f"{d}/x.h5"], np_=np_)
    run(first + ["--metric", "iou", "--iou-column", "0", "--overwrite"], check=0)
    expect_error(again + ["--metric", "iou", "--iou-column", "1"], 1, ["made with --iou-column 0, this run has "
                                                                       "--iou-column 1"], outputs=[f"{d}/x.h5"])
    # Only when to stop changes: the resumed run equals an uninterrupted one with the new limit.
    run(first + ["--overwrite"], check=0)
    run(again + ["--max-epochs", "11"], check=0)
    run(base[:-2] + ["--input", f"{data}:/points", "--max-epochs", "11", "--output", f"{d}/full.h5"], check=0)
    with h5py.File(f"{d}/x.h5") as a, h5py.File(f"{d}/full.h5") as b:
        assert int(a.attrs["resumed_from_epoch"]) > 0 and int(a.attrs["epochs"]) == int(b.attrs["epochs"]) == 11
        assert np.array_equal(a["centroids"][...], b["centroids"][...])
        assert np.array_equal(a["labels"][...], b["labels"][...])


@test
def bad_inputs(d):
    data = f"{d}/blobs.h5"
    blobs(data, n=500, d=2, k=3)
    out = f"{d}/out.h5"
    bad = f"{d}/bad.h5"
    rng = np.random.default_rng(1)
    with h5py.File(bad, "w") as f:
        f["one_d"] = np.arange(10.0)
        f["three_d"] = np.zeros((4, 3, 2))
        f["empty"] = np.zeros((0, 3), dtype=np.float32)
        f["nocols"] = np.zeros((5, 0), dtype=np.float32)
        f["strings"] = np.array([[b"a", b"b"], [b"c", b"d"]])
        f["compound"] = np.zeros((4,), dtype=[("a", "f4"), ("b", "f4")])
        nan = rng.normal(size=(100, 2)).astype(np.float32)
        nan[17, 1] = np.nan
        nan[40, 0] = np.inf
        f["nan"] = nan
        f["huge"] = np.full((10, 2), 3e38, dtype=np.float32)
        f.create_group("grp")
        f["narrow"] = rng.random((50, 1)).astype(np.float32)
        ds = f.create_dataset("holes", shape=(100, 2), chunks=(10, 2), dtype="f4")
        ds[:50] = 1.0  # chunks for rows 50..99 are never written
    trunc = f"{d}/trunc.h5"
    raw = open(data, "rb").read()
    open(trunc, "wb").write(raw[: len(raw) // 2])
    notes = f"{d}/notes.txt"
    open(notes, "w").write("hello\n")
    model3 = f"{d}/m3.h5"
    blobs(f"{d}/b3.h5", n=300, d=3, k=2)
    run(["fit", "--input", f"{d}/b3.h5:/points", "--k", "2", "--output", model3, "--quiet"], check=0)
    deck_bad_key = f"{d}/k.toml"
    open(deck_bad_key, "w").write(f'input = "{data}:/points"\nk = 3\ncolour = "blue"\n')
    deck_bad_toml = f"{d}/t.toml"
    open(deck_bad_toml, "w").write("input = \"unterminated\nk = 3\n")
    deck_twice = f"{d}/twice.toml"
    open(deck_twice, "w").write(f'input = "{data}:/points"\nk = 3\nk = 4\n')
    deck_type = f"{d}/type.toml"
    open(deck_type, "w").write(f'input = "{data}:/points"\nk = "three"\n')
    spaced = f"{d}/dir with spaces é"
    os.makedirs(spaced)
    fit = ["fit", "--quiet", "--output", out]
    cases = [
        (fit + ["--input", f"{d}/missing.h5:/points", "--k", "3"], 1, ["file not found", "missing.h5"]),
        (fit + ["--input", f"{data}:/nothere", "--k", "3"], 1, ["no dataset", "/nothere"]),
        (fit + ["--input", f"{bad}:/one_d", "--k", "3"], 1, ["1 dimension", "one_d"]),
        (fit + ["--input", f"{bad}:/three_d", "--k", "3"], 1, ["3 dimension"]),
        (fit + ["--input", f"{bad}:/empty", "--k", "3"], 1, ["zero rows"]),
        (fit + ["--input", f"{bad}:/nocols", "--k", "1"], 1, ["zero columns"]),
        (fit + ["--input", f"{bad}:/strings", "--k", "1"], 1, ["type string"]),
        (fit + ["--input", f"{bad}:/compound", "--k", "1"], 1, ["compound"]),
        (fit + ["--input", f"{bad}:/nan", "--k", "3"], 1, ["2 NaN or infinite", "row 17, column 1"]),
        (fit + ["--input", f"{bad}:/grp", "--k", "3"], 1, ["is a group"]),
        (fit + ["--input", f"{bad}:/holes", "--k", "3"], 1, ["missing (never written) chunks"]),
        (fit + ["--input", f"{trunc}:/points", "--k", "3"], 1, ["trunc.h5"]),
        (fit + ["--input", f"{notes}:/points", "--k", "3"], 1, ["not an HDF5 file"]),
        (fit + ["--input", f"{data}:/points", "--k", "0"], 2, ["k must be a positive integer"]),
        (fit + ["--input", f"{data}:/points", "--k", "-4"], 2, ["k must be a positive integer"]),
        (fit + ["--input", f"{data}:/points", "--k", "501"], 1, ["exceeds the number of rows", "500"]),
        (fit + ["--input", f"{data}:/points", "--k", "3", "--rows", "501"], 1, ["--rows 501 exceeds the 500 rows"]),
        (fit + ["--input", f"{data}:/points", "--k", "3", "--rows", "-1"], 2, ["rows must be ≥ 0"]),
        (fit + ["--input", f"{data}:/points", "--k", "30", "--rows", "20"], 1, ["exceeds the number of rows", "20"]),
        (fit + ["--input", f"{data}:/points", "--k", "3", "--batch-size", "0"], 2, ["batch size"]),
        (fit + ["--input", f"{data}:/points", "--k", "3", "--batch-size", "-5"], 2, ["batch size"]),
        (fit + ["--input", f"{data}:/points", "--k", "3", "--metric", "hamming"], 2, ["metric", "hamming"]),
        (fit + ["--input", f"{data}:/points", "--k", "3", "--init", "magic"], 2, ["init", "magic"]),
        (fit + ["--input", f"{data}:/points", "--k", "3", "--empty", "vanish"], 2, ["empty-cluster policy", "vanish"]),
        (fit + ["--input", f"{bad}:/narrow", "--k", "3", "--metric", "iou"], 1, ["iou", "1 column"]),
        (fit + ["--input", f"{data}:/points", "--k", "3", "--frobnicate"], 2, ["frobnicate"]),
        (fit + ["--input", f"{data}", "--k", "3"], 2, ["FILE.h5:/DATASET"]),
        (fit + ["--k", "3"], 2, ["--input"]),
        (["fit", deck_bad_key, "--quiet", "--output", out], 2, ["unknown key 'colour'"]),
        (["fit", deck_bad_toml, "--quiet", "--output", out], 2, ["t.toml"]),
        (["fit", deck_twice, "--quiet", "--output", out], 2, ["twice.toml"]),
        (["fit", deck_type, "--quiet", "--output", out], 2, ["'k' must be an integer"]),
        (["fit", f"{d}/nodeck.toml", "--quiet"], 2, ["nodeck.toml"]),
        (["fit", "--quiet", "--input", f"{data}:/points", "--k", "3", "--output", f"{d}/no/such/dir/o.h5"], 1,
         ["does not exist"]),
        (["fit", "--quiet", "--input", f"{data}:/points", "--k", "3", "--output", f"{spaced}/o.h5",
          "--metric", "cosine", "--assign", "gemm"], 2, ["gemm"]),
        (fit + ["--input", f"{data}:/points", "--k", "3", "--assign", "gemm-tf32x3", "--metric", "manhattan"], 2,
         ["gemm-tf32x3 needs --metric sqeuclidean"]),
        (fit + ["--input", f"{data}:/points", "--k", "3", "--assign", "gemm-checked", "--metric", "cosine"], 2,
         ["gemm-checked needs --metric sqeuclidean"]),
        (fit + ["--input", f"{data}:/points", "--k", "3", "--assign", "gemm-tf32x3", "--precision", "double"], 1,
         ["gemm-tf32x3", "needs the CUDA build and float32"]),
        (["predict", "--model", model3, "--input", f"{data}:/points", "--output", out], 1, ["d = 3", "2 columns"]),
        (["predict", "--model", data, "--input", f"{data}:/points", "--output", out], 1, ["/centroids"]),
        (["predict", "--model", model3, "--metric", "cosine", "--input", f"{d}/b3.h5:/points", "--output", out], 1,
         ["fitted with metric sqeuclidean, not cosine"]),
        (["generate", "-o", f"{d}/g.h5:/points", "--n", "0"], 2, ["--n", "must be > 0, got 0"]),
        (["generate", "-o", f"{d}/g.h5:/points", "--n", "10", "--spread", "-1"], 2, ["--spread", "must be ≥ 0, got -1"]),
    ]
    for args, code, words in cases:
        try:
            expect_error(args, code, words, outputs=[out, f"{spaced}/o.h5", f"{d}/g.h5"])
        except AssertionError as e:
            raise AssertionError(f"{' '.join(args)}: {e}")
    # The NaN error names the row on any rank count.
    expect_error(fit + ["--input", f"{bad}:/nan", "--k", "3"], 1, ["NaN"], outputs=[out], np_=3)
    # A path with spaces and non-ASCII characters works.
    run(["fit", "--quiet", "--input", f"{data}:/points", "--k", "3", "--output", f"{spaced}/o.h5"], check=0)
    # Existing output is refused without --overwrite, and left as it was.
    before = open(f"{spaced}/o.h5", "rb").read()
    line = expect_error(["fit", "--quiet", "--input", f"{data}:/points", "--k", "2", "--output", f"{spaced}/o.h5"], 1,
                        ["exists", "--overwrite"])
    assert open(f"{spaced}/o.h5", "rb").read() == before, line
    run(["fit", "--quiet", "--input", f"{data}:/points", "--k", "2", "--output", f"{spaced}/o.h5", "--overwrite"],
        check=0)
    # Values whose squares overflow float32 give a clear result in double precision.
    run(["fit", "--quiet", "--input", f"{bad}:/huge", "--k", "1", "--precision", "double", "--output", f"{d}/h.h5"],
        check=0)


def virtual_points(path, sources, n, d):
    """A virtual dataset /points of n × d float32 from (file, dataset, source shape, source rows, rows)."""
    layout = h5py.VirtualLayout(shape=(n, d), dtype="f4")
    for file, name, shape, (s0, s1), (r0, r1) in sources:
        layout[r0:r1] = h5py.VirtualSource(file, name, shape=shape)[s0:s1]
    with h5py.File(path, "w") as f:
        f.create_virtual_dataset("points", layout, fillvalue=0)


@test
def storage_that_is_not_there(d):
    """Datasets that open fine but whose values are not all stored (virtual datasets with missing,
    short or absent sources or uncovered parts; external raw files missing or short) are refused
    before any work: HDF5 would read the gaps as fill values or zeros. Complete ones fit as the
    same rows stored plainly do."""
    rng = np.random.default_rng(3)
    x = (rng.normal(size=(300, 3)) + 5 * (np.arange(300) % 3)[:, None]).astype(np.float32)
    with h5py.File(f"{d}/plain.h5", "w") as f:
        f["points"] = x
        f["w"] = np.linspace(1, 2, 300)
    with h5py.File(f"{d}/src.h5", "w") as f:
        f["a"] = np.concatenate([np.zeros((50, 3), np.float32), x[:150]])  # mapped from its row 50 on
        f["b"] = x[150:]
        f["half"] = x[150:225]
    # one source named by its absolute path, one relative to the virtual file's folder
    good = [(f"{d}/src.h5", "a", (200, 3), (50, 200), (0, 150)), ("src.h5", "b", (150, 3), (0, 150), (150, 300))]
    virtual_points(f"{d}/vds.h5", good, 300, 3)
    virtual_points(f"{d}/vds_gone.h5", good[:1] + [("gone.h5", "b", (150, 3), (0, 150), (150, 300))], 300, 3)
    virtual_points(f"{d}/vds_nodset.h5", good[:1] + [("src.h5", "nope", (150, 3), (0, 150), (150, 300))], 300, 3)
    virtual_points(f"{d}/vds_gap.h5", good[:1], 300, 3)
    virtual_points(f"{d}/vds_short.h5", good[:1] + [("src.h5", "half", (150, 3), (0, 150), (150, 300))], 300, 3)
    raw = x.tobytes()
    open(f"{d}/raw.bin", "wb").write(b"header" + raw)
    open(f"{d}/short.bin", "wb").write(raw[: len(raw) - 12])
    with h5py.File(f"{d}/ext.h5", "w") as f:
        f.create_dataset("points", x.shape, "f4", external=[(f"{d}/raw.bin", 6, len(raw))])
        f.create_dataset("short", x.shape, "f4", external=[(f"{d}/short.bin", 0, len(raw))])
        f.create_dataset("gone", x.shape, "f4", external=[(f"{d}/gone.bin", 0, len(raw))])
        f.create_dataset("w_short", (300,), "f8", external=[(f"{d}/short.bin", 2000, 2400)])
    out = f"{d}/out.h5"
    fit = ["fit", "--quiet", "--k", "3", "--seed", "2", "--output", out]
    cases = [
        ([f"{d}/vds_gone.h5:/points"], ["virtual dataset", "source 'gone.h5:/b' is missing", "fill values"]),
        ([f"{d}/vds_nodset.h5:/points"], ["virtual dataset", "has no dataset '/nope'"]),
        ([f"{d}/vds_gap.h5:/points"], ["mappings cover 450 of its 900 values"]),
        ([f"{d}/vds_short.h5:/points"], ["source 'src.h5:/half' is smaller than the part it maps"]),
        ([f"{d}/ext.h5:/short"], ["external file", "short.bin', which holds 3588 bytes where 3600 are declared",
                                  "zeros"]),
        ([f"{d}/ext.h5:/gone"], ["external file", "gone.bin', which cannot be read"]),
        ([f"{d}/plain.h5:/points", "--weights", f"{d}/ext.h5:/w_short"], ["ext.h5:/w_short", "external file"]),
    ]
    for (spec, *extra), words in cases:
        expect_error(fit + ["--input", spec] + extra, 1, words, outputs=[out])
    expect_error(fit + ["--input", f"{d}/vds_gone.h5:/points"], 1, ["is missing"], outputs=[out], np_=2)
    models = {}
    for name in ("plain", "vds", "ext"):
        run(fit[:-1] + [f"{d}/{name}.out.h5", "--input", f"{d}/{name}.h5:/points"], check=0)
        with h5py.File(f"{d}/{name}.out.h5") as f:
            models[name] = (f["centroids"][...], f["labels"][...])
    for name in ("vds", "ext"):
        assert all(np.array_equal(a, b) for a, b in zip(models[name], models["plain"])), name


@test
def full_disk_fails_cleanly(d):
    """A full disk: refused before any work when the output cannot fit the free space; when the disk
    fills while writing (free space checked as plenty), one line naming the output and "No space left
    on device", exit 1 (HDF5 used to crash in MPI_Finalize: exit 139), and nothing left behind."""
    tiny = f"{d}/tiny"
    os.makedirs(tiny)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", tiny], capture_output=True)
    if mounted.returncode != 0:
        print(f"SKIP full_disk_fails_cleanly: cannot mount a 256 KiB tmpfs here ({mounted.stderr.decode().strip()})")
        return
    try:
        data = f"{d}/big.h5"
        blobs(data, n=200000, d=4, k=5)  # labels alone: 800 KB
        run(["fit", "--quiet", "--input", f"{data}:/points", "--k", "5", "--max-epochs", "3", "--output",
             f"{d}/model.h5"], check=0)
        fit = ["fit", "--quiet", "--input", f"{data}:/points", "--k", "5", "--max-epochs", "3"]
        writers = [
            (fit + ["--output", f"{tiny}/out.h5"], f"{tiny}/out.h5"),
            (fit + ["--checkpoint", f"{tiny}/ck.h5", "--checkpoint-every", "1"], f"{tiny}/ck.h5"),
            (["predict", "--model", f"{d}/model.h5", "--input", f"{data}:/points", "--output", f"{tiny}/p.h5"],
             f"{tiny}/p.h5"),
            (["generate", "-o", f"{tiny}/g.h5", "--n", "100000", "--d", "3", "--quiet"], f"{tiny}/g.h5"),
        ]
        for args, out in writers:
            expect_error(args, 1, ["not enough space for output", "KiB free"], outputs=[out])
        ENV["KKMEANS_TEST_FREE_DISK"] = "1e12"
        try:
            for args, out in writers:
                for np_ in (1, 2) if args[0] == "fit" else (1,):
                    expect_error(args, 1, [f"writing '{out}' failed", "No space left on device"], outputs=[out],
                                 np_=np_)
                    assert not os.listdir(tiny), os.listdir(tiny)
        finally:
            del ENV["KKMEANS_TEST_FREE_DISK"]
        with open(f"{tiny}/filler", "wb") as f:  # leave less room than the report needs
            f.write(b"\0" * (256 * 1024 - 512))
        expect_error(fit + ["--report", f"{tiny}/r.json"], 1, ["cannot write report", "No space left on device"],
                     outputs=[f"{tiny}/r.json"])
    finally:
        subprocess.run(["umount", tiny], check=True)


@test
def outputs_never_replace_inputs(d):
    """No file the run writes may be a file it reads, or another output, under any spelling; a
    checkpoint path replaces only a kkmeans checkpoint. The refused run changes nothing."""
    data = f"{d}/data.h5"
    blobs(data, n=300, d=2, k=3)
    other = f"{d}/other.h5"
    blobs(other, n=50, d=2, k=2)
    os.symlink(data, f"{d}/link.h5")
    os.link(data, f"{d}/hard.h5")
    model = f"{d}/m.h5"
    run(["fit", "--quiet", "--input", f"{data}:/points", "--k", "3", "--output", model], check=0)
    cwd_rel = os.path.relpath(data)
    before = {f: open(f, "rb").read() for f in (data, other, model)}
    fit = ["fit", "--quiet", "--k", "3", "--overwrite", "--input", f"{data}:/points"]
    cases = [
        (fit + ["--checkpoint", data, "--checkpoint-every", "1"], ["--checkpoint", "is the file --input reads", "data.h5"]),
        (fit + ["--output", f"{d}/./data.h5"], ["--output", "is the file --input reads"]),
        (fit + ["--output", cwd_rel], ["--output", "is the file --input reads"]),
        (fit + ["--report", f"{d}/link.h5"], ["--report", "is the file --input reads"]),
        (fit + ["--output", f"{d}/hard.h5"], ["--output", "is the file --input reads"]),
        (fit + ["--output", f"{d}/o.h5", "--report", f"{d}/sub/../o.h5"], ["two outputs cannot share a file"]),
        (fit + ["--output", f"{d}/o.h5", "--checkpoint", f"{d}/sub/../o.h5", "--checkpoint-every", "2"],
         ["two outputs cannot share a file"]),
        (fit + ["--weights", f"{other}:/points", "--output", other], ["--output", "is the file --weights reads"]),
        (fit + ["--checkpoint", other, "--checkpoint-every", "2"], ["exists and is not a kkmeans checkpoint"]),
        (["predict", "--model", model, "--input", f"{data}:/points", "--output", model, "--overwrite"],
         ["--output", "is the file --model reads"]),
        (["predict", "--model", model, "--input", f"{data}:/points", "--output", f"{d}/link.h5", "--overwrite"],
         ["--output", "is the file --input reads"]),
    ]
    os.makedirs(f"{d}/sub")
    for args, words in cases:
        try:
            expect_error(args, 1, words)
        except AssertionError as e:
            raise AssertionError(f"{' '.join(args)}: {e}")
        for f, b in before.items():
            assert open(f, "rb").read() == b, f"{' '.join(args)} changed {f}"
    assert not os.path.exists(f"{d}/o.h5")
    # On several ranks the refusal is agreed (no rank waits in a collective) and said once.
    expect_error(fit + ["--output", f"{d}/./data.h5"], 1, ["is the file --input reads"], np_=2)
    expect_error(["fit", "--quiet", "--k", "3", "--input", f"{data}:/points", "--output", model], 1,
                 ["exists", "--overwrite"], np_=2)
    # A run may replace its own checkpoint, and resume from it.
    ck = f"{d}/ck.h5"
    run(fit + ["--checkpoint", ck, "--checkpoint-every", "1", "--output", f"{d}/o.h5"], check=0)
    run(fit + ["--checkpoint", ck, "--checkpoint-every", "1", "--output", f"{d}/o.h5"], check=0)
    run(fit + ["--checkpoint", ck, "--checkpoint-every", "1", "--output", f"{d}/o.h5", "--resume"], check=0)


@test
def numbers_beyond_the_arithmetic(d):
    """Centroids that are not numbers of the working precision are refused with their row and column
    (initial centroids, a model's); integer options at the edge of their type are errors, not crashes;
    generate refuses sizes no memory holds."""
    data = f"{d}/data.h5"
    blobs(data, n=200, d=4, k=3)
    with h5py.File(f"{d}/init.h5", "w") as f:
        for name, v in (("nan", np.nan), ("inf", -np.inf), ("big", 1e39)):
            c = np.zeros((3, 4))
            c[1, 2] = v
            f[name] = c
        f["fine"] = np.arange(12.0).reshape(3, 4)
    model = f"{d}/m.h5"
    out = f"{d}/o.h5"
    fit = ["fit", "--quiet", "--input", f"{data}:/points", "--k", "3", "--output", out]
    expect_error(fit + ["--init-from", f"{d}/init.h5:/nan"], 1, ["initial centroid 1, column 2 is NaN"], outputs=[out])
    expect_error(fit + ["--init-from", f"{d}/init.h5:/inf"], 1, ["initial centroid 1, column 2 is infinite"],
                 outputs=[out])
    expect_error(fit + ["--init-from", f"{d}/init.h5:/big"], 1,
                 ["initial centroid 1, column 2 is 1e+39", "beyond the range of float32", "--precision double"],
                 outputs=[out])
    run(fit + ["--init-from", f"{d}/init.h5:/big", "--precision", "double"], check=0)
    os.remove(out)
    run(["fit", "--quiet", "--input", f"{data}:/points", "--k", "3", "--output", model], check=0)
    for v, word in ((np.nan, "NaN"), (np.inf, "infinite")):
        with h5py.File(model, "r+") as f:
            f["centroids"][2, 1] = v
        expect_error(["predict", "--model", model, "--input", f"{data}:/points", "--output", out], 1,
                     [f"model '{model}': centroid 2, column 1 is {word}"], outputs=[out])
    for col in ("2147483647", "2147483646", "2"):
        words = ["metric iou needs box width and height in columns"] if col != "2" else []
        if col == "2":
            run(fit + ["--metric", "iou", "--iou-column", col], check=0)
            os.remove(out)
        else:
            expect_error(fit + ["--metric", "iou", "--iou-column", col], 1, words + [col], outputs=[out])
    g = f"{d}/g.h5"
    gen = ["generate", "-o", f"{g}:/points", "--quiet"]
    expect_error(gen + ["--n", "10", "--d", "2", "--k", "20"], 1, ["--k 20 blobs need at least as many rows"],
                 outputs=[g])
    expect_error(gen + ["--n", "4611686018427387904", "--d", "4", "--k", "2"], 1, ["more than this machine's"],
                 outputs=[g])
    expect_error(gen + ["--n", "1000", "--d", "2147483647", "--k", "2"], 1, ["more than this machine's"], outputs=[g])
    expect_error(gen + ["--n", "1000", "--d", "2147483647", "--k", "2"], 1, ["more than this machine's"], outputs=[g],
                 np_=2)


@test
def data_beyond_the_arithmetic(d):
    """Data whose distances overflow or underflow the working precision, and weights so far apart
    that the exact sums would count the smallest as zero, are refused before any work with the
    reason and the remedy (on every rank). Data inside the range is fitted: scaled by a power of two
    it gives the same labels, and centroids scaled by the same power, bit for bit."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(400, 3)) + 6 * (np.arange(400) % 4)[:, None]
    with h5py.File(f"{d}/r.h5", "w") as f:
        f["x"] = x.astype(np.float32)
        f["big32"] = (x * 1e19).astype(np.float32)
        f["big64"] = x * 1e153
        f["tiny32"] = (x * 1e-17).astype(np.float32)
        f["tiny64"] = x * 1e-200
        for name, e in (("up", 56), ("down", -40)):  # inside float32's range for squared distances
            f[name] = np.ldexp(x, e).astype(np.float32)
        w = np.ones(400)
        w[7] = 1e30
        f["w_wide"] = w
        f["w_fine"] = np.linspace(1, 1e6, 400)
    out = f"{d}/o.h5"
    fit = ["fit", "--quiet", "--k", "4", "--seed", "3", "--output", out]
    src = f"{d}/r.h5"
    cases = [
        (["--input", f"{src}:/big32"], ["data values up to 2.13e+20", "make distances of up to", "beyond float32's range",
                                         "rescale the data, or fit in float64 (--precision double)"]),
        (["--input", f"{src}:/big64", "--precision", "double"], ["make distances beyond float64's range",
                                                                  "rescale the data"]),
        (["--input", f"{src}:/tiny32"], ["fall below float32's normal range", "--precision double"]),
        (["--input", f"{src}:/tiny64", "--precision", "double"], ["fall below float64's normal range"]),
        (["--input", f"{src}:/big32", "--metric", "cosine"], ["beyond float32's range"]),
        (["--input", f"{src}:/x", "--weights", f"{src}:/w_wide"], ["sample weights span too wide a range",
                                                                  "(1) is 1e+30 times smaller", "count as zero",
                                                                  "within a factor of"]),
    ]
    for np_ in (1, 2):
        for args, words in cases:
            expect_error(fit + args, 1, words, outputs=[out], np_=np_)
    # The same data in float64, or under a metric of sums of absolute differences, is in range.
    for args in (["--input", f"{src}:/big32", "--precision", "double"], ["--input", f"{src}:/big32", "--metric",
                 "manhattan"], ["--input", f"{src}:/tiny32", "--precision", "double"],
                 ["--input", f"{src}:/x", "--weights", f"{src}:/w_fine"]):
        run(fit + args + ["--overwrite"], check=0)
    models = {}
    for name in ("x", "up", "down"):
        run(fit + ["--input", f"{src}:/{name}", "--overwrite"], check=0)
        with h5py.File(out) as f:
            models[name] = (f["centroids"][...], f["labels"][...])
    for name, e in (("up", 56), ("down", -40)):
        assert np.array_equal(models[name][1], models["x"][1]), name
        assert np.array_equal(models[name][0], np.ldexp(models["x"][0], e)), name


@test
def small_usability_gaps(d):
    """generate -o FILE.h5 means FILE.h5:/points; seeds are ≥ 0; a locked input is named as locked; --tol 0
    never stops on the shift, not even at a fixed point; float64 values beyond float32's range point to
    --precision double."""
    g = f"{d}/g.h5"
    run(["generate", "-o", g, "--n", "300", "--d", "2", "--k", "3", "--quiet"], check=0)
    with h5py.File(g, "r") as f:
        assert f["points"].shape == (300, 2)
    for cmd in (["fit", "--quiet", "--input", f"{g}:/points", "--k", "3"],
                ["generate", "-o", f"{d}/h.h5:/points", "--n", "10", "--d", "2", "--k", "2", "--quiet"]):
        expect_error(cmd + ["--seed", "-1"], 2, ["--seed", "must be an integer ≥ 0, got -1"], outputs=[f"{d}/h.h5"])
    # An input another program has open for writing is named as locked, not as corrupt.
    with h5py.File(g, "a"):
        for cmd in (["fit", "--quiet", "--input", f"{g}:/points", "--k", "3", "--output", f"{d}/o.h5"],
                    ["predict", "--model", g, "--input", f"{g}:/points", "--output", f"{d}/o.h5"]):
            expect_error(cmd, 1, [f"'{g}': another program has it open for writing", "HDF5_USE_FILE_LOCKING"],
                         outputs=[f"{d}/o.h5"])
    report = f"{d}/r.json"
    run(["fit", "--quiet", "--input", f"{g}:/points", "--k", "3", "--tol", "0", "--no-stop-on-no-change",
         "--max-epochs", "40", "--report", report], check=0)
    with open(report) as f:
        r = json.load(f)
    assert len(r["history"]) == 40 and r["stop_reason"] == "max epochs", (len(r["history"]), r["stop_reason"])
    assert r["history"][-1]["shift"] == 0, "the blobs should have reached a fixed point long before"
    with h5py.File(f"{d}/big.h5", "w") as f:
        x = np.ones((20, 2))
        x[7, 1] = 1e39
        f["x"] = x
    expect_error(["fit", "--quiet", "--input", f"{d}/big.h5:/x", "--k", "2"], 1,
                 ["NaN or infinite", "row 7, column 1", "--precision double"])
    # generate --overwrite never drops what it would not write again.
    before = open(g, "rb").read()
    with h5py.File(f"{d}/keep.h5", "w") as f:
        f["mine"] = np.ones(3)
    expect_error(["generate", "-o", f"{g}:/new", "--n", "10", "--d", "2", "--k", "2", "--quiet", "--overwrite"], 1,
                 ["--overwrite would replace all of", "which also holds /points"])
    assert open(g, "rb").read() == before
    expect_error(["generate", "-o", f"{d}/keep.h5:/points", "--n", "10", "--d", "2", "--k", "2", "--quiet",
                  "--overwrite"], 1, ["which also holds /mine"])
    run(["generate", "-o", f"{g}:/points", "--n", "10", "--d", "2", "--k", "2", "--quiet", "--overwrite"], check=0)
    run(["fit", "--quiet", "--input", f"{d}/big.h5:/x", "--k", "2", "--precision", "double"], check=0)


@test
def outputs_checked_before_any_work(d):
    """Every output path is checked before the data is read (a missing folder, a folder, a name too
    long for its temporary name), so a long run never fails at its end; nothing is left behind."""
    data = f"{d}/data.h5"
    blobs(data, n=200, d=2, k=3)
    model = f"{d}/m.h5"
    run(["fit", "--quiet", "--input", f"{data}:/points", "--k", "3", "--output", model], check=0)
    out = f"{d}/o.h5"
    long_name = f"{d}/" + "x" * 240 + ".h5"
    fit = ["fit", "--quiet", "--input", f"{data}:/points", "--k", "3", "--output", out]
    cases = [
        (fit + ["--report", f"{d}/nofolder/r.json"], ["output folder", "nofolder", "does not exist"]),
        (fit + ["--report", d], ["names a folder, not a file"]),
        (fit + ["--report", long_name], ["is too long", "temporary name"]),
        (fit + ["--checkpoint", f"{d}/nofolder/ck.h5", "--checkpoint-every", "1"], ["nofolder", "does not exist"]),
        (["predict", "--model", model, "--input", f"{data}:/points", "--output", f"{d}/nofolder/l.h5"],
         ["nofolder", "does not exist"]),
        (["generate", "-o", f"{d}/nofolder/g.h5:/points", "--n", "10", "--d", "2", "--k", "2", "--quiet"],
         ["nofolder", "does not exist"]),
    ]
    for args, words in cases:
        try:
            expect_error(args, 1, words, outputs=[out, long_name])
        except AssertionError as e:
            raise AssertionError(f"{' '.join(args)}: {e}")
    expect_error(fit + ["--report", f"{d}/nofolder/r.json"], 1, ["does not exist"], outputs=[out], np_=2)
    # Temporary files a killed run left next to an output are removed by the next run writing it;
    # those of a process still alive (it may be writing) are left alone.
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        outputs = [out, f"{d}/r.json", f"{d}/l.h5", f"{d}/g.h5"]
        stale = {o: f"{os.path.dirname(o)}/.{os.path.basename(o)}.tmp-kkmeans-" for o in outputs}
        for o, prefix in stale.items():
            open(f"{prefix}{2 ** 22 + 1}", "w").write("left by a killed run")  # above any Linux pid
            open(f"{prefix}{sleeper.pid}", "w").write("a live run's")
        run(fit + ["--overwrite", "--report", f"{d}/r.json"], check=0)
        run(["predict", "--model", model, "--input", f"{data}:/points", "--output", f"{d}/l.h5"], check=0)
        run(["generate", "-o", f"{d}/g.h5", "--n", "10", "--d", "2", "--k", "2", "--quiet"], check=0)
        left = sorted(f for f in os.listdir(d) if ".tmp-kkmeans-" in f)
        assert left == sorted(os.path.basename(p + str(sleeper.pid)) for p in stale.values()), left
    finally:
        sleeper.kill()


@test
def failure_on_one_rank_only(d):
    """A check that fails on one rank only (here: a file the other rank's node does not have, by
    giving the ranks different command lines) ends the whole job with that rank's message, printed
    once, and exit 1, instead of leaving the other ranks waiting in a collective."""
    data = f"{d}/data.h5"
    blobs(data, n=300, d=2, k=3)
    with h5py.File(data, "r+") as f:
        f["w"] = np.ones(300)
        f["c"] = f["points"][:3]
        x = f["points"][...]
        x[250, 1] = np.nan  # in the second rank's rows only
        f["nan"] = x
    model = f"{d}/m.h5"
    run(["fit", "--quiet", "--input", f"{data}:/points", "--k", "3", "--output", model], check=0)
    gone = f"{d}/only-on-rank-0.h5"
    out = f"{d}/o.h5"
    fit = ["fit", "--quiet", "--k", "3", "--output", out]
    cases = [  # (rank 0's arguments, rank 1's arguments, words of the one message)
        (fit + ["--input", f"{data}:/points"], fit + ["--input", f"{gone}:/points"], ["file not found", gone]),
        (fit + ["--input", f"{data}:/points", "--weights", f"{data}:/w"],
         fit + ["--input", f"{data}:/points", "--weights", f"{gone}:/w"], ["file not found", gone]),
        (fit + ["--input", f"{data}:/points", "--init-from", f"{data}:/c"],
         fit + ["--input", f"{data}:/points", "--init-from", f"{gone}:/c"], ["file not found", gone]),
        (["predict", "--model", model, "--input", f"{data}:/points", "--output", out],
         ["predict", "--model", gone, "--input", f"{data}:/points", "--output", out], ["file not found", gone]),
        (fit + ["--input", f"{data}:/nan"], fit + ["--input", f"{data}:/nan"],
         ["1 NaN or infinite value(s) in rows 150–299", "row 250, column 1"]),
    ]
    for first, second, words in cases:
        cmd = [MPIEXEC, "-np", "1", BIN] + first + [":", "-np", "1", BIN] + second
        p = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=120)
        lines = [ln for ln in p.stderr.splitlines() if "kkmeans" in ln]
        assert p.returncode == 1, f"{' '.join(cmd)}: exit {p.returncode}: {p.stderr}"
        assert len(lines) == 1 and all(w in lines[0] for w in words), f"{' '.join(cmd)}: {p.stderr}"
        assert not os.path.exists(out)
        TABLE.append(([], first + [":", "kkmeans"] + second, 2, 1, lines[0]))  # mpirun MPMD: rank 0 : rank 1


@test
def preempted_fit_checkpoints_and_resumes(d):
    """SIGTERM (and the signal of --checkpoint-signal) make a fit with --checkpoint finish its epoch,
    write the checkpoint and exit 75; --resume then ends exactly as the uninterrupted run (1 and 2
    ranks; mpirun forwards USR1 to every rank)."""
    data = f"{d}/data.h5"
    run(["generate", "-o", f"{data}:/points", "--n", "60000", "--d", "8", "--k", "64", "--seed", "3", "--quiet"],
        check=0)
    # 150 epochs: about 1.5 s at -O3 on one thread, well past the signal's 0.1 s; the resumed runs
    # repeat all but the first few, which made this the suite's longest test under ASan at 400
    common = ["fit", "--input", f"{data}:/points", "--k", "64", "--tol", "0", "--no-stop-on-no-change",
              "--max-epochs", "150", "--init", "random"]
    run(["fit", "--quiet"] + common[1:] + ["--output", f"{d}/ref.h5"], check=0)
    for sig, flag, np_ in ((signal.SIGTERM, [], 1), (signal.SIGUSR1, ["--checkpoint-signal", "USR1"], 1),
                           (signal.SIGUSR1, ["--checkpoint-signal", "USR1"], 2)):
        ck, out = f"{d}/ck.h5", f"{d}/o.h5"
        for f in (ck, out):
            if os.path.exists(f):
                os.remove(f)
        cmd = [BIN] + common + flag + ["--checkpoint", ck, "--checkpoint-every", "1000", "--output", out]
        if np_ > 1:
            cmd = [MPIEXEC, "-np", str(np_), "--oversubscribe"] + cmd
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=ENV)
        seen = ""
        while "[kkmeans] read" not in seen:  # the data is read: the fit is about to start its epochs
            ch = p.stderr.read(1)
            if not ch:
                break
            seen += ch
        time.sleep(0.1)
        p.send_signal(sig)
        _, rest = p.communicate(timeout=300)
        said = seen + rest
        assert p.returncode == 75, f"exit {p.returncode}: {said}"
        assert "preempted: checkpoint of epoch" in said, said
        assert os.path.exists(ck) and not os.path.exists(out)
        run(["fit", "--quiet"] + common[1:] + ["--checkpoint", ck, "--output", out, "--resume"], np_=np_, check=0)
        with h5py.File(f"{d}/ref.h5") as a, h5py.File(out) as b:
            for name in ("centroids", "labels"):
                assert np.array_equal(a[name][()], b[name][()]), f"{sig} at np {np_}: {name} differs after resume"
    # The flag names a signal kkmeans knows.
    expect_error(["fit", "--quiet", "--input", f"{data}:/points", "--k", "3", "--checkpoint", f"{d}/c.h5",
                  "--checkpoint-every", "1", "--checkpoint-signal", "KILL"], 2, ["unknown checkpoint signal 'KILL'"])


TRAILER = """
`KKMEANS_TEST_FREE_MEMORY` (bytes) stands in for the free memory of the rank's device in tests.

## Faults

`tests/app/test_app.py` (`checkpoint_kill_resume`) kills fits with SIGKILL right after a checkpoint
and in the middle of writing one, and with a real `kill -9` at a random moment; the resumed runs
(also on another rank count) end with centroids and labels identical to an uninterrupted run, and a
checkpoint is never read half-written (written under a temporary name, then renamed). A failure on
one rank that the others cannot know about (an exception outside the agreed checks) prints
`kkmeans: error on rank R: …` once and brings the job down with `MPI_Abort` instead of a hang.

`preempted_fit_checkpoints_and_resumes` sends SIGTERM, and USR1 with `--checkpoint-signal USR1` (at 1
and 2 ranks), to running fits: each finishes its epoch, writes the checkpoint and exits with status
75, and `--resume` ends with centroids and labels identical to an uninterrupted run.

No run writes a file it reads (`outputs_never_replace_inputs`: the same file by another spelling,
a symbolic or a hard link is refused before any work, whatever `--overwrite` says), and every
output path is checked before the data is read (`outputs_checked_before_any_work`).

## Memory errors and undefined behaviour

- `bash scripts/test.sh --sanitize`: the unit tests (Serial backend), the MPI tests at np = 1..4,
  the application tests above, the anchor-box example and the fuzz replays, built with
  `-fsanitize=address,undefined -fno-sanitize-recover=all`. CI runs it. LeakSanitizer is off there
  (Open MPI's plugins, unloaded at MPI_Finalize, leave leaks it can neither symbolise nor suppress);
  leaks are checked by valgrind below and by the fuzz harnesses, which need no MPI.
- `valgrind_fit` (ctest, where valgrind is installed): one fit (k-means++, Lloyd, `--empty
  farthest`, output and report) and one predict under memcheck, no errors; Open MPI's own
  MPI_Init allocations suppressed (`tests/sanitize/valgrind.supp`). It found that the application's
  duplicated communicator outlived `MPI_Finalize` (fixed: freed before it).
- On the GPU: `compute-sanitizer` memcheck and racecheck runs, see docs/PERFORMANCE.md.

## Fuzzing

`bash scripts/fuzz.sh 600` builds the libFuzzer harnesses `tests/fuzz/fuzz_deck.cpp` (TOML deck
loader + option checks) and `tests/fuzz/fuzz_hdf5.cpp` (dataset inspection, row reads with type
conversion, the model reader) with clang, ASan and UBSan, and runs each for 600 s from the seeds in
`tests/fuzz/corpus/`. Every build replays the seeds and `tests/fuzz/regressions/` (ctest
`fuzz_replay_deck`, `fuzz_replay_hdf5`).
"""


def write_table(path):
    """docs/ROBUSTNESS.md: every bad input the tests feed kkmeans, with the message it printed."""
    def no_temp(text):  # the tests' temporary folders as "...", so that the table changes only with a message
        return re.sub(re.escape(tempfile.gettempdir()) + r"/kkm-[^/'\s]*", "...", text)

    def short(a):
        return " ".join(x if "/" not in x else ".../" + x.rsplit("/", 1)[-1] for x in map(no_temp, a))
    with open(path, "w") as f:
        f.write("# Bad input: what kkmeans says\n\n"
                "Generated by `/usr/bin/python3 tests/app/test_app.py build/apps/kkmeans/kkmeans mpirun --table "
                "docs/ROBUSTNESS.md` from the cases in `tests/app/test_app.py` (ctest runs the same cases and "
                "asserts each: one line on stderr naming the problem, this exit status, no output file or "
                "temporary file left behind). Exit status: 2 bad usage, 1 bad data or a run-time failure.\n\n"
                "| # | command (temporary paths shortened, in messages too) | ranks | exit | message |\n| --- | --- | --- | --- | --- |\n")
        for i, (env, args, np_, code, msg) in enumerate(TABLE, 1):
            m = no_temp(msg).replace("|", "\\|")
            command = f"{' '.join(env + ['kkmeans'])} {short(args)}".replace("|", "\\|")
            f.write(f"| {i} | `{command}` | {np_} | {code} | {m} |\n")
        f.write(TRAILER)


def shard_of_each(shards):
    """Test name -> shard: the longest first, each to the shard with the least time so far."""
    load, shard_of = [0.0] * shards, {}
    for t in sorted(TESTS, key=lambda t: -SECONDS.get(t.__name__, 5)):
        s = load.index(min(load))
        shard_of[t.__name__] = s
        load[s] += SECONDS.get(t.__name__, 5)
    return shard_of


def main():
    table = None
    if "--table" in sys.argv:
        table = sys.argv[sys.argv.index("--table") + 1]
    only = os.environ.get("KKMEANS_APP_TESTS")  # e.g. "bad_inputs,sample_weights": run just these
    shard, shards = (int(v) for v in os.environ.get("KKMEANS_APP_SHARD", "0/1").split("/"))
    shard_of = shard_of_each(shards)
    passed = failed = 0
    for t in TESTS:
        if (only and t.__name__ not in only.split(",")) or shard_of[t.__name__] != shard:
            continue
        d = tempfile.mkdtemp(prefix=f"kkm-{t.__name__}-")
        start = time.monotonic()
        try:
            t(d)
            passed += 1
            print(f"PASS {t.__name__} ({time.monotonic() - start:.1f} s)", flush=True)
        except Exception:
            failed += 1
            print(f"FAIL {t.__name__}\n{traceback.format_exc()}", flush=True)
        finally:
            shutil.rmtree(d, ignore_errors=True)
    if table:
        write_table(table)
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
