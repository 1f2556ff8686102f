// bench/first_output.js - time from starting a command to its output file
// appearing, and to the command's exit, for bench/run.sh's "time to first
// result" (mlc tensor writes its output once, atomically: a rename into
// place, which a directory watch sees).
//   node bench/first_output.js OUTPUT_FILE TIMEOUT_S -- COMMAND ARGS...
// Prints one line: "<ms to output> <ms to exit>", or "fail" when the command
// fails, times out or never writes OUTPUT_FILE.
const fs = require('fs');
const path = require('path');
const { spawn } = require('child_process');

const [out, timeoutS, sep, cmd, ...args] = process.argv.slice(2);
if (!out || sep !== '--' || !cmd) {
  console.error('usage: node bench/first_output.js OUTPUT_FILE TIMEOUT_S -- COMMAND ARGS...');
  process.exit(2);
}
fs.rmSync(out, { force: true });
let seen = NaN;
const name = path.basename(out);
const watcher = fs.watch(path.dirname(out), (ev, file) => {
  if (Number.isNaN(seen) && file === name && fs.existsSync(out)) seen = performance.now() - t0;
});
const t0 = performance.now();
const child = spawn(cmd, args, { stdio: 'ignore' });
const timer = setTimeout(() => child.kill('SIGKILL'), Number(timeoutS) * 1000);
child.on('exit', (code) => {
  const done = performance.now() - t0;
  clearTimeout(timer);
  // A rename the watch has not reported yet: the exit bounds it.
  setImmediate(() => {
    watcher.close();
    if (code !== 0 || !fs.existsSync(out)) return console.log('fail');
    if (Number.isNaN(seen)) seen = done;
    console.log(`${seen.toFixed(1)} ${done.toFixed(1)}`);
  });
});
