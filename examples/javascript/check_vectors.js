#!/usr/bin/env node
// Compute the gradients of every vector file in DIR with backprop.js, and write one result
// file per case to RESULTS, for `python -m verification vectors check DIR RESULTS`.
//
//   node examples/javascript/check_vectors.js DIR RESULTS
//
// A result file has the vector file's name and holds
//   {"schema_version": 2, "case": {"seed": S, "index": I},
//    "layers": [{"layer": 1, "grad_W": [[...], ...], "grad_b": [...]}, ...]}
// JSON.stringify writes each number as the shortest decimal that reads back to the same
// double, so nothing is lost on the way to the check.

"use strict";

const fs = require("node:fs");
const path = require("node:path");
const { backprop } = require("./backprop.js");

const SCHEMA_VERSION = 2; // the layout of verification/vectors/schema.json this reads

function resultOf(vector) {
  if (vector.schema_version !== SCHEMA_VERSION) {
    throw new Error(`schema_version ${vector.schema_version}, but this reads ${SCHEMA_VERSION}`);
  }
  const params = vector.layers.map(({ W, b }) => ({ W, b }));
  const { gradients } = backprop(vector.architecture, params, vector.x, vector.y);
  return {
    schema_version: SCHEMA_VERSION,
    case: { seed: vector.case.seed, index: vector.case.index },
    layers: gradients.map(({ grad_W, grad_b }, i) => ({ layer: i + 1, grad_W, grad_b })),
  };
}

function main(argv) {
  if (argv.length !== 2) {
    console.error("usage: node check_vectors.js DIR RESULTS");
    return 2;
  }
  const [dir, results] = argv;
  const names = fs.readdirSync(dir).filter((name) => name.endsWith(".json")).sort();
  if (names.length === 0) {
    console.error(`check_vectors.js: no .json vector files in ${dir}`);
    return 2;
  }
  fs.mkdirSync(results, { recursive: true });
  for (const name of names) {
    const vector = JSON.parse(fs.readFileSync(path.join(dir, name), "utf8"));
    const result = resultOf(vector);
    fs.writeFileSync(path.join(results, name), JSON.stringify(result) + "\n");
  }
  console.log(`check_vectors.js: wrote ${names.length} result files to ${results}`);
  return 0;
}

process.exitCode = main(process.argv.slice(2));
