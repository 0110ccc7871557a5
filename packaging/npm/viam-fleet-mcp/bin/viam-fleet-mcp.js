#!/usr/bin/env node
// Runs the viam-fleet-mcp binary of this platform's package (an optional dependency, picked by npm
// through its `os` and `cpu`) with this process's arguments, stdio and environment.
"use strict";
const { spawn } = require("child_process");
const os = require("os");
const path = require("path");

const PACKAGES = {
  "darwin arm64": "viam-fleet-mcp-darwin-arm64",
  "darwin x64": "viam-fleet-mcp-darwin-x64",
  "linux arm64": "viam-fleet-mcp-linux-arm64",
  "linux x64": "viam-fleet-mcp-linux-x64",
  "win32 x64": "viam-fleet-mcp-win32-x64",
};

function fail(message) {
  process.stderr.write(`viam-fleet-mcp: ${message}\n`);
  process.exit(1);
}

const platform = `${process.platform} ${process.arch}`;
const name = PACKAGES[platform];
if (!name) {
  fail(
    `no binary is published for ${platform} (there are packages for ${Object.keys(PACKAGES).join(", ")}).\n` +
      "Build it from a checkout with a Rust toolchain: cargo install --locked --path .",
  );
}
let binary;
try {
  const exe = process.platform === "win32" ? "viam-fleet-mcp.exe" : "viam-fleet-mcp";
  binary = path.join(path.dirname(require.resolve(`${name}/package.json`)), "bin", exe);
} catch {
  fail(
    `the package ${name}, which holds the binary for ${platform}, is not installed.\n` +
      "npm installs it as an optional dependency: reinstall without --omit=optional or --no-optional.",
  );
}

const child = spawn(binary, process.argv.slice(2), { stdio: "inherit" });
// A signal sent to this process (a client stopping the server) goes to the binary; its exit is ours.
const forwarded = ["SIGINT", "SIGTERM", "SIGHUP"];
for (const signal of forwarded) process.on(signal, () => child.kill(signal));
child.on("error", (error) => fail(`could not start ${binary}: ${error.message}`));
child.on("exit", (code, signal) => {
  if (signal) {
    // Die of the same signal; the exit code is the shell's convention should it not arrive.
    for (const s of forwarded) process.removeAllListeners(s);
    process.exitCode = 128 + (os.constants.signals[signal] ?? 0);
    process.kill(process.pid, signal);
    return;
  }
  process.exit(code);
});
