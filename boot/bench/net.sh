#!/usr/bin/env bash
# Network figures of the stack, printed (not a test): with `--tcplisten`, `echoserver` (a
# plain std program with blocking preview1 sockets) echoes one connection, and this measures
#   - host CPU used by QEMU while the guest sleeps, with and without the network card;
#   - the echo's round trip from the host (small messages, one at a time) and a 1 MB echo.
# The client is a few lines of python3. Usage: boot/bench/net.sh [PORT] (default 18080).
set -euo pipefail
cd "$(dirname "$0")/../.."
port="${1:-18080}"
./qemu.sh --setup >/dev/null
(cd userland && cargo build -q --release --bin napms --bin echoserver)
napms=userland/target/wasm32-wasip1/release/napms.wasm
echoserver=userland/target/wasm32-wasip1/release/echoserver.wasm

source boot/bench/lib.sh

echo "== host CPU of QEMU while the guest sleeps"
echo "  without a network card: $(idle_cpu "$napms")"
echo "  with the card and a listening port: $(idle_cpu "$napms" --tcplisten "127.0.0.1:$port")"

echo "== echo round trips from the host"
./qemu.sh --tcplisten "127.0.0.1:$port" "$echoserver" 1 >/dev/null 2>&1 &
runner=$!
python3 - "$port" <<'EOF'
import socket, sys, time
port = int(sys.argv[1])
started = time.time()
while True:  # QEMU accepts before the guest listens: an answer is what counts
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
        s.settimeout(3)
        s.sendall(b"ping")
        if s.recv(4) == b"ping":
            break
    except OSError:
        pass
    if time.time() - started > 60:
        sys.exit("no echo within 60 s")
    time.sleep(0.1)
s.settimeout(10)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
def rtt(message):
    t = time.perf_counter()
    s.sendall(message)
    got = b""
    while len(got) < len(message):
        got += s.recv(65536)
    return (time.perf_counter() - t) * 1e3
times = sorted(rtt(b"x" * 64) for _ in range(1000))
print("  64-byte round trip over 1000: p50 %.2f ms, p99 %.2f ms, max %.2f ms"
      % (times[500], times[990], times[-1]))
quiet = []
for _ in range(5):
    time.sleep(1)
    quiet.append(rtt(b"q" * 64))
print("  after 1 s of quiet: " + ", ".join("%.2f" % q for q in quiet) + " ms")
big = bytes(range(256)) * 4096
t = time.perf_counter()
sender = __import__("threading").Thread(target=s.sendall, args=(big,))
sender.start()
got = bytearray()
while len(got) < len(big):
    got += s.recv(65536)
sender.join()
ms = (time.perf_counter() - t) * 1e3
assert got == big, "the 1 MB echo came back altered"
print("  1 MB echo: %.0f ms (%.1f MB/s each way)" % (ms, len(big) / ms / 1e3))
s.close()
EOF
wait "$runner"
