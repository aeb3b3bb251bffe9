#!/usr/bin/env python3
"""Writes the seed corpus of idx_fuzzer into tests/fuzz/corpus/idx/.

Tiny valid IDX files, raw and gzipped, and broken ones near each check of the reader.
Deterministic (gzip time stamps are 0), so rerunning it leaves git with no change.
Usage: tests/fuzz/make_idx_corpus.py [OUTPUT_FOLDER]
"""

import gzip
import pathlib
import struct
import sys


def idx(shape, payload, element_type=0x08):
    """An IDX file: 00 00 type rank, big-endian 32-bit sizes, then the payload."""
    sizes = b"".join(struct.pack(">I", n) for n in shape)
    return bytes([0, 0, element_type, len(shape)]) + sizes + bytes(payload)


def pack(data):
    return gzip.compress(data, compresslevel=9, mtime=0)


def corpus():
    images = idx([2, 3, 3], range(18))
    labels = idx([5], [5, 0, 4, 1, 9])
    packed = pack(images)
    yield "images_raw", images
    yield "labels_raw", labels
    yield "images_gz", packed
    yield "labels_gz", pack(labels)
    yield "two_members_gz", pack(images[:7]) + pack(images[7:])
    yield "label_above_9", idx([3], [1, 10, 2])
    yield "rank_2", idx([4, 2], range(8))
    yield "empty_payload", idx([0, 28, 28], [])
    yield "payload_short", images[:-1]
    yield "payload_long", images + b"\x00"
    yield "payload_short_gz", pack(images[:-1])
    yield "payload_long_gz", pack(images + b"\x00")
    yield "short_header", images[:6]
    yield "bad_magic", b"\x01" + images[1:]
    yield "bad_type", idx([2], [0] * 8, element_type=0x0D)
    yield "zero_rank", bytes([0, 0, 8, 0])
    yield "overflow", idx([0xFFFFFFFF] * 3, [])
    yield "above_cap", idx([1 << 31], [])
    yield "gz_truncated", packed[:-5]
    yield "gz_bad_crc", packed[:-8] + bytes([packed[-8] ^ 1]) + packed[-7:]
    yield "gz_trailing_garbage", packed + b"\x00\x01"
    yield "gz_bomb_small", pack(idx([16], [0] * 16) + bytes(1 << 16))


def main():
    here = pathlib.Path(__file__).resolve().parent
    out = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else here / "corpus" / "idx"
    out.mkdir(parents=True, exist_ok=True)
    for name, data in corpus():
        (out / name).write_bytes(data)


if __name__ == "__main__":
    main()
