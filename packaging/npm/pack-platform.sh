#!/usr/bin/env bash
# Packs the npm package viam-fleet-mcp-PLATFORM (PLATFORM is npm's os-cpu: linux-x64, darwin-arm64,
# win32-x64, ...) holding BINARY, into OUT_DIR, at the launcher's version.
#   packaging/npm/pack-platform.sh linux-x64 target/dist/viam-fleet-mcp dist/
set -euo pipefail
if [ $# -ne 3 ]; then echo "usage: $0 PLATFORM BINARY OUT_DIR" >&2; exit 2; fi
platform=$1 binary=$2 out=$3
here=$(cd "$(dirname "$0")" && pwd)
os=${platform%-*} cpu=${platform#*-}
exe=viam-fleet-mcp
if [ "$os" = win32 ]; then exe=viam-fleet-mcp.exe; fi
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$out"
cp "$binary" "$stage/bin/$exe"
chmod 755 "$stage/bin/$exe"
node - "$here/viam-fleet-mcp/package.json" "$stage" "$os" "$cpu" <<'JS'
const fs = require("fs");
const [launcherFile, stage, os, cpu] = process.argv.slice(2);
const launcher = JSON.parse(fs.readFileSync(launcherFile, "utf8"));
const name = `${launcher.name}-${os}-${cpu}`;
if (!(name in launcher.optionalDependencies)) {
  throw new Error(`${name} is not among the launcher's optionalDependencies`);
}
const pkg = {
  name,
  version: launcher.version,
  description: `The ${os}-${cpu} binary of ${launcher.name}; install ${launcher.name} itself`,
  license: launcher.license,
  repository: launcher.repository,
  os: [os],
  cpu: [cpu],
  ...(os === "linux" ? { libc: ["glibc"] } : {}),
  files: ["bin"],
  preferUnplugged: true,
};
fs.writeFileSync(`${stage}/package.json`, JSON.stringify(pkg, null, 2) + "\n");
fs.writeFileSync(`${stage}/README.md`, `# ${name}\n\n${pkg.description}: \`npx -y ${launcher.name}\`.\n`);
JS
npm pack --silent "$stage" --pack-destination "$out"
