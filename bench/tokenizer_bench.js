#!/usr/bin/env node
// tokenizer_bench.js — encode throughput of Hugging Face's tokenizers (Rust, Node binding) on
// the same corpus and the same documents as bench/tokenizer_bench.c, single-threaded.
//
//   node bench/tokenizer_bench.js --modules NODE_MODULES --tokenizer tokenizer.json
//                                 --corpus FILE [--runs N] [--mode docs|lines|whole] [--batch 1000]
//
// Three measurements, best of N each, no special tokens:
//   batch  encodeBatch() over chunks of --batch documents, reading every id back (getIds): one
//          async hop per chunk. With RAYON_NUM_THREADS=1 and TOKENIZERS_PARALLELISM=false (set
//          here) it runs on one thread: the same work as the C bench (which writes the ids).
//   await  `await encode(doc)` for each document: adds the binding's per-call cost (a libuv
//          thread-pool round trip and the JS objects), what a Node program pays per string.
//   bare   encodeBatch() without reading the ids back (no getIds): Rust's encode and nothing else.
// The ratio in run_tokenizer_bench.sh uses the fastest of the three (the most favourable to HF).
// The token count and checksum must equal tokenizer_bench.c's.
'use strict';
process.env.RAYON_NUM_THREADS = process.env.RAYON_NUM_THREADS || '1';
process.env.RAYON_RS_NUM_CPUS = process.env.RAYON_RS_NUM_CPUS || '1';
process.env.TOKENIZERS_PARALLELISM = 'false';
process.env.UV_THREADPOOL_SIZE = process.env.UV_THREADPOOL_SIZE || '1';
const fs = require('fs');
const path = require('path');

const a = { runs: 5, mode: 'docs', batch: 1000 };
const argv = process.argv.slice(2);
for (let k = 0; k < argv.length; k++) {
  const f = argv[k], v = argv[k + 1];
  if (f === '--modules') a.modules = v, k++;
  else if (f === '--tokenizer') a.tokenizer = v, k++;
  else if (f === '--corpus') a.corpus = v, k++;
  else if (f === '--runs') a.runs = Number(v), k++;
  else if (f === '--mode') a.mode = v, k++;
  else if (f === '--batch') a.batch = Number(v), k++;
  else { process.stderr.write(`tokenizer_bench.js: unknown argument ${f}\n`); process.exit(2); }
}
if (!a.modules || !a.tokenizer || !a.corpus || !(a.runs >= 1) || !['docs', 'lines', 'whole'].includes(a.mode)) {
  process.stderr.write('usage: node bench/tokenizer_bench.js --modules DIR --tokenizer tokenizer.json --corpus FILE [--runs N] [--mode docs|lines|whole] [--batch N]\n');
  process.exit(2);
}

async function main() {
  const { Tokenizer } = require(path.resolve(a.modules, 'tokenizers'));
  const version = require(path.resolve(a.modules, 'tokenizers', 'package.json')).version;
  const buf = fs.readFileSync(a.corpus);
  let body = buf;
  if (a.mode !== 'whole' && body.length && body[body.length - 1] === 0x0a) body = body.subarray(0, body.length - 1);
  // Split the bytes as the C bench does, then make strings (the corpus is valid UTF-8).
  const docsBytes = [];
  if (a.mode === 'whole') docsBytes.push(body);
  else {
    const sep = Buffer.from(a.mode === 'docs' ? '\n\n' : '\n');
    let start = 0;
    for (;;) {
      const i = body.indexOf(sep, start);
      if (i < 0) { docsBytes.push(body.subarray(start)); break; }
      docsBytes.push(body.subarray(start, i));
      start = i + sep.length;
    }
  }
  const bytes = docsBytes.reduce((s, d) => s + d.length, 0);
  const docs = docsBytes.map((d) => d.toString('utf8'));

  let t = process.hrtime.bigint();
  const tok = Tokenizer.fromFile(path.resolve(a.tokenizer));
  const tLoad = Number(process.hrtime.bigint() - t) / 1e9;

  const opts = { addSpecialTokens: false };
  const time = async (fn) => {
    let best = Infinity, bestCpu = 0, result;
    for (let r = 0; r < a.runs; r++) {
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      result = await fn();
      const dt = Number(process.hrtime.bigint() - t0) / 1e9;
      const c = process.cpuUsage(c0);
      if (dt < best) { best = dt; bestCpu = (c.user + c.system) / 1e6; }
    }
    return { best, bestCpu, result };
  };

  const batch = await time(async () => {
    let n = 0;
    const all = [];
    for (let i = 0; i < docs.length; i += a.batch) {
      const encs = await tok.encodeBatch(docs.slice(i, i + a.batch), opts);
      for (const e of encs) { const ids = e.getIds(); n += ids.length; all.push(ids); }
    }
    return { n, all };
  });
  const bare = await time(async () => {
    let n = 0;
    for (let i = 0; i < docs.length; i += a.batch) n += (await tok.encodeBatch(docs.slice(i, i + a.batch), opts)).length;
    return { n };
  });
  const awaited = await time(async () => {
    let n = 0;
    for (const d of docs) n += (await tok.encode(d, null, opts)).getIds().length;
    return { n };
  });

  // The same checksum as the C bench: sum = sum * 31 + id over all ids, mod 2^64.
  let sum = 0n;
  const M = (1n << 64n) - 1n;
  for (const ids of batch.result.all) for (const id of ids) sum = (sum * 31n + BigInt(id)) & M;

  const tokens = batch.result.n;
  const mb = (s) => bytes / s / 1e6;
  console.log(`hf       tokenizers@${version}: ${docs.length} documents (${a.mode}), ${bytes} bytes, ${tokens} tokens ` +
    `(${(bytes / tokens).toFixed(2)} bytes/token), checksum ${sum.toString(16).padStart(16, '0')}`);
  console.log(`hf       load ${tLoad.toFixed(3)} s; encodeBatch(${a.batch}) best of ${a.runs}: ${batch.best.toFixed(3)} s ` +
    `(cpu ${batch.bestCpu.toFixed(3)} s) = ${mb(batch.best).toFixed(2)} MB/s, ${(tokens / batch.best / 1e6).toFixed(2)} Mtokens/s`);
  console.log(`hf       encodeBatch(${a.batch}) without reading the ids (getIds), best of ${a.runs}: ${bare.best.toFixed(3)} s ` +
    `(cpu ${bare.bestCpu.toFixed(3)} s) = ${mb(bare.best).toFixed(2)} MB/s`);
  console.log(`hf       await encode per document, best of ${a.runs}: ${awaited.best.toFixed(3)} s ` +
    `(cpu ${awaited.bestCpu.toFixed(3)} s) = ${mb(awaited.best).toFixed(2)} MB/s`);
  if (awaited.result.n !== tokens) console.log(`hf       WARNING: encode and encodeBatch counts differ (${awaited.result.n} vs ${tokens})`);
  const fastest = Math.min(batch.best, bare.best, awaited.best);
  console.log(`RESULT hf_best_mb_s=${mb(fastest).toFixed(3)} hf_batch_mb_s=${mb(batch.best).toFixed(3)} hf_bare_mb_s=${mb(bare.best).toFixed(3)} hf_await_mb_s=${mb(awaited.best).toFixed(3)} tokens=${tokens} checksum=${sum.toString(16).padStart(16, '0')}`);
}
main().catch((e) => { process.stderr.write(`tokenizer_bench.js: ${e && e.stack || e}\n`); process.exit(1); });
