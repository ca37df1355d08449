// Cold import probe, run in a fresh process: `load TARGET` imports TARGET and reports how long the
// import took; with no arguments it imports nothing (the baseline process).
import process from "node:process";

const [mode, target] = process.argv.slice(2);
let importMs = 0;
if (mode === "load") {
  const started = performance.now();
  const mod = await import(target);
  importMs = performance.now() - started;
  if (typeof mod.createClient !== "function") throw new Error(`${target} has no createClient`);
}
console.log(JSON.stringify({ importMs }));
