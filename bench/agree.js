// bench/agree.js - how far reduced precision moves the block's output:
// reads `mlc classify --compact` JSON arrays, the first float32, and prints,
// per other file, on how many images the predicted classes equal float32's,
// the largest confidence difference, and exact-match accuracy against the
// true labels when a labels.json is given.
//
//   node bench/agree.js [--truth labels.json] f32.json other.json...
"use strict";
const fs = require("fs");

const args = process.argv.slice(2);
let truth = null;
if (args[0] === "--truth") {
  truth = JSON.parse(fs.readFileSync(args[1], "utf8"));
  args.splice(0, 2);
}
if (args.length < 2) {
  console.error("usage: node bench/agree.js [--truth labels.json] f32.json other.json...");
  process.exit(2);
}
const load = (f) => {
  const m = new Map();
  for (const r of JSON.parse(fs.readFileSync(f, "utf8"))) m.set(r.file, r);
  return m;
};
const key = (r) => [...r.predicted_classes].sort().join(",");
const exact = (r) => truth && key(r) === [...(truth[r.file] || [])].sort().join(",");
const base = load(args[0]);
const label = (f) => f.replace(/^.*\//, "").replace(/\.json$/, "");
console.log("| run | images | classes = f32 | max confidence diff | exact match vs truth |");
console.log("|---|---|---|---|---|");
const nf = [...base.values()].filter(exact).length;
console.log(`| ${label(args[0])} | ${base.size} | - | - | ${truth ? `${nf} (${((100 * nf) / base.size).toFixed(1)}%)` : "-"} |`);
for (const f of args.slice(1)) {
  const o = load(f);
  let n = 0, same = 0, hit = 0, dmax = 0;
  for (const [file, b] of base) {
    const r = o.get(file);
    if (!r) continue;
    n++;
    same += key(r) === key(b);
    hit += exact(r) ? 1 : 0;
    for (const c of Object.keys(b.predictions))
      dmax = Math.max(dmax, Math.abs(b.predictions[c].confidence - r.predictions[c].confidence));
  }
  if (n !== base.size) console.error(`${f}: ${base.size - n} images missing`);
  const pct = (k) => `${k} (${((100 * k) / n).toFixed(1)}%)`;
  console.log(`| ${label(f)} | ${n} | ${pct(same)} | ${dmax.toFixed(4)} | ${truth ? pct(hit) : "-"} |`);
}
