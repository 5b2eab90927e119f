#!/usr/bin/env python3
# Generates tests/vectors/ike_prf_plus.txt and ike_keys.txt: independent
# known answers for inlinesec's IKEv2 key schedule, computed with Python's
# hmac/hashlib straight from the RFC 7296 definitions (§2.13 prf+, §2.14
# SKEYSEED and key split, §2.17 Child SA keymat, §2.15 shared-key AUTH).
# Inputs are fixed byte patterns so the files are reproducible:
#   python3 tests/vectors/ike_gen_vectors.py
import hashlib, hmac, os

HASH = {5: hashlib.sha256, 6: hashlib.sha384, 7: hashlib.sha512}

def prf(alg, k, s):
    return hmac.new(k, s, HASH[alg]).digest()

def prf_plus(alg, k, s, n):
    out, t, i = b"", b"", 1
    while len(out) < n:
        t = prf(alg, k, t + s + bytes([i]))
        out += t
        i += 1
    return out[:n]

def pat(n, start):
    return bytes((start + i) & 0xFF for i in range(n))

here = os.path.dirname(os.path.abspath(__file__))
hdr = ("# {name}\n# Provenance: computed by tests/vectors/ike_gen_vectors.py with Python\n"
       "# hmac/hashlib from the RFC 7296 definitions ({secs}); not from inlinesec\n"
       "# code. Records are separated by blank lines; values are hex.\n\n")

with open(os.path.join(here, "ike_prf_plus.txt"), "w") as f:
    f.write(hdr.format(name="IKEv2 prf+ known answers", secs="§2.13"))
    for alg in (5, 6, 7):
        for klen, slen, n in ((32, 40, 16), (20, 64, 200), (64, 7, 333)):
            k, s = pat(klen, 0x10 + alg), pat(slen, 0xA0 + klen)
            f.write(f"prf = {alg}\nkey = {k.hex()}\nseed = {s.hex()}\nlength = {n}\n"
                    f"out = {prf_plus(alg, k, s, n).hex()}\n\n")

with open(os.path.join(here, "ike_keys.txt"), "w") as f:
    f.write(hdr.format(name="IKEv2 key derivation known answers",
                       secs="§2.14, §2.15, §2.17"))
    # (prf, encr keymat bytes, integ key bytes): AES-GCM-16-256 (32+4 salt, no
    # integ) with SHA-256; AES-CBC-128 + HMAC-SHA2-256-128 with SHA-384.
    for alg, ek, ik, encr, bits, integ in ((5, 36, 0, 20, 256, 0), (6, 16, 32, 12, 128, 12)):
        ni, nr = pat(32, 0x01), pat(32, 0x81)
        g = pat(256, 0x33)
        spi_i, spi_r = bytes.fromhex("0102030405060708"), bytes.fromhex("a1a2a3a4a5a6a7a8")
        skeyseed = prf(alg, ni + nr, g)
        plen = len(prf(alg, b"k", b""))
        km = prf_plus(alg, skeyseed, ni + nr + spi_i + spi_r, 3 * plen + 2 * ik + 2 * ek)
        parts, off = {}, 0
        for name, n in (("sk_d", plen), ("sk_ai", ik), ("sk_ar", ik), ("sk_ei", ek),
                        ("sk_er", ek), ("sk_pi", plen), ("sk_pr", plen)):
            parts[name] = km[off:off + n]
            off += n
        # Child SA keymat (§2.17), no PFS and with PFS (g^ir new).
        child = prf_plus(alg, parts["sk_d"], ni + nr, 2 * (ek + ik))
        g2 = pat(32, 0x55)
        child_pfs = prf_plus(alg, parts["sk_d"], g2 + ni + nr, 2 * (ek + ik))
        # IKE SA rekey (§2.18): SKEYSEED = prf(SK_d old, g^ir new | Ni | Nr).
        rk_seed = prf(alg, parts["sk_d"], g2 + ni + nr)
        rk = prf_plus(alg, rk_seed, ni + nr + spi_i + spi_r, plen)
        # PSK AUTH (§2.15) for the initiator.
        msg1 = pat(300, 0x44)
        id_body = bytes([2, 0, 0, 0]) + b"alice.example"
        psk = b"this is a test pre-shared key"
        octets = msg1 + nr + prf(alg, parts["sk_pi"], id_body)
        auth = prf(alg, prf(alg, psk, b"Key Pad for IKEv2"), octets)
        f.write(f"prf = {alg}\nencr = {encr}\nkey_bits = {bits}\ninteg = {integ}\n"
                f"ni = {ni.hex()}\nnr = {nr.hex()}\ng_ir = {g.hex()}\n"
                f"spi_i = {spi_i.hex()}\nspi_r = {spi_r.hex()}\nskeyseed = {skeyseed.hex()}\n")
        for name, v in parts.items():
            f.write(f"{name} = {v.hex()}\n")
        f.write(f"child_keymat = {child.hex()}\ng_ir_new = {g2.hex()}\n"
                f"child_keymat_pfs = {child_pfs.hex()}\nrekey_sk_d = {rk.hex()}\n"
                f"auth_msg = {msg1.hex()}\nauth_id_body = {id_body.hex()}\n"
                f"auth_psk = {psk.hex()}\nauth_i = {auth.hex()}\n\n")
