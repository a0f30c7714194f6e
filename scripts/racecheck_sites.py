#!/usr/bin/env python3
"""Sort compute-sanitizer racecheck reports by where their accesses are in the source.

    python3 scripts/racecheck_sites.py LOG...

Each report ("Error|Warning: Race reported between A access at F+0xOFF in FILE:LINE / and B access
at ...") goes to one of four groups:
- kkmeans: an access in kkmeans' own code (a file under src/kkmeans, apps/kkmeans or tests/);
- Kokkos: every access in Kokkos' headers;
- Kokkos range reduction: accesses without a source line in a RangePolicy parallel_reduce kernel,
  whose functor cannot reach shared memory (no team scratch), so that they are Kokkos' own
  reduction's (kokkos/kokkos#4482);
- unattributed: an access without a source line anywhere else (a build without -lineinfo).
Prints, per log, the reports of each group and their sites; exit status 1 if any report is in the
kkmeans or unattributed group, so that a shared-memory hazard of ours fails the run even where
racecheck calls it only a warning.
"""

import collections
import re
import sys

REPORT = re.compile(r"=+ (Error|Warning): Race reported between (Read|Write) access at (.*)")
PAIR = re.compile(r"=+\s+and (Read|Write) access at (.*)")
# "...function+0xOFF in FILE:LINE [N hazards]" (recent versions) or "0xOFF in FILE:LINE:function"
SITE = re.compile(r"in (\S+?):(\d+)")
HAZARDS = re.compile(r"\[(\d+) hazards?\]")
OURS = ("/src/kkmeans/", "/apps/kkmeans/", "/tests/")


def site(text):
    """(FILE, LINE) of an access, or None; text: what follows "access at"."""
    m = SITE.search(text.split("+0x")[-1]) if "+0x" in text else SITE.search(text)
    return (m.group(1), int(m.group(2))) if m else None


def range_reduction(text):
    return "ParallelReduce<" in text and "RangePolicy<" in text and "TeamPolicy<" not in text


def group(texts):
    sites = [site(t) for t in texts]
    if any(s is not None and any(o in s[0] for o in OURS) for s in sites):
        return "kkmeans"
    unlined = [t for t, s in zip(texts, sites) if s is None]
    if not unlined:
        return "Kokkos"
    return "Kokkos range reduction" if all(range_reduction(t) for t in unlined) else "unattributed"


def read(path):
    reports = []  # [severity, [access texts], hazards]
    with open(path, errors="replace") as f:
        for line in f:
            m = REPORT.match(line)
            if m:
                reports.append([m.group(1), [m.group(3)], 0])
                continue
            m = PAIR.match(line)
            if m and reports:
                reports[-1][1].append(m.group(2))
                h = HAZARDS.search(line)
                reports[-1][2] += int(h.group(1)) if h else 1
    return reports


def main(paths):
    bad = False
    for path in paths:
        reports = read(path)
        groups = collections.Counter(group(r[1]) for r in reports)
        sev = collections.Counter(r[0] for r in reports)
        print(f"{path}: {len(reports)} reports ({sev['Error']} errors, {sev['Warning']} warnings): "
              + ", ".join(f"{n} {g}" for g, n in sorted(groups.items())) if reports else f"{path}: no reports")
        ours = collections.Counter()
        theirs = collections.Counter()
        for r in reports:
            g = group(r[1])
            for t in r[1]:
                s = site(t)
                if s is None:
                    continue
                name = f"{re.sub(r'^.*/(include|src)/', '', s[0]) if g != 'kkmeans' else s[0]}:{s[1]}"
                (ours if g == "kkmeans" else theirs)[name] += r[2]
        for name, n in ours.most_common():
            print(f"  kkmeans site {name}: {n} hazards")
        if theirs:
            print("  Kokkos sites: " + ", ".join(f"{name} ({n})" for name, n in theirs.most_common(8))
                  + (f", … {len(theirs) - 8} more" if len(theirs) > 8 else ""))
        bad = bad or groups["kkmeans"] > 0 or groups["unattributed"] > 0
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: racecheck_sites.py LOG...")
    sys.exit(main(sys.argv[1:]))
