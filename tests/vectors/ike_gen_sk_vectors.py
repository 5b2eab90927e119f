#!/usr/bin/env python3
# Generates tests/vectors/ike_sk.txt: SK payloads (RFC 7296 §3.14) sealed by
# an independent implementation -- Python's `cryptography` package -- from
# the RFC text alone: AES-GCM-16 per RFC 5282 (nonce = 4-byte salt from the
# keymat | 8-byte IV, AAD = IKE header + SK generic header, 16-byte ICV) and
# AES-CBC-128 with HMAC-SHA2-256-128 per RFC 4868 (ICV over the whole message
# up to the ICV). Run: python3 tests/vectors/ike_gen_sk_vectors.py
import hashlib, hmac, os, struct
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

def header(length, msg_id=5):
    # SPIi, SPIr, next=SK(46), version 2.0, INFORMATIONAL(37), I flag, msg id
    return (bytes.fromhex("0102030405060708a1a2a3a4a5a6a7a8") +
            bytes([46, 0x20, 37, 0x08]) + struct.pack(">II", msg_id, length))

# Inner payload: Delete (42) of one ESP SPI 0x12345678.
inner = bytes.fromhex("0000000c0304000112345678")
out = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "ike_sk.txt"), "w")
out.write("# SK payload vectors (RFC 7296 §3.14, RFC 5282, RFC 4868).\n"
          "# Provenance: tests/vectors/ike_gen_sk_vectors.py, Python `cryptography`\n"
          "# package; independent of inlinesec code. The message is an INFORMATIONAL\n"
          "# request from the original initiator with Delete(ESP, 0x12345678).\n\n")

# AES-GCM-16-256.
key, salt, iv = bytes(range(32)), bytes.fromhex("c0ffee01"), struct.pack(">Q", 1)
pt = inner + b"\x00"  # no padding, pad length 0
sk_len = 4 + 8 + len(pt) + 16
hdr = header(28 + sk_len)
skh = bytes([42, 0]) + struct.pack(">H", sk_len)
ct = AESGCM(key).encrypt(salt + iv, pt, hdr + skh)
msg = hdr + skh + iv + ct
out.write(f"encr = 20\nkey_bits = 256\ninteg = 0\nencr_key = {(key + salt).hex()}\n"
          f"integ_key = \nmessage = {msg.hex()}\n\n")

# AES-CBC-128 + HMAC-SHA2-256-128.
key, ikey, iv = bytes(range(16, 32)), bytes(range(100, 132)), bytes(range(200, 216))
pt = inner + b"\x00\x00\x00" + b"\x03"  # 12 + 3 pad + pad length = 16
sk_len = 4 + 16 + len(pt) + 16
hdr = header(28 + sk_len)
skh = bytes([42, 0]) + struct.pack(">H", sk_len)
enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
ct = enc.update(pt) + enc.finalize()
body = hdr + skh + iv + ct
icv = hmac.new(ikey, body, hashlib.sha256).digest()[:16]
out.write(f"encr = 12\nkey_bits = 128\ninteg = 12\nencr_key = {key.hex()}\n"
          f"integ_key = {ikey.hex()}\nmessage = {(body + icv).hex()}\n\n")
