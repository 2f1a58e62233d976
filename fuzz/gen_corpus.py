#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target from compat/cases/*.case.

Each command line of a case becomes a RESP request (and, for some, the
inline form too); each file holds one request, or a whole case as a
pipeline. Every input starts with the 3 control bytes the targets read
(limit choice, split seed). Usage: gen_corpus.py OUT_DIR [OUT_DIR...]
"""
import hashlib
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
ESC = {"n": b"\n", "r": b"\r", "t": b"\t", "b": b"\b", "a": b"\a"}


def split_args(line):
    """Redis's sdssplitargs, as compat/cases lines are written."""
    args, i, n = [], 0, len(line)
    while True:
        while i < n and line[i].isspace():
            i += 1
        if i >= n:
            return args
        cur, quote = b"", None
        while i < n:
            c = line[i]
            if quote == '"':
                if c == "\\" and line[i + 1 : i + 2] == "x" and len(line) > i + 3:
                    try:
                        cur += bytes([int(line[i + 2 : i + 4], 16)])
                        i += 4
                        continue
                    except ValueError:
                        pass
                if c == "\\" and i + 1 < n:
                    cur += ESC.get(line[i + 1], line[i + 1].encode())
                    i += 2
                    continue
                if c == '"':
                    quote = None
                    i += 1
                    break
                cur += c.encode()
            elif quote == "'":
                if c == "'":
                    quote = None
                    i += 1
                    break
                cur += c.encode()
            elif c.isspace():
                break
            elif c in "\"'":
                quote = c
            else:
                cur += c.encode()
            i += 1
        args.append(cur)


def resp(args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def main():
    outs = [pathlib.Path(p) for p in sys.argv[1:]]
    seeds = set()
    for case_file in sorted((ROOT / "compat" / "cases").glob("*.case")):
        pipeline = b""
        for line in case_file.read_text().splitlines():
            line = line.strip()
            if not line or line[0] in "#@" or line.startswith("==="):
                if line.startswith("===") and pipeline:
                    seeds.add(pipeline)
                    pipeline = b""
                continue
            args = split_args(line)
            if not args:
                continue
            seeds.add(resp(args))
            pipeline += resp(args)
            if all(b" " not in a and b"\r" not in a and b"\n" not in a for a in args):
                seeds.add(b" ".join(args) + b"\r\n")
        if pipeline:
            seeds.add(pipeline)
    for out in outs:
        out.mkdir(parents=True, exist_ok=True)
        for i, seed in enumerate(sorted(seeds)):
            data = bytes([0 if i % 4 else (i // 4) % 5, i % 251, 7]) + seed
            name = hashlib.sha1(data).hexdigest()
            (out / name).write_bytes(data)
    print(f"{len(seeds)} seeds written to {', '.join(map(str, outs))}")


if __name__ == "__main__":
    main()
