#!/usr/bin/env python3
"""Writes the seed corpus of checkpoint_fuzzer into tests/fuzz/corpus/checkpoint/.

Written from the format described in include/poisson/io/checkpoint.hpp, independently of
the C++ writer, so checkpoint_corpus_test also checks that description.
Usage: tests/fuzz/make_checkpoint_corpus.py [OUTPUT_FOLDER]
"""

import pathlib
import struct
import sys
import zlib

TENSOR, U64, TEXT = 1, 2, 3
ELEMENT = {"f": 1, "d": 2, "i": 3, "Q": 4}  # struct codes: float32 float64 int32 uint64


def record(name, kind, body):
    raw = name.encode()
    return struct.pack("<I", len(raw)) + raw + bytes([kind]) + body


def tensor(name, code, shape, values):
    body = bytes([ELEMENT[code]]) + struct.pack("<I", len(shape))
    body += b"".join(struct.pack("<Q", n) for n in shape)
    body += struct.pack("<%d%s" % (len(values), code), *values)
    return record(name, TENSOR, body)


def u64(name, value):
    return record(name, U64, struct.pack("<Q", value))


def text(name, value):
    return record(name, TEXT, struct.pack("<Q", len(value)) + value)


def checkpoint(records):
    """Records must come sorted by name, as the C++ writer sorts them."""
    body = b"".join(records)
    size = 24 + len(body) + 4
    content = b"POISCKPT" + struct.pack("<IIQ", 1, len(records), size) + body
    return content + struct.pack("<I", zlib.crc32(content))


def corpus():
    yield "empty", checkpoint([])
    yield "one_of_each", checkpoint([
        text("rng", b"state"),
        u64("step", 42),
        tensor("w", "f", [2, 2], [1.5, -2.0, 0.25, 3.0]),
    ])
    yield "all_elements", checkpoint([
        tensor("d", "d", [3], [-1e300, 0.1, 2.5]),
        tensor("i", "i", [2, 1], [-2147483648, 7]),
        tensor("s", "d", [], [2.5]),
        tensor("u", "Q", [1], [2**64 - 1]),
        tensor("z", "f", [0, 3], []),
    ])


def main():
    here = pathlib.Path(__file__).resolve().parent
    out = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else here / "corpus" / "checkpoint"
    out.mkdir(parents=True, exist_ok=True)
    for name, data in corpus():
        (out / name).write_bytes(data)


if __name__ == "__main__":
    main()
