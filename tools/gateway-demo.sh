#!/usr/bin/env bash
# gateway-demo.sh: two inlinesecd gateways in two network namespaces, joined
# by a veth pair, keyed by their own IKEv2 stacks (PSK). It shows traffic
# crossing both engine models' ESP, injects faults at gateway A in turn --
# one inbound Child SA lost, engine reset, reset behind the driver, A
# killed (SIGKILL) and restarted with all state lost, a random-SPI flood
# from spoofed sources, then the peer B killed and restarted (A's liveness
# check, stale SAs dropped on B's INITIAL_CONTACT) -- and prints for each the timeline the gateway
# reports (fault -> first recovery decision -> repair -> first packet
# decrypted again). It exits non-zero if traffic does not come back after
# a fault. Root only; everything it creates lives in its own namespaces and
# a temporary directory, and is removed however it ends. About 20 s.
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
say() { printf '[%9.3f ms] %s\n' "$(( ($(date +%s%N) - T0) ))e-6" "$*"; }
FAILED=0
fail() { say "FAILED: $*"; FAILED=1; }

ip netns add "$NA"
ip netns add "$NB"
ip link add veth-a netns "$NA" type veth peer name veth-b netns "$NB"
ip -n "$NA" addr add 192.168.77.1/24 dev veth-a
ip -n "$NB" addr add 192.168.77.2/24 dev veth-b
for n in "$NA" "$NB"; do ip -n "$n" link set lo up; done
ip -n "$NA" link set veth-a up
ip -n "$NB" link set veth-b up

PSK=0x$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
conf() {  # tag local peer tun lts rts initiate
  cat > "$TMP/$1-ike.json" <<JSON
{"connections": [{
  "name": "peer", "local": "$2", "remote": "$3",
  "local_id": "$1@demo", "remote_id": "$([[ $1 == a ]] && echo b || echo a)@demo",
  "psk": "$PSK", "ike_proposals": ["aes256gcm16-prfsha256-x25519"], "static_peer": true,
  "children": [{"name": "c", "local_ts": ["$5"], "remote_ts": ["$6"],
                "esp_proposals": ["aes256gcm16-noesn"]}]
}]}
JSON
  for init in true false; do
    cat > "$TMP/$1-$init.json" <<JSON
{
  "device": "model:",
  "control_socket": "$TMP/$1.sock",
  "allow_faults": true,
  "local_address": "$2",
  "tun": {"name": "isec0", "address": "$4"},
  "housekeeping_ms": 20,
  "ike_config": "$TMP/$1-ike.json",
  "connections": [{
    "name": "peer", "peer": "$3", "static_peer": true, "initiate": $init,
    "local_ts": ["$5"], "remote_ts": ["$6"]
  }]
}
JSON
  done
}
conf a 192.168.77.1 192.168.77.2 10.0.1.254/24 10.0.1.0/24 10.0.2.0/24
conf b 192.168.77.2 192.168.77.1 10.0.2.254/24 10.0.2.0/24 10.0.1.0/24

A_PID=""
start_a() {  # config (true: initiate at start; false: only recovery initiates), log
  ip netns exec "$NA" "$D" -c "$TMP/a-$1.json" 2> "$TMP/$2" & A_PID=$!; PIDS+=($A_PID)
}
wait_sock() {
  for _ in $(seq 100); do "$C" --socket "$TMP/$1.sock" status > /dev/null 2>&1 && return 0; sleep 0.05; done
  return 1
}
child_up() {  # tag: both Child SA halves installed
  "$C" --socket "$TMP/$1.sock" --json sas 2>/dev/null | python3 -c \
    'import json,sys; sys.exit(0 if len(json.load(sys.stdin).get("child_sas",[])) == 2 else 1)'
}
wait_child() {
  for _ in $(seq 200); do child_up "$1" && return 0; sleep 0.025; done
  return 1
}

ip netns exec "$NB" "$D" -c "$TMP/b-false.json" 2> "$TMP/b.log" & B_PID=$!; PIDS+=($B_PID)
wait_sock b || { say "gateway B did not start"; cat "$TMP/b.log"; exit 1; }
start_a true a.log
wait_sock a || { say "gateway A did not start"; cat "$TMP/a.log"; exit 1; }
wait_child a && wait_child b || { say "IKE did not bring the tunnel up"; cat "$TMP/a.log" "$TMP/b.log"; exit 1; }
ip -n "$NA" route add 10.0.2.0/24 dev isec0
ip -n "$NB" route add 10.0.1.0/24 dev isec0
say "tunnel up: A 192.168.77.1 (10.0.1.0/24) <-> B 192.168.77.2 (10.0.2.0/24), IKEv2 PSK, ESP in UDP 4500"

echo; "$C" --socket "$TMP/a.sock" sas | sed 's/^/    /'; echo
say "ping 10.0.2.254 from A through both models"
ip netns exec "$NA" ping -c 3 -i 0.2 10.0.2.254 | sed 's/^/    /'

say "steady stream B -> A (ping every 10 ms) in the background"
ip netns exec "$NB" ping -q -i 0.01 -c 1200 10.0.1.254 > "$TMP/ping.txt" 2>&1 & PING=$!
PIDS+=($PING)
sleep 0.5

# Reads one field of an inlinesec --json reply at A: json_a <command> <python expression on r>.
json_a() {
  "$C" --socket "$TMP/a.sock" --json "$1" 2>/dev/null | python3 -c \
    "import json,sys; r=json.load(sys.stdin); print($2)" 2>/dev/null || true
}
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

# Waits up to 3 s for A's timeline of the last fault to show restored
# traffic, prints it, and checks the tunnel with one ping.
restored() {
  local tl=""
  for _ in $(seq 120); do
    tl=$("$C" --socket "$TMP/a.sock" --json status | python3 -c \
      'import json,sys; t=json.load(sys.stdin).get("last_fault",{})
if "restored_after_ms" in t:
  k=[("decision_after_ms","decision"),("resync_after_ms","SA table re-programmed"),
     ("child_sa_up_after_ms","new Child SA installed"),("restored_after_ms","first packet decrypted")]
  print("fault %s at 0 ms" % t["fault"] + "".join(
    " -> %s%s at %.1f ms" % (n, (" "+t["decision"]) if f=="decision_after_ms" else "", t[f])
    for f,n in k if f in t))')
    [[ -n $tl ]] && break
    sleep 0.025
  done
  if [[ -z $tl ]]; then fail "traffic not restored within 3 s after $1"; return; fi
  echo "    timeline: $tl"
  if ip netns exec "$NB" ping -c 1 -W 1 10.0.1.254 > /dev/null; then
    say "traffic restored after $1 (ping B -> A answered)"
  else
    fail "ping B -> A not answered after $1"
  fi
}

say "FAULT 1: A loses its inbound Child SA silently -> decision 2, INVALID_SPI + Delete, Child SA re-created"
"$C" --socket "$TMP/a.sock" fault lose-child > /dev/null
restored "lost Child SA"

say "FAULT 2: engine reset at A (SA table wiped; the driver knows) -> decision 1, resync"
"$C" --socket "$TMP/a.sock" fault reset > /dev/null
restored "engine reset"

say "FAULT 3: engine reset behind the driver's back at A -> epoch check, resync"
"$C" --socket "$TMP/a.sock" fault reset-behind > /dev/null
restored "reset behind the driver"

say "FAULT 4: A killed (SIGKILL) and restarted with all state lost, not initiating by itself"
kill -KILL "$A_PID"; wait "$A_PID" 2>/dev/null || true
R0=$(date +%s%N)
start_a false a2.log
wait_sock a || fail "gateway A did not restart"
ip -n "$NA" route add 10.0.2.0/24 dev isec0 2>/dev/null || true
RESTORED=""
for _ in $(seq 200); do
  n=$(json_a counters 'r["datapath"]["rx_decrypted"]')
  if [[ -n $n && $n != 0 ]]; then RESTORED=$(( ($(date +%s%N) - R0) / 1000 )); break; fi
  sleep 0.025
done
if [[ -z $RESTORED ]]; then
  fail "traffic not restored within 5 s after A's restart"
else
  echo "    timeline: restart at 0 ms -> $(sed -n 's/.*decision \(.*\)/\1/p' "$TMP/a2.log" | head -1)"
  printf '    timeline: first packet decrypted %.1f ms after the restart\n' "${RESTORED}e-3"
  if ip netns exec "$NB" ping -c 1 -W 1 10.0.1.254 > /dev/null; then
    say "traffic restored after A's restart (ping B -> A answered)"
  else
    fail "ping B -> A not answered after A's restart"
  fi
fi

say "FAULT 5: 1 s of random-SPI ESP from 100 spoofed sources at A, as fast as Python sends"
"$C" --socket "$TMP/a.sock" events --json > "$TMP/events-a.jsonl" 2>/dev/null & PIDS+=($!)
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
  fail "pings A -> B not answered after the flood"
fi
kill -INT "$PING" 2>/dev/null || true; wait "$PING" 2>/dev/null || true
say "stream B -> A through all five faults:"
sed -n '/packets transmitted/p' "$TMP/ping.txt" | sed 's/^/    /'

say "FAULT 6: B (the peer) killed (SIGKILL) while A keeps sending -> A's liveness check; B restarted, initiates with INITIAL_CONTACT -> A drops the stale SAs at once"
OLD_IKE=$(json_a sas 'r["ike_sas"][0]["spi_i"]')
N0=$(wc -l < "$TMP/a2.log")
L0=$(json_a counters 'r["recovery"].get("liveness_checks", 0)')
ip netns exec "$NA" ping -q -i 0.02 -c 500 10.0.2.254 > /dev/null 2>&1 & APING=$!; PIDS+=($APING)
kill -KILL "$B_PID"; wait "$B_PID" 2>/dev/null || true
K0=$(date +%s%N)
DETECT=""
END=$(( $(date +%s%N) + 5000000000 ))
while (( $(date +%s%N) < END )); do
  n=$(json_a counters 'r["recovery"].get("liveness_checks", 0)')
  if [[ -n $n && $n != "$L0" ]]; then DETECT=$(ms_since "$K0"); break; fi
  sleep 0.01
done
if [[ -z $DETECT ]]; then
  fail "A ran no liveness check within 5 s of B's crash"
else
  echo "    timeline: B killed at 0 ms -> A's liveness check (DPD) at $DETECT ms"
fi
ip netns exec "$NB" "$D" -c "$TMP/b-true.json" 2> "$TMP/b2.log" & B_PID=$!; PIDS+=($B_PID)
R0=$(date +%s%N)
wait_sock b || fail "gateway B did not restart"
ip -n "$NB" route add 10.0.1.0/24 dev isec0 2>/dev/null || true
# One snapshot of A: "old" while the stale IKE SA is listed, "new" once only
# a new established IKE SA is.
ike_at_a() {
  "$C" --socket "$TMP/a.sock" --json sas 2>/dev/null | python3 -c 'import json,sys
ike = json.load(sys.stdin).get("ike_sas", [])
if any(i["spi_i"] == sys.argv[1] for i in ike): print("old")
elif any(i["state"] == "established" for i in ike): print("new")' "$OLD_IKE" 2>/dev/null || true
}
NEWIKE=""
END=$(( $(date +%s%N) + 10000000000 ))
while (( $(date +%s%N) < END )); do
  if [[ $(ike_at_a) == new ]]; then NEWIKE=$(ms_since "$R0"); break; fi
  sleep 0.01
done
if [[ -z $NEWIKE ]]; then
  fail "B's new IKE SA did not replace the stale one at A within 10 s"
else
  echo "    timeline: B restarted at 0 ms -> new IKE SA at A, stale IKE and Child SAs gone, at $NEWIKE ms"
  tail -n +$((N0 + 1)) "$TMP/a2.log" |
    grep -E "liveness:|IKE SA (up|down)|Child SA (up|down)" | sed 's/^/    A: /' || true
  if ip netns exec "$NB" ping -c 1 -W 2 10.0.1.254 > /dev/null; then
    say "traffic restored after B's restart (ping B -> A answered, $(ms_since "$R0") ms after the restart)"
  else
    fail "ping B -> A not answered after B's restart"
  fi
fi
kill -INT "$APING" 2>/dev/null || true; wait "$APING" 2>/dev/null || true

echo; say "recovery counters at A (since its restart)"
"$C" --socket "$TMP/a.sock" --json counters | python3 -c 'import json,sys
r=json.load(sys.stdin)["recovery"]
print("    "+"  ".join("%s=%d" % (k,v) for k,v in r.items() if v))'
echo; say "SAs at A"
"$C" --socket "$TMP/a.sock" sas | sed 's/^/    /'
echo; say "gateway A's log before the restart (one line per recovery decision, rate-limited)"
sed 's/^/    /' "$TMP/a.log" | head -40
echo; say "gateway A's log after the restart"
sed 's/^/    /' "$TMP/a2.log" | head -20
echo; say "event stream at A from the flood on: $(wc -l < "$TMP/events-a.jsonl") events (200/s cap); by type:"
python3 -c 'import json,sys,collections
c=collections.Counter(json.loads(l).get("type","?") for l in open(sys.argv[1]) if l.strip())
print("    ", dict(c))' "$TMP/events-a.jsonl"

echo
if [[ $FAILED != 0 ]]; then
  say "FAILED: traffic was not restored after every fault"; exit 1
fi
say "OK: traffic restored after every fault"
