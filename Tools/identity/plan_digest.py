#!/usr/bin/env python3
"""Device digest of a .hsplan file: sha256 over exactly what the device core reads from the file
beyond the header -- the tensor table, the op table, the training config and the data section.

The 64-byte header (size, CRC, section offsets) and the names section (source path, tensor names,
planner notes: host tools only) are left out, so a host-only addition to the names section changes
the file's sha256, size and CRC but not this digest. Each section is hashed with its name and length
in front of it, so bytes cannot move between sections unnoticed.

usage: plan_digest.py PLAN.hsplan    prints the hex digest; exit 1 on a malformed plan
"""
import hashlib
import struct
import sys

MAGIC = 0x4C505348  # "HSPL" little-endian
HEADER_BYTES = 64
TENSOR_RECORD_BYTES = 48
OP_RECORD_BYTES = 48


def digest(data: bytes) -> str:
    if len(data) < HEADER_BYTES:
        raise ValueError("shorter than the 64-byte header")
    magic, = struct.unpack_from("<I", data, 0)
    if magic != MAGIC:
        raise ValueError("bad magic 0x%08x" % magic)
    (tensor_count, tensor_off, op_count, op_off, config_off, config_bytes,
     data_off, data_bytes, _arena, _names_off, _names_bytes) = struct.unpack_from("<11I", data, 16)
    sections = [
        ("tensors", tensor_off, tensor_count * TENSOR_RECORD_BYTES),
        ("ops", op_off, op_count * OP_RECORD_BYTES),
        ("config", config_off, config_bytes),
        ("data", data_off, data_bytes),
    ]
    h = hashlib.sha256()
    for name, off, size in sections:
        if off < HEADER_BYTES or off + size > len(data):
            raise ValueError("%s section [%d, %d) outside the %d-byte file" % (name, off, off + size, len(data)))
        h.update(b"%s:%d:" % (name.encode(), size))
        h.update(data[off:off + size])
    return h.hexdigest()


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    try:
        with open(argv[1], "rb") as f:
            print(digest(f.read()))
    except (OSError, ValueError) as e:
        print("plan_digest.py: %s: %s" % (argv[1], e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
