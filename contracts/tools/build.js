#!/usr/bin/env node
// Compiles contracts/src with solcjs (npm `solc`, pinned) and writes one artifact
// per deployable contract to contracts/out/<Name>.json: ABI, bytecode, deployed
// bytecode and compiler metadata. The artifacts are committed, so running
// stbridge needs no compiler; `--check` compiles again and fails when the
// committed artifacts differ (CI runs it).
//
//   node contracts/tools/build.js [--check]
"use strict";
const fs = require("fs");
const path = require("path");

const contractsDir = path.resolve(__dirname, "..");
const rootDir = path.resolve(contractsDir, "..");
const srcDir = path.join(contractsDir, "src");
const outDir = path.join(contractsDir, "out");
const solc = require(require.resolve("solc", { paths: [rootDir] }));

// Keep in step with foundry.toml so forge tests and artifacts use one build.
const SETTINGS = {
  optimizer: { enabled: true, runs: 1000 },
  evmVersion: "cancun",
  remappings: ["@openzeppelin/contracts/=node_modules/@openzeppelin/contracts/"],
  metadata: { bytecodeHash: "ipfs" },
  outputSelection: {
    "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "metadata"], "": ["ast"] },
  },
};

function listSources(dir) {
  const found = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...listSources(full));
    else if (entry.name.endsWith(".sol")) found.push(full);
  }
  return found.sort();
}

function findImports(importPath) {
  const candidate = path.resolve(rootDir, importPath.startsWith("src/") ? "contracts/" + importPath : importPath);
  if (fs.existsSync(candidate)) return { contents: fs.readFileSync(candidate, "utf8") };
  return { error: `File not found: ${importPath}` };
}

function compile() {
  const sources = {};
  for (const file of listSources(srcDir)) {
    sources[path.relative(contractsDir, file)] = { content: fs.readFileSync(file, "utf8") };
  }
  const input = { language: "Solidity", sources, settings: SETTINGS };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
  const errors = (output.errors || []).filter((e) => e.severity === "error");
  const verbose = process.argv.includes("--verbose");
  for (const e of output.errors || []) {
    if (e.severity === "error" || verbose) process.stderr.write(e.formattedMessage + "\n");
  }
  if (errors.length) throw new Error(`${errors.length} compiler error(s)`);
  const libraries = new Set();
  for (const source of Object.values(output.sources || {})) {
    for (const node of (source.ast && source.ast.nodes) || []) {
      if (node.nodeType === "ContractDefinition" && node.contractKind === "library") libraries.add(node.name);
    }
  }

  const artifacts = {};
  for (const [sourceName, contracts] of Object.entries(output.contracts)) {
    if (!sourceName.startsWith("src/")) continue; // OpenZeppelin's own contracts
    for (const [name, c] of Object.entries(contracts)) {
      if (!c.evm.bytecode.object) continue; // interfaces and abstract contracts
      if (libraries.has(name)) continue; // internal libraries are inlined, never deployed
      if (artifacts[name]) throw new Error(`two contracts named ${name}`);
      artifacts[name] = {
        contractName: name,
        sourceName,
        compiler: { name: "solc", version: solc.version(), settings: SETTINGS },
        abi: c.abi,
        bytecode: "0x" + c.evm.bytecode.object,
        deployedBytecode: "0x" + c.evm.deployedBytecode.object,
        metadata: JSON.parse(c.metadata),
      };
    }
  }
  return artifacts;
}

function render(artifact) {
  return JSON.stringify(artifact, null, 2) + "\n";
}

function main() {
  const check = process.argv.includes("--check");
  const artifacts = compile();
  const expected = new Map(Object.entries(artifacts).map(([n, a]) => [`${n}.json`, render(a)]));
  if (check) {
    const present = fs.existsSync(outDir) ? fs.readdirSync(outDir).filter((f) => f.endsWith(".json")) : [];
    const problems = [];
    for (const [file, text] of expected) {
      const p = path.join(outDir, file);
      if (!fs.existsSync(p)) problems.push(`missing contracts/out/${file}`);
      else if (fs.readFileSync(p, "utf8") !== text) problems.push(`stale contracts/out/${file}`);
    }
    for (const file of present) if (!expected.has(file)) problems.push(`extra contracts/out/${file}`);
    if (problems.length) {
      process.stderr.write(problems.join("\n") + "\nrun `make contracts` and commit contracts/out/\n");
      process.exit(1);
    }
    process.stdout.write(`contracts/out is up to date (${expected.size} artifacts)\n`);
    return;
  }
  fs.mkdirSync(outDir, { recursive: true });
  for (const file of fs.readdirSync(outDir)) {
    if (file.endsWith(".json") && !expected.has(file)) fs.unlinkSync(path.join(outDir, file));
  }
  for (const [file, text] of expected) fs.writeFileSync(path.join(outDir, file), text);
  process.stdout.write(`wrote ${expected.size} artifacts to contracts/out/\n`);
}

try {
  main();
} catch (err) {
  process.stderr.write(`build: ${err.message}\n`);
  process.exit(1);
}
