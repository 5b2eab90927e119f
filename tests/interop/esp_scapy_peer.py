#!/usr/bin/python3
# Scapy as an independent ESP peer for the inlinesec model (driven by
# esp_scapy_test.cc). Reads a JSON job: a list of SAs, each with operations
# ("decrypt" a wire packet the model produced, "encrypt" an inner packet with
# a given sequence number, ESN high half and IV), runs them with Scapy's own
# ESP code (scapy.layers.ipsec.SecurityAssociation), and writes a JSON list
# of results, one per operation, in order. Nothing is sent anywhere.
#
# Usage: esp_scapy_peer.py <job.json> <result.json>
# Exit 3 if Scapy (python3-scapy) cannot be imported.
import binascii
import json
import sys

try:
    from scapy.layers.inet import IP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.ipsec import ESP, SecurityAssociation
    from scapy.packet import Raw, raw
except ImportError as err:  # the C++ test turns this into a skip
    sys.stderr.write("scapy unavailable: %s\n" % err)
    sys.exit(3)


def build_sa(d):
    tunnel = None
    if d["mode"] == "tunnel":
        if d["v6"]:
            tunnel = IPv6(src=d["src"], dst=d["dst"], hlim=64)
        else:
            tunnel = IP(src=d["src"], dst=d["dst"], ttl=64)
    nat_t = UDP(sport=d["sport"], dport=d["dport"]) if d["udp"] else None
    return SecurityAssociation(
        ESP,
        spi=d["spi"],
        crypt_algo=d["algo"],
        crypt_key=binascii.unhexlify(d["key"]),
        tunnel_header=tunnel,
        nat_t_header=nat_t,
        esn_en=d["esn"],
    )


def run(job):
    results = []
    for d in job["sas"]:
        sa = build_sa(d)
        for op in d["ops"]:
            try:
                data = binascii.unhexlify(op["pkt"])
                pkt = (IPv6 if data and data[0] >> 4 == 6 else IP)(data)
                # Scapy never infers the ESN high half: it is passed in.
                if op["op"] == "decrypt":
                    out = sa.decrypt(pkt, esn_en=d["esn"], esn=op["esn_hi"])
                else:
                    # Scapy reads seq_num 0 as "use the SA's counter" (the low
                    # half is 0 after an ESN wrap), so the counter is set too.
                    sa.seq_num = op["seq"]
                    out = sa.encrypt(
                        pkt,
                        seq_num=op["seq"],
                        iv=binascii.unhexlify(op["iv"]),
                        esn_en=d["esn"],
                        esn=op["esn_hi"],
                    )
                results.append({"ok": True, "pkt": binascii.hexlify(raw(out)).decode()})
            except Exception as err:  # reported, the C++ side decides
                results.append({"ok": False, "error": "%s: %s" % (type(err).__name__, err)})
    return results


def main():
    with open(sys.argv[1]) as f:
        job = json.load(f)
    results = run(job)
    with open(sys.argv[2], "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main()
