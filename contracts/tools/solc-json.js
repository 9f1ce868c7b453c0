#!/usr/bin/env node
// Standard-JSON compilation through solcjs (the npm package `solc`, pinned in
// package.json). Reads the input JSON on stdin and writes the output JSON to the
// file named by --out, in one synchronous write, so a large output is never cut
// short the way solcjs's own CLI cuts it when it writes to a pipe.
//
//   node solc-json.js --out FILE [--base-path DIR] [--include-path DIR ...]
"use strict";
const fs = require("fs");
const path = require("path");

function parseArgs(argv) {
  const opts = { out: null, basePath: null, includePaths: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`);
      return argv[++i];
    };
    if (arg === "--out") opts.out = value();
    else if (arg === "--base-path") opts.basePath = value();
    else if (arg === "--include-path") opts.includePaths.push(value());
    else throw new Error(`unknown argument ${arg}`);
  }
  if (!opts.out) throw new Error("--out FILE is required");
  return opts;
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  const solc = require(require.resolve("solc", { paths: [process.cwd(), __dirname] }));
  const roots = [opts.basePath || process.cwd(), ...opts.includePaths];
  const findImports = (importPath) => {
    const candidates = path.isAbsolute(importPath)
      ? [importPath]
      : roots.map((root) => path.resolve(root, importPath));
    for (const candidate of candidates) {
      if (fs.existsSync(candidate)) return { contents: fs.readFileSync(candidate, "utf8") };
    }
    return { error: `File not found: ${importPath} (looked in ${roots.join(", ")})` };
  };
  const input = fs.readFileSync(0, "utf8");
  const output = solc.compile(input, { import: findImports });
  fs.writeFileSync(opts.out, output);
}

try {
  main();
} catch (err) {
  process.stderr.write(`solc-json: ${err.message}\n`);
  process.exit(2);
}
