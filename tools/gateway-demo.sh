#!/usr/bin/env bash
# gateway-demo.sh: two inlinesecd gateways in two network namespaces, joined
# by a veth pair, with statically keyed SAs. It shows traffic crossing both
# engine models' ESP, injects faults (engine reset, reset behind the driver,
# a random-SPI flood from spoofed sources) and prints a timeline of what
# the gateways did about them. After every fault it waits (bounded) for
# the gateway to report restored traffic and checks it with a ping; it
# exits non-zero if traffic does not come back. Root only; everything it
# creates lives in its own namespaces and a temporary directory, and is
# removed on exit. Takes about 10 s.
#
#   sudo tools/gateway-demo.sh [BUILD_DIR]      (default: build)
set -euo pipefail

BUILD=${1:-build}
D=$BUILD/sdk/daemon/inlinesecd
C=$BUILD/sdk/cli/inlinesec
[[ $(id -u) == 0 ]] || { echo "gateway-demo: needs root (namespaces, TUN)"; exit 2; }
[[ -x $D && -x $C ]] || { echo "gateway-demo: build inlinesecd and inlinesec in $BUILD first"; exit 2; }

NA=isec-demo-a-$$ NB=isec-demo-b-$$
TMP=$(mktemp -d /tmp/isec-demo-XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  ip netns del "$NA" 2>/dev/null || true
  ip netns del "$NB" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

T0=$(date +%s%N)
say() { printf '[%8.3f ms] %s\n' "$(( ($(date +%s%N) - T0) ))e-6" "$*"; }

ip netns add "$NA"
ip netns add "$NB"
ip link add veth-a netns "$NA" type veth peer name veth-b netns "$NB"
ip -n "$NA" addr add 192.168.77.1/24 dev veth-a
ip -n "$NB" addr add 192.168.77.2/24 dev veth-b
for n in "$NA" "$NB"; do ip -n "$n" link set lo up; done
ip -n "$NA" link set veth-a up
ip -n "$NB" link set veth-b up

KAB=$(od -An -tx1 -N36 /dev/urandom | tr -d ' \n')
KBA=$(od -An -tx1 -N36 /dev/urandom | tr -d ' \n')
conf() {  # tag local peer tun lts rts spi_in spi_out key_in key_out
  cat > "$TMP/$1.json" <<JSON
{
  "device": "model:",
  "control_socket": "$TMP/$1.sock",
  "allow_faults": true,
  "local_address": "$2",
  "tun": {"name": "isec0", "address": "$4"},
  "housekeeping_ms": 20,
  "connections": [{
    "name": "to-$1-peer", "peer": "$3", "static_peer": true,
    "local_ts": ["$5"], "remote_ts": ["$6"],
    "manual": {"algo": "aes-gcm-256", "spi_in": "$7", "spi_out": "$8",
               "key_in": "$9", "key_out": "${10}"}
  }]
}
JSON
}
conf a 192.168.77.1 192.168.77.2 10.0.1.254/24 10.0.1.0/24 10.0.2.0/24 0x00010101 0x00010202 "$KBA" "$KAB"
conf b 192.168.77.2 192.168.77.1 10.0.2.254/24 10.0.2.0/24 10.0.1.0/24 0x00010202 0x00010101 "$KAB" "$KBA"

ip netns exec "$NA" "$D" -c "$TMP/a.json" 2> "$TMP/a.log" & PIDS+=($!)
ip netns exec "$NB" "$D" -c "$TMP/b.json" 2> "$TMP/b.log" & PIDS+=($!)
for t in a b; do
  for _ in $(seq 100); do "$C" --socket "$TMP/$t.sock" status > /dev/null 2>&1 && break; sleep 0.05; done
done
ip -n "$NA" route add 10.0.2.0/24 dev isec0
ip -n "$NB" route add 10.0.1.0/24 dev isec0
say "gateways up: A 192.168.77.1 (10.0.1.0/24) <-> B 192.168.77.2 (10.0.2.0/24), ESP in UDP 4500"

echo; "$C" --socket "$TMP/a.sock" status; echo
say "ping 10.0.2.254 from A through both models"
ip netns exec "$NA" ping -c 3 -i 0.2 10.0.2.254 | sed 's/^/    /'

"$C" --socket "$TMP/a.sock" events --json > "$TMP/events-a.jsonl" 2>/dev/null & PIDS+=($!)
say "steady stream B -> A (ping every 10 ms) in the background"
ip netns exec "$NB" ping -q -i 0.01 -c 300 10.0.1.254 > "$TMP/ping.txt" 2>&1 & PING=$!
sleep 0.5

FAILED=0
# Waits up to 3 s for the gateway's timeline of the last fault to show
# restored traffic, prints it, and checks the tunnel with one ping.
restored() {
  local tl=""
  for _ in $(seq 60); do
    tl=$("$C" --socket "$TMP/a.sock" --json status | python3 -c \
      'import json,sys; t=json.load(sys.stdin).get("last_fault",{})
print(json.dumps(t) if "restored_after_ms" in t else "")')
    [[ -n $tl ]] && break
    sleep 0.05
  done
  if [[ -z $tl ]]; then
    say "NOT RESTORED within 3 s after $1"; FAILED=1; return
  fi
  echo "    timeline: $tl"
  echo "    (resync_after_ms: fault -> SA table re-programmed; restored_after_ms: fault -> first packet decrypted again)"
  if ip netns exec "$NB" ping -c 1 -W 1 10.0.1.254 > /dev/null; then
    say "traffic restored after $1 (ping B -> A answered)"
  else
    say "ping B -> A NOT answered after $1"; FAILED=1
  fi
}

say "FAULT 1: engine reset at A (SA table wiped; the driver knows)"
"$C" --socket "$TMP/a.sock" fault reset > /dev/null
restored "engine reset"

say "FAULT 2: engine reset behind the driver's back at A (epoch check)"
"$C" --socket "$TMP/a.sock" fault reset-behind > /dev/null
restored "reset behind the driver"

say "FAULT 3: 1 s of random-SPI ESP from 100 spoofed sources at A, as fast as Python sends"
ip netns exec "$NB" python3 - <<'PY'
import os, random, socket, struct, time
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
dst = "192.168.77.1"
end = time.time() + 1.0
n = 0
while time.time() < end:
    for _ in range(10):
        src = "192.168.77.%d" % random.randint(100, 199)
        esp = struct.pack("!II", random.randint(256, 2**32 - 1), 1) + os.urandom(56)
        udp = struct.pack("!HHHH", random.randint(1024, 65535), 4500, 8 + len(esp), 0) + esp
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                         socket.inet_aton(src), socket.inet_aton(dst))
        s.sendto(ip + udp, (dst, 0)); n += 1
    time.sleep(0.001)
print("    flood packets sent:", n)
PY
if ip netns exec "$NA" ping -c 3 -i 0.2 -W 1 10.0.2.254 > /dev/null; then
  say "tunnel unaffected by the flood (3 pings A -> B answered)"
else
  say "pings A -> B NOT answered after the flood"; FAILED=1
fi
wait "$PING" || true
say "stream B -> A during all three faults:"
sed -n '/packets transmitted/p' "$TMP/ping.txt" | sed 's/^/    /'

echo; say "counters at A"
"$C" --socket "$TMP/a.sock" counters | sed 's/^/    /'
echo; say "SAs at A"
"$C" --socket "$TMP/a.sock" sas | sed 's/^/    /'
echo; say "gateway A's log (one line per recovery decision, rate-limited)"
sed 's/^/    /' "$TMP/a.log" | head -40
echo; say "event stream at A: $(wc -l < "$TMP/events-a.jsonl") events; by type:"
python3 -c 'import json,sys,collections
c=collections.Counter(json.loads(l)["type"] for l in open(sys.argv[1]) if l.strip())
print("    ", dict(c))' "$TMP/events-a.jsonl"
echo
if [[ $FAILED != 0 ]]; then
  say "FAILED: traffic was not restored after every fault"; exit 1
fi
say "OK: traffic restored after every fault"
