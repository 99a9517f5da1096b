"""Reads a W&B offline run file (``run-*.wandb``) as ``wandb sync`` does: a 7-byte header
(``:W&B``, magic 0xBEE1, version 0) and LevelDB log records of 32 KiB blocks holding
``wandb_internal_pb2.Record`` protobufs (parsed with wandb's own generated classes)."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

BLOCK = 32768
HEADER = b":W&B" + struct.pack("<H", 0xBEE1) + b"\x00"
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def records(path: Path) -> list[Any]:
    from wandb.proto import wandb_internal_pb2 as pb

    data = path.read_bytes()
    if not data.startswith(HEADER):
        raise ValueError(f"{path}: not a W&B run file (header {data[:7]!r})")
    pos, out, parts = len(HEADER), [], b""
    while pos + 7 <= len(data):
        left = BLOCK - pos % BLOCK
        if left < 7:  # block trailer padding
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        chunk = data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind == 0 and length == 0:
            continue
        if kind == FULL:
            parts = chunk
        elif kind == FIRST:
            parts = chunk
            continue
        elif kind == MIDDLE:
            parts += chunk
            continue
        elif kind == LAST:
            parts += chunk
        rec = pb.Record()
        rec.ParseFromString(parts)
        out.append(rec)
        parts = b""
    return out
