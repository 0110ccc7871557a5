#!/usr/bin/env bash
# Builds this platform's npm packages and the Python wheel from this checkout, installs each from its file
# into a temporary prefix or venv, and runs the installed `viam-fleet-mcp`: one sandbox call, then MCP
# initialize + tools/list over stdio. Installs are offline; only the build tools (maturin, uv, pinned) come
# from the Python package index. PACKAGE_PROFILE picks the cargo profile (default release; dist ships).
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${PACKAGE_PROFILE:-release}
target_dir=${CARGO_TARGET_DIR:-target}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/dist"

timed() { # timed WHAT COMMAND...: runs COMMAND and says how long it took
  local what=$1 start=$EPOCHREALTIME
  shift
  "$@"
  echo "packages: $what took $(python3 -c "print(f'{$EPOCHREALTIME - $start:.1f}')") s" >&2
}

echo "packages: build tools" >&2
python3 -m venv "$work/tools"
"$work/tools/bin/pip" install --quiet --disable-pip-version-check maturin==1.16.0 uv==0.13.8

# The wheel builds the binary (a no-op when it is built already), and the npm packages take the same file.
timed "the wheel build" "$work/tools/bin/maturin" build --quiet --locked --profile "$profile" --out "$work/dist"
binary=$target_dir/$profile/viam-fleet-mcp
platform=$(node -p 'process.platform + "-" + process.arch')
npm pack --silent packaging/npm/viam-fleet-mcp --pack-destination "$work/dist" >/dev/null
timed "npm pack of $platform" packaging/npm/pack-platform.sh "$platform" "$binary" "$work/dist" >/dev/null
for package in "$work"/dist/*; do
  echo "packages: $(basename "$package"): $(wc -c <"$package") bytes" >&2
done

offline_npm=(--offline --cache "$work/npm-cache" --no-audit --no-fund --loglevel=error)
timed "npm install (launcher + $platform)" \
  npm install --global --prefix "$work/npm" "${offline_npm[@]}" "$work"/dist/viam-fleet-mcp-*.tgz
python3 -m venv "$work/venv"
timed "pip install of the wheel" \
  "$work/venv/bin/pip" install --quiet --disable-pip-version-check --no-index "$work"/dist/*.whl
uvx=("$work/tools/bin/uv" tool run --offline --no-config --cache-dir "$work/uv-cache" \
  --from "$(echo "$work"/dist/*.whl)" viam-fleet-mcp)
# The first uvx run makes its environment from the wheel: that is its install.
timed "uvx's first run (its install)" "${uvx[@]}" --version >/dev/null

check() { # check NAME COMMAND...: the installed command answers a sandbox call and speaks MCP over stdio
  local name=$1
  shift
  local out
  out=$("$@" --sandbox call list_organizations)
  grep -q '"Demo Robotics"' <<<"$out" || { echo "packages: $name: unexpected answer: $out" >&2; exit 1; }
  python3 - "$@" --sandbox <<'PY' || { echo "packages: $name: the MCP exchange failed" >&2; exit 1; }
import json, subprocess, sys

server = subprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
def send(message):
    server.stdin.write(json.dumps(message) + "\n")
    server.stdin.flush()
def answer(id):
    for line in server.stdout:
        message = json.loads(line)  # stdout carries JSON-RPC only
        if message.get("id") == id:
            return message["result"]
    sys.exit("the server closed stdout")
send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {},
    "clientInfo": {"name": "test-packages", "version": "1"}}})
info = answer(1)["serverInfo"]
send({"jsonrpc": "2.0", "method": "notifications/initialized"})
send({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
names = {tool["name"] for tool in answer(2)["tools"]}
assert {"list_organizations", "delete_robot"} <= names and len(names) >= 70, names
server.stdin.close()
assert server.wait(timeout=10) == 0, server.returncode
print(f"{info['name']} {info['version']}: {len(names)} tools", file=sys.stderr)
PY
  echo "packages: $name works" >&2
}
check "npm's viam-fleet-mcp" "$work/npm/bin/viam-fleet-mcp"
check "the wheel's viam-fleet-mcp" "$work/venv/bin/viam-fleet-mcp"
check "uvx viam-fleet-mcp" "${uvx[@]}"

# On a platform with no package, the launcher says so and exits 1.
echo 'Object.defineProperty(process, "platform", { value: "aix" });' >"$work/aix.js"
if out=$(node --require "$work/aix.js" "$work/npm/bin/viam-fleet-mcp" --version 2>&1); then
  echo "packages: the launcher ran on aix: $out" >&2
  exit 1
fi
grep -q 'no binary is published for aix' <<<"$out" || { echo "packages: launcher on aix said: $out" >&2; exit 1; }
echo "packages: all passed" >&2
