#!/usr/bin/python3
"""The longest files and functions of src/, and whether they keep the size limits.

    /usr/bin/python3 scripts/size_report.py [--max-file 600] [--max-function 80] [--top 10] [--scanner auto]

Lists the --top longest C++ files under src/ (*.hpp, *.cpp of the working tree, tracked or not;
lines as `wc -l` counts them) and the --top longest function definitions (first line of the name to
the closing brace, as ctags reports them), then every file over --max-file lines and every function
over --max-function lines; the exit status is 1 if there is any, else 0.

A function is what universal-ctags calls one (`ctags --c++-kinds=f --fields=+ne`: kind "function"
with an "end"): free functions, member functions, constructors and operators, in headers too.
Lambdas are not functions (ctags names them __anon…); their lines count in the function around
them. This is what the before-stop hook checks. Without ctags (`apt-get install universal-ctags`)
a brace-matching scanner stands in: it skips comments, strings and preprocessor lines, takes a `{`
after a parameter list (and after const/noexcept/override, a trailing return type or a
constructor's initializer list) as a function body, and not after `if`/`for`/`while`/`switch`/
`catch`, a lambda's `]` or `KOKKOS_LAMBDA`. Its extents agree with ctags' on this code base (it
also sees the functions of `#else` branches, which ctags skips); --scanner ctags fails without
ctags instead of falling back.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXTENSIONS = (".hpp", ".cpp")


def source_files(top):
    out = []
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames.sort()
        out += [os.path.join(dirpath, f) for f in sorted(filenames) if f.endswith(EXTENSIONS)]
    return out


def line_count(path):
    with open(path, "rb") as f:
        return f.read().count(b"\n")


# ---------------------------------------------------------------- ctags

def functions_ctags(top):
    """(lines, path, first line, name) of every function ctags finds under top."""
    cmd = ["ctags", "-R", "--c++-kinds=f", "--fields=+ne", "--output-format=json", "-o", "-", "--languages=C++",
           "--langmap=C++:+.hpp", top]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    found = []
    for ln in out.splitlines():
        t = json.loads(ln)
        if t.get("_type", "tag") != "tag" or t.get("kind") != "function" or "end" not in t:
            continue
        if t["name"].startswith("__anon"):  # a lambda
            continue
        name = f"{t['scope']}::{t['name']}" if t.get("scope") else t["name"]
        found.append((t["end"] - t["line"] + 1, t["path"], t["line"], name))
    return found


def has_universal_ctags():
    if not shutil.which("ctags"):
        return False
    try:
        v = subprocess.run(["ctags", "--version"], capture_output=True, text=True).stdout
    except OSError:
        return False
    return "Universal Ctags" in v


# ---------------------------------------------------------------- brace scanner

TOKEN = re.compile(r"[A-Za-z_]\w*|->|::|\S")
NOT_A_NAME = {"if", "for", "while", "switch", "catch", "return", "sizeof", "alignof", "decltype", "noexcept",
              "static_assert", "alignas", "constexpr", "else", "do", "KOKKOS_LAMBDA", "KOKKOS_CLASS_LAMBDA",
              "__device__", "__host__", "__global__", "requires", "throw", "new", "delete", "case", "typeid",
              "KOKKOS_FUNCTION", "KOKKOS_INLINE_FUNCTION", "KOKKOS_FORCEINLINE_FUNCTION"}
ACCESS = {"public", "private", "protected"}
QUALIFIERS = {"const", "volatile", "noexcept", "override", "final", "mutable", "&", "&&", "try"}


def blank_code(text):
    """text with comments, string and character literals and preprocessor lines replaced by spaces
    (newlines kept, so that offsets keep their line numbers)."""
    out = []
    i, n = 0, len(text)
    at_line_start = True
    while i < n:
        c = text[i]
        if at_line_start and c == "#":  # a preprocessor line, with its continuations
            j = i
            while j < n and text[j] != "\n":
                j += 2 if text[j] == "\\" and j + 1 < n else 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
            continue
        if c == "\n":
            at_line_start = True
            out.append(c)
            i += 1
            continue
        if not c.isspace():
            at_line_start = False
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == 'R' and text.startswith('R"', i) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'R"([^(\s]*)\(', text[i:])
            end = text.find(")" + m.group(1) + '"', i) if m else -1
            j = n if end < 0 else end + len(m.group(1)) + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c in "\"'":
            if c == "'" and i > 0 and text[i - 1].isalnum():  # a digit separator: 1'000'000
                out.append(" ")
                i += 1
                continue
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(" " * (j - i))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def tokens_of(code):
    """[(token, line)]"""
    toks, line, pos = [], 1, 0
    for m in TOKEN.finditer(code):
        line += code.count("\n", pos, m.start())
        pos = m.start()
        toks.append((m.group(), line))
    return toks


def matching_open(toks, close_at, opener, closer):
    depth = 0
    for i in range(close_at, -1, -1):
        if toks[i][0] == closer:
            depth += 1
        elif toks[i][0] == opener:
            depth -= 1
            if depth == 0:
                return i
    return -1


def function_name_before(toks, brace, block_open_of):
    """If the `{` at toks[brace] opens a function body: (name, index of the name token); else None."""
    i = brace - 1
    # a trailing return type: `) -> T {`: step back to the `->` at the same nesting
    depth = 0
    for j in range(i, max(-1, i - 64), -1):
        t = toks[j][0]
        if t in ")]>":
            depth += 1
        elif t in "([<":
            depth -= 1
        elif t in ";{}" and depth <= 0:
            break
        elif t == "->" and depth == 0:
            i = j - 1
            break
    while i >= 0:
        t = toks[i][0]
        if t in QUALIFIERS:
            i -= 1
        elif t == ")" and i >= 1:
            op = matching_open(toks, i, "(", ")")
            if op <= 0:
                return None
            before = toks[op - 1][0]
            if before == "noexcept" or before == "requires":  # noexcept(...) / requires(...): keep going
                i = op - 2
                continue
            if before == "operator" or (before == ")" and op >= 2 and toks[op - 2][0] == "(" and op >= 3
                                        and toks[op - 3][0] == "operator"):
                return ("operator ()", op - 3) if before == ")" else None
            k = op - 1
            # operator+=(…), operator[](…), operator bool(…): up to three tokens after `operator`
            for s in range(k - 1, max(-1, k - 4), -1):
                if toks[s][0] in (";", "{", "}"):
                    break
                if toks[s][0] == "operator":
                    return "operator " + "".join(t for t, _ in toks[s + 1:k + 1]), s
            if before == ">":  # f<T>(…): a template argument list before the parameters
                lt = matching_open(toks, k, "<", ">")
                k = lt - 1 if lt > 0 else k
                before = toks[k][0]
            if not re.match(r"[A-Za-z_]\w*$", before) or before in NOT_A_NAME:
                return None
            prev = toks[k - 1][0] if k >= 1 else ""
            if prev == ":" and k >= 2 and toks[k - 2][0] in ACCESS:  # `public: Foo(…) {`
                prev = ""
            if prev in (",", ":") and k >= 1:  # a member initializer `: a_(x), b_(y) {`: keep going back
                i = initializer_list_start(toks, k)
                if i is None:
                    return None
                continue
            if prev == "~":
                return "~" + before, k - 1
            return before, k
        elif t == "}" and i in block_open_of:  # a member initializer with braces: `, b_{y} {`
            k = block_open_of[i] - 1
            if k >= 1 and re.match(r"[A-Za-z_]\w*$", toks[k][0]) and toks[k - 1][0] in (",", ":"):
                i = initializer_list_start(toks, k)
                if i is None:
                    return None
                continue
            return None
        else:
            return None
    return None


def initializer_list_start(toks, k):
    """From a member initializer's name at toks[k], the index of the `)` that closes the constructor's
    parameters (before the initializer list's `:`), or None."""
    while k >= 1:
        prev = toks[k - 1][0]
        if prev == ":":
            return k - 2 if k >= 2 and toks[k - 2][0] in (")",) or (k >= 2 and toks[k - 2][0] in QUALIFIERS) else None
        if prev != ",":
            return None
        j = k - 2  # the previous initializer ends with ) or }
        if j < 0 or toks[j][0] not in (")", "}"):
            return None
        op = matching_open(toks, j, "(", ")") if toks[j][0] == ")" else matching_open(toks, j, "{", "}")
        if op < 1:
            return None
        k = op - 1
        while k >= 1 and toks[k][0] == ">":  # Base<T>(…)
            lt = matching_open(toks, k, "<", ">")
            k = lt - 1 if lt > 0 else k - 1
    return None


def functions_braces(top):
    found = []
    for path in source_files(top):
        with open(path, encoding="utf-8", errors="replace") as f:
            toks = tokens_of(blank_code(f.read()))
        stack, block_open_of = [], {}
        for i, (t, line) in enumerate(toks):
            if t == "{":
                stack.append((i, function_name_before(toks, i, block_open_of)))
            elif t == "}" and stack:
                op, fn = stack.pop()
                block_open_of[i] = op
                if fn:
                    name, at = fn
                    found.append((line - toks[at][1] + 1, path, toks[at][1], name))
    return found


# ---------------------------------------------------------------- report

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--max-file", type=int, default=600, help="most lines of a file in src/ (default 600)")
    ap.add_argument("--max-function", type=int, default=80, help="most lines of a function (default 80)")
    ap.add_argument("--top", type=int, default=10, help="how many of the longest to list (default 10)")
    ap.add_argument("--scanner", choices=["auto", "ctags", "braces"], default="auto",
                    help="how functions are found (auto: universal-ctags if installed, else the brace scanner)")
    ap.add_argument("--src", default="src", help="folder to measure, relative to the repository root (default src)")
    a = ap.parse_args()
    os.chdir(ROOT)
    if not os.path.isdir(a.src):
        sys.exit(f"size_report: no folder {a.src} in {ROOT}")
    scanner = a.scanner
    if scanner == "auto":
        scanner = "ctags" if has_universal_ctags() else "braces"
    elif scanner == "ctags" and not has_universal_ctags():
        sys.exit("size_report: universal-ctags not found (apt-get install universal-ctags)")
    files = sorted(((line_count(p), p) for p in source_files(a.src)), key=lambda x: (-x[0], x[1]))
    funcs = functions_ctags(a.src) if scanner == "ctags" else functions_braces(a.src)
    funcs.sort(key=lambda x: (-x[0], x[1], x[2]))

    print(f"Longest files in {a.src}/ (lines; {len(files)} files, {sum(n for n, _ in files)} lines):")
    for n, p in files[:a.top]:
        print(f"  {n:6d}  {p}")
    print(f"Longest functions in {a.src}/ (lines; {len(funcs)} functions, found by {scanner}):")
    for n, p, line, name in funcs[:a.top]:
        print(f"  {n:6d}  {p}:{line}  {name}")
    big_files = [f for f in files if f[0] > a.max_file]
    big_funcs = [f for f in funcs if f[0] > a.max_function]
    for n, p in big_files:
        print(f"over {a.max_file} lines: {p} ({n})")
    for n, p, line, name in big_funcs:
        print(f"over {a.max_function} lines: {p}:{line} {name} ({n})")
    if big_files or big_funcs:
        print(f"size_report: {len(big_files)} file(s) over {a.max_file} lines, {len(big_funcs)} function(s) over "
              f"{a.max_function} lines")
        return 1
    print(f"size_report: every file ≤ {a.max_file} lines, every function ≤ {a.max_function} lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
