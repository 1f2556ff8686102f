// bench/table.js - turns bench/run.sh's results.jsonl into the markdown table
// of docs/PERFORMANCE.md (replacing the text between the bench markers), and
// compares each mlc output .npy with the ORT peer's output of the same run.
//   node bench/table.js results.jsonl OUTDIR docs/PERFORMANCE.md THREADS RUNS [ROUNDS]
// A label measured in several rounds shows the median of its rounds (min ms:
// the least), a round that failed only when all did.
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execSync } = require('child_process');
const [res, outDir, doc, threads, runs, roundsArg] = process.argv.slice(2);
const rounds = Number(roundsArg || 1);

function readNpy(path) {
  const buf = fs.readFileSync(path);
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const off = (major === 1 ? 10 : 12) + hlen;
  const copy = Buffer.from(buf.subarray(off));
  return new Float32Array(copy.buffer, copy.byteOffset, copy.length / 4);
}

function diff(a, b) {
  try {
    const x = readNpy(a), y = readNpy(b);
    if (x.length !== y.length) return { max: NaN, agree: NaN };
    let max = 0, agree = 0, n = 0;
    const C = 32, rows = x.length / C;
    for (let i = 0; i < x.length; i++) max = Math.max(max, Math.abs(x[i] - y[i]));
    for (let r = 0; r < rows; r++) {
      let ax = 0, ay = 0;
      for (let c = 1; c < C; c++) {
        if (x[r * C + c] > x[r * C + ax]) ax = c;
        if (y[r * C + c] > y[r * C + ay]) ay = c;
      }
      agree += ax === ay; n++;
    }
    return { max, agree: n ? agree / n : NaN };
  } catch (e) { return { max: NaN, agree: NaN }; }
}

const rows = fs.readFileSync(res, 'utf8').split('\n').filter(Boolean).map(l => JSON.parse(l));
const med = v => { const s = [...v].sort((a, b) => a - b), n = s.length; return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2; };
const groups = {};
for (const r of rows) (groups[r.label] = groups[r.label] || []).push(r);
const by = {};
for (const [label, g] of Object.entries(groups)) {
  const ok = g.filter(r => !r.failed);
  if (!ok.length) { by[label] = g[0]; continue; }
  const r = { ...ok[0] };
  for (const k of ['median_ms', 'img_per_s', 'load_ms', 'first_ms', 'peak_rss_kb']) r[k] = med(ok.map(x => x[k]));
  r.min_ms = Math.min(...ok.map(x => x.min_ms));
  by[label] = r;
}
const f = (v, d = 1) => (v === undefined || Number.isNaN(v) ? '-' : v.toFixed(d));
const cpu = execSync("lscpu | sed -n 's/^Model name: *//p'").toString().trim();
// When the run started (run.sh writes it); a re-render keeps that time.
let date = new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
try { date = fs.readFileSync(path.join(outDir, 'when.txt'), 'utf8').trim() || date; } catch (e) { /* older runs */ }

let loadNote = '';
try {
  const l = fs.readFileSync(path.join(outDir, 'loadavg.txt'), 'utf8').trim().split('\n');
  loadNote = `Load average (1/5/15 min) at the start: ${l[0]}` + (l[1] ? `; at the end: ${l[1]}` : '') + '.\n';
} catch (e) { /* older runs: no note */ }
let t = `Measured ${date} on ${cpu}, ${os.cpus().length} cores, ${threads} threads per engine, ` +
  `median and min of ${runs} runs after 2 warm-ups` +
  (rounds > 1 ? `, each the median of ${rounds} rounds with the engines taking turns to go first` : '') +
  `; same input .npy for both engines.\n` +
  `Ratios are mlc / ORT (below 1.00 = mlc better); "min ratio" compares the fastest runs, which the host's noise moves least. Peak RSS is the whole process (/usr/bin/time).\n` +
  `"to first" = load (session create) + first run. "max |d|" and "top1" compare mlc's output ` +
  `with ORT's on the same input.\n` + loadNote + '\n' +
  '| model | batch | engine | median ms | min ms | median ratio | min ratio | img/s | load ms | first run ms | to-first ratio | peak RSS MiB | RSS ratio | max \\|d\\| vs ORT | top1 = ORT |\n' +
  '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n';
const labels = [...new Set(rows.map(r => r.label.split(' ').slice(1, 3).join(' ')))];
// by[] holds each label's median over the rounds (above).
for (const mb of labels) {
  const [m, b] = mb.split(' ');
  const ort = by[`ort ${mb} f32`];
  for (const eng of ['ort', 'mlc f32', 'mlc bf16', 'mlc int8']) {
    const key = eng === 'ort' ? `ort ${mb} f32` : `mlc ${mb} ${eng.split(' ')[1]}`;
    const r = by[key];
    if (!r) continue;
    if (r.failed) { t += `| ${m} | ${b} | ${eng} | fail: ${String(r.why).replace(/[|\n]/g, ' ').slice(0, 120)} ||||||||||||\n`; continue; }
    const rss = r.peak_rss_kb / 1024, mine = eng !== 'ort' && ort && !ort.failed;
    const tf = r.load_ms + r.first_ms;
    let d = { max: NaN, agree: NaN };
    if (eng !== 'ort') d = diff(`${outDir}/${m}.${b}.ort.npy`, `${outDir}/${m}.${b}.${eng === 'mlc f32' ? 'mlc' : eng.split(' ')[1]}.npy`);
    t += `| ${m} | ${b} | ${eng} | ${f(r.median_ms, 2)} | ${f(r.min_ms, 2)} | ` +
      `${mine ? f(r.median_ms / ort.median_ms, 2) : ''} | ${mine ? f(r.min_ms / ort.min_ms, 2) : ''} | ${f(r.img_per_s)} | ${f(r.load_ms)} | ` +
      `${f(r.first_ms)} | ${mine ? f(tf / (ort.load_ms + ort.first_ms), 2) : ''} | ${f(rss, 0)} | ` +
      `${mine ? f(rss / (ort.peak_rss_kb / 1024), 2) : ''} | ${eng === 'ort' ? '' : (Number.isNaN(d.max) ? '-' : d.max.toExponential(1))} | ` +
      `${eng === 'ort' ? '' : (Number.isNaN(d.agree) ? '-' : (100 * d.agree).toFixed(0) + '%')} |\n`;
  }
}

// Batching: a batch of 8 against 8 single runs, in images per second, and
// how often mlc's chooser ran the batch's images side by side.
{
  let bt = '';
  for (const mb of labels.filter(x => x.endsWith(' 1'))) {
    const m = mb.split(' ')[0];
    for (const eng of ['ort', 'mlc f32', 'mlc bf16', 'mlc int8']) {
      const key = b => (eng === 'ort' ? `ort ${m} ${b} f32` : `mlc ${m} ${b} ${eng.split(' ')[1]}`);
      const one = by[key(1)], eight = by[key(8)];
      if (!one || !eight || one.failed || eight.failed) continue;
      const g = (groups[key(8)] || []).filter(r => !r.failed && r.split_runs !== undefined);
      const side = eng === 'ort' || !g.length ? '' :
        `${g.reduce((a, r) => a + r.split_runs, 0)} of ${g.length * Number(runs)}`;
      bt += `| ${m} | ${eng} | ${f(one.img_per_s)} | ${f(eight.img_per_s)} | ` +
        `${f(eight.img_per_s / one.img_per_s, 2)} | ${side} |\n`;
    }
  }
  if (bt) t += '\nBatching (the table above): images per second at batch 8 against batch 1, medians of the ' +
    'rounds; above 1.00 the batch beats 8 single runs. "Side by side": of mlc\'s timed batch-8 runs, how ' +
    'many ran the images on two one-thread sessions at once rather than the batch whole ' +
    '(`mlc_net_session_split`; the session times both and keeps the faster).\n\n' +
    '| model | engine | img/s batch 1 | img/s batch 8 | batch 8 / batch 1 | side by side |\n|---|---|---|---|---|---|\n' + bt;
}

// Process start to output (mlc tensor) against ORT's session create + first
// run: cold (nothing cached) and warm (--pack-cache filled by an earlier run).
try {
  const lines = fs.readFileSync(path.join(outDir, 'process.txt'), 'utf8').trim().split('\n');
  const ratio = (ms, ot) => (Number.isNaN(ot) || ms === undefined || ms === 'fail' ? '-' : f(Number(ms) / ot, 2));
  t += '\nTime to first result, batch 1: mlc from process start to the output file written (`mlc tensor`, ' +
    'best of 3, `bench/first_output.js`) against ORT\'s session create + first run from the table above, ' +
    'cold and from a warm packed-weights cache (`--pack-cache`, filled by one run before); the process ' +
    'exits later, after freeing the net.\n\n' +
    '| model | mlc cold, to output ms | mlc warm, to output ms | ORT create + first ms | cold ratio | warm ratio | mlc exit ms cold / warm |\n|---|---|---|---|---|---|---|\n';
  for (const l of lines) {
    const [m, ms, ex, wms, wex] = l.split(' ');
    const o = by[`ort ${m} 1 f32`];
    const ot = o && !o.failed ? o.load_ms + o.first_ms : NaN;
    t += `| ${m} | ${ms} | ${wms || '-'} | ${f(ot)} | ${ratio(ms, ot)} | ${ratio(wms, ot)} | ${ex || '-'} / ${wex || '-'} |\n`;
  }
  // mlc bench from the warm cache: load, first run and peak RSS.
  let w = '';
  for (const l of lines) {
    const m = l.split(' ')[0];
    for (const p of ['f32', 'bf16']) {
      const r = by[`mlc ${m} 1 ${p} warm`], o = by[`ort ${m} 1 f32`];
      if (!r || r.failed || !o || o.failed) continue;
      const rss = r.peak_rss_kb / 1024;
      w += `| ${m} | ${p} | ${f(r.load_ms)} | ${f(r.first_ms)} | ${f((r.load_ms + r.first_ms) / (o.load_ms + o.first_ms), 2)} | ` +
        `${f(r.median_ms, 2)} | ${f(rss, 0)} | ${f(rss / (o.peak_rss_kb / 1024), 2)} |\n`;
    }
  }
  if (w) t += '\nWarm start, batch 1 (`mlc bench --pack-cache`, 3 runs; ratios against ORT f32 above):\n\n' +
    '| model | precision | load ms | first run ms | to-first ratio | median ms | peak RSS MiB | RSS ratio |\n|---|---|---|---|---|---|---|---|\n' + w;
} catch (e) { /* no process times */ }
try {
  const p = JSON.parse(fs.readFileSync(path.join(outDir, 'pipeline.json'), 'utf8'));
  t += `\nPipeline around the network (\`mlc bench models/demo --image\`, ${p.width}x${p.height} JPEG, ` +
    `median of ${p.runs}): decode ${f(p.decode_ms, 2)} ms, classify ${f(p.classify_ms, 2)} ms ` +
    `(of which the forward alone ${f(p.forward_ms, 2)} ms), JSON ${f(p.json_ms, 3)} ms: ` +
    `**${f(p.overhead_ms, 2)} ms per image** besides the network.\n`;
} catch (e) { /* no pipeline run */ }

let text = fs.existsSync(doc) ? fs.readFileSync(doc, 'utf8') : '# Performance\n\n<!-- bench:begin -->\n<!-- bench:end -->\n';
const a = text.indexOf('<!-- bench:begin -->'), z = text.indexOf('<!-- bench:end -->');
if (a < 0 || z < 0) text += '\n<!-- bench:begin -->\n' + t + '<!-- bench:end -->\n';
else text = text.slice(0, a) + '<!-- bench:begin -->\n' + t + text.slice(z);
fs.writeFileSync(doc, text);
