#!/usr/bin/env python3
"""check-layers: the folder tree is the dependency graph.

Reads the layer table of docs/ARCHITECTURE.md (one row a layer, in dependency
order, naming the layer's public headers in include/herald/) and checks every
file of src/ and include/herald/ against it:
  - a file includes only headers of its own layer or of an earlier one;
  - every file of src/ sits in a layer's folder, every public header is named
    by exactly one layer;
  - nothing in src/channel/ includes store.h, directly or through another
    herald header;
  - a private header (src/LAYER/NAME.h) is included only from its own folder.
Each violation is printed as "FILE:LINE: ..." naming the include; the exit
status is 1 when there is any, 0 otherwise. With --selftest it first checks
itself: a copy of the tree with one bad include added must fail, naming it.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

ARGS = [a for a in sys.argv[1:] if a != "--selftest"]
ROOT = os.path.abspath(ARGS[0] if ARGS else ".")
MAP = os.path.join(ROOT, "docs", "ARCHITECTURE.md")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def read_layers():
    """[(layer, [headers])] from the rows between the layers markers."""
    layers, inside = [], False
    with open(MAP, encoding="utf-8") as f:
        for line in f:
            if line.startswith("<!-- layers"):
                inside = True
            elif line.startswith("<!-- /layers"):
                break
            elif inside and line.startswith("|"):
                cells = [c.strip() for c in line.strip().strip("|").split("|")]
                if cells[0] in ("layer", "") or set(cells[0]) <= set("-"):
                    continue
                layers.append((cells[0], cells[1].split()))
    if not layers:
        sys.exit("check-layers: no layer table in %s" % MAP)
    return layers


def includes(path):
    """[(line number, included name)] of a file's quoted includes."""
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            m = INCLUDE.match(line)
            if m:
                out.append((n, m.group(1)))
    return out


def main():
    layers = read_layers()
    rank = {name: i for i, (name, _) in enumerate(layers)}
    header_layer, errors = {}, []
    for name, headers in layers:
        for h in headers:
            if h in header_layer:
                errors.append("%s: header '%s.h' is named by two layers" % (MAP, h))
            header_layer[h] = name

    def rel(p):
        return os.path.relpath(p, ROOT)

    files = []  # (path, layer)
    inc_dir = os.path.join(ROOT, "include", "herald")
    for fn in sorted(os.listdir(inc_dir)):
        if fn.endswith(".h"):
            layer = header_layer.get(fn[:-2])
            if layer is None:
                errors.append("%s: public header in no layer (add it to the table in "
                              "docs/ARCHITECTURE.md)" % rel(os.path.join(inc_dir, fn)))
            else:
                files.append((os.path.join(inc_dir, fn), layer))
    for dirpath, _, names in sorted(os.walk(os.path.join(ROOT, "src"))):
        for fn in sorted(names):
            if not fn.endswith((".c", ".h")):
                continue
            path = os.path.join(dirpath, fn)
            parts = os.path.relpath(path, os.path.join(ROOT, "src")).split(os.sep)
            if len(parts) != 2 or parts[0] not in rank:
                errors.append("%s: not in a layer's folder (src/LAYER/, see "
                              "docs/ARCHITECTURE.md)" % rel(path))
                continue
            files.append((path, parts[0]))

    # herald headers each public header pulls in, transitively
    direct = {h: [inc[len("herald/"):-2] for _, inc in includes(os.path.join(inc_dir, h + ".h"))
                  if inc.startswith("herald/")]
              for h in header_layer if os.path.exists(os.path.join(inc_dir, h + ".h"))}

    def closure(h, seen):
        for d in direct.get(h, []):
            if d not in seen:
                seen.add(d)
                closure(d, seen)
        return seen

    for path, layer in files:
        for line, inc in includes(path):
            where = "%s:%d: #include \"%s\"" % (rel(path), line, inc)
            if inc.startswith("herald/"):
                h = inc[len("herald/"):-2]
                to = header_layer.get(h)
                if to is None:
                    errors.append("%s: a header in no layer" % where)
                    continue
                if rank[to] > rank[layer]:
                    errors.append("%s: %s may not include %s, a later layer" % (where, layer, to))
                if layer == "channel" and "store" in closure(h, {h}):
                    errors.append("%s: channel code may not reach store.h" % where)
            elif "/" not in inc:
                own = os.path.join(os.path.dirname(path), inc)
                if not os.path.exists(own):
                    errors.append("%s: a private header of another folder" % where)
    for e in errors:
        print(e)
    if errors:
        print("check-layers: %d violation(s) of docs/ARCHITECTURE.md" % len(errors))
        return 1
    print("check-layers: %d files follow the %d layers of docs/ARCHITECTURE.md"
          % (len(files), len(layers)))
    return 0


def selftest():
    """A copy of the tree where core includes an audit header must fail."""
    with tempfile.TemporaryDirectory(prefix="herald-layers-") as tmp:
        for d in ("docs", "include", "src"):
            shutil.copytree(os.path.join(ROOT, d), os.path.join(tmp, d))
        bad = os.path.join(tmp, "src", "core", "buf.c")
        with open(bad, "a", encoding="utf-8") as f:
            f.write('#include "herald/audit.h"\n')
        r = subprocess.run([sys.executable, os.path.abspath(__file__), tmp],
                           capture_output=True, text=True)
        want = "src/core/buf.c:"
        if r.returncode != 1 or want not in r.stdout or "core may not include audit" not in r.stdout:
            print("check-layers: self-test failed: a bad include in src/core/buf.c was not "
                  "reported:\n" + r.stdout + r.stderr)
            return 1
    return 0


if __name__ == "__main__":
    if "--selftest" in sys.argv[1:] and selftest():
        sys.exit(1)
    sys.exit(main())
