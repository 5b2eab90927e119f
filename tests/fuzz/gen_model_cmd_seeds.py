#!/usr/bin/env python3
# Writes the seed corpus of fuzz_model_cmd (tests/fuzz/corpus/model_cmd/):
# small scripts in the format documented in tests/fuzz/model_cmd_fuzz.cc that
# reach every opcode, the batch path, register writes, exceptions and the
# fault plan. Run from the repository root; the seeds are committed.
import os
import struct

OUT = os.path.join(os.path.dirname(__file__), "corpus", "model_cmd")


def cmd(opcode, flags=0, tag=0, sa_index=0, count=0, dma_addr=0, dma_len=0, spi=0, mode=1):
    d = struct.pack("<BBHIIIQII", opcode, flags, 0, tag, sa_index, count, dma_addr, dma_len, spi)
    d += bytes(32)
    assert len(d) == 64
    return b"\x00" + d + bytes([mode])


def sa(idx, ctl_bits, crypto_sel, mut=0):
    return b"\x04" + struct.pack("<HBBB", idx, ctl_bits, crypto_sel, mut)


def reg_write(off, value):
    return b"\x02" + struct.pack("<HI", off, value)


def reg_read(off):
    return b"\x03" + struct.pack("<H", off)


def dma(off, data):
    pad = (-len(data)) % 4
    data += bytes(pad)
    return b"\x01" + struct.pack("<HB", off, len(data) // 4) + data


def exq(reason, flags, snap):
    return b"\x05" + bytes([reason, flags, len(snap)]) + snap


def faults(drop, fail, corrupt, reset_after):
    return b"\x06" + bytes([drop, fail, corrupt, reset_after])


DRAIN = b"\x07"
RESTART = b"\x87"


def entry(spi, inbound=True):
    # A valid AES-GCM-128 tunnel SaEntry (192 bytes).
    ctl = 1 | (0 if inbound else 2) | 4
    crypto = 1 | (16 << 8) | (16 << 16)
    e = struct.pack("<IIII", spi, ctl, crypto, 64)
    e += b"\xde\xad\xbe\xef" + struct.pack("<IHH", 0, 0, 0) + bytes(4)
    e += bytes(range(1, 17)) + bytes(48)
    e += struct.pack("<QQQQQ", 5, 0, 0, 0, 0)
    e += bytes([10, 0, 0, 1]) + bytes(12) + bytes([10, 0, 0, 2]) + bytes(12)
    e += struct.pack("<Q", 0x1234) + bytes(16)
    assert len(e) == 192
    return e


def record(index, e, flags=0):
    return struct.pack("<II", index, flags) + bytes(8) + e


seeds = {
    "basic_commands": cmd(1, tag=1)
    + sa(300, 0, 0)  # kBadIndex (capacity 256)
    + sa(44, 0, 0)
    + sa(5, 1, 1)
    + cmd(5, sa_index=5, dma_len=64, mode=1 | (64 << 1))
    + cmd(4, sa_index=5)
    + cmd(7, dma_len=128, mode=1 | (32 << 1))
    + cmd(6)
    + DRAIN,
    "batch": dma(0, record(0x10, entry(0xAB000010)) + record(0x11, entry(0x11, False))
                 + record(0x12, entry(0xAB000012)))
    + cmd(3, count=3, dma_len=3 * 208)
    + cmd(3, count=3, dma_len=3 * 208)  # kExists
    + cmd(3, count=2, dma_len=2 * 208, mode=1 | (13 << 1))  # misaligned records
    + DRAIN,
    "registers": reg_read(0x000)
    + reg_write(0x050, 0xA5A5A5A5)
    + reg_write(0x04C, 0x1F)
    + reg_write(0x040, 0)
    + reg_write(0x128, 2)
    + reg_write(0x040, 1)
    + reg_write(0x040, 2)
    + RESTART
    + reg_read(0x200)
    + reg_read(0x204)
    + reg_write(0x10C, 40)
    + cmd(1)
    + DRAIN,
    "exceptions": b"".join(exq(r, r & 7, bytes(range(r * 9))) for r in range(9))
    + faults(0, 0, 2, 0)
    + b"".join(exq(1, 0, b"abc") for _ in range(12))
    + DRAIN
    + exq(2, 1, b"x" * 80),
    "faults": faults(1, 1, 0, 1)
    + cmd(1)
    + cmd(1)
    + sa(7, 0x40, 4)
    + dma(0, record(1, entry(1, False)) + record(2, entry(2, False)) + record(3, entry(3, False)))
    + cmd(3, count=3, dma_len=3 * 208)
    + RESTART
    + sa(9, 0x01, 0x80, 0x85)
    + DRAIN,
}

os.makedirs(OUT, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
    print(name, len(data))
