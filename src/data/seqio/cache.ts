/**
 * On-disk cache of a task's preprocessed and tokenized examples, one directory per (task, split, seed):
 * `examples.jsonl` (one `{"i": sourceIndex, "ex": {...}}` per kept example) and `manifest.json` (format,
 * task, split, seed, a content hash of the task definition + source data, the file's SHA-256 and its
 * record count). On open, the manifest's content hash is recomputed from the current task (code,
 * features, vocabulary fingerprints, metadata, and a digest of every source example), the file hash
 * and count are verified, and the first few records are recomputed and compared; any mismatch means
 * stale or corrupt, and the cache is rebuilt — a stale cache is never used. Builds write into a
 * temporary directory (fsync'd) and rename it into place, so readers never see a half-written cache.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import type { Example, Split } from './types.js';
import type { Task, TaskRecord } from './task.js';
import { CacheError } from './errors.js';
import { hashString } from './rng.js';

/** Version of the on-disk layout; bump when it changes. */
export const CACHE_FORMAT_VERSION = 1;

export interface CacheManifest {
  format: 'myriad-seqio-cache';
  version: number;
  task: string;
  split: Split;
  seed: number;
  /** SHA-256 of (task definition hash, source data digest). */
  contentHash: string;
  /** SHA-256 of examples.jsonl. */
  fileHash: string;
  /** Number of records (kept examples). */
  numRecords: number;
  /** Number of source examples read. */
  numSource: number;
  createdAt: string;
}

/** How `openTaskCache` found the cache. */
export type CacheStatus = 'hit' | 'built' | 'rebuilt';

/** An opened, verified cache. */
export interface CacheHandle {
  status: CacheStatus;
  /** Why it was rebuilt (when status is 'rebuilt'). */
  reason?: string;
  dir: string;
  manifest: CacheManifest;
  /** Records with source index >= startIndex that `want` accepts, in order. */
  records(startIndex?: number, want?: (i: number) => boolean): Iterable<TaskRecord>;
}

/** Options of `openTaskCache`. */
export interface CacheOptions {
  /** How many leading records to recompute and compare on open (default 8). */
  verifySample?: number;
}

/** Directory of the cache of (task, split, seed) under `root`. */
export function cachePath(root: string, taskName: string, split: Split, seed: number): string {
  const safe = taskName.replace(/[^A-Za-z0-9._-]/g, '_');
  const tag = hashString(taskName).toString(16).padStart(8, '0');
  return path.join(root, `${safe}-${tag}`, `${split}-seed${seed}`);
}

/** Content hash of the current task definition and source data for (split, seed). */
export function computeContentHash(task: Task, split: Split, seed: number): { contentHash: string; numSource: number } {
  const h = createHash('sha256');
  h.update(task.definitionHash(split, seed));
  let n = 0;
  for (const raw of task.openSource(split, seed)) {
    h.update('\n');
    h.update(JSON.stringify(raw) ?? 'undefined');
    n++;
  }
  return { contentHash: h.digest('hex'), numSource: n };
}

function sha256(buf: Buffer | string): string {
  return createHash('sha256').update(buf).digest('hex');
}

function writeFileSynced(file: string, data: string): void {
  const fd = fs.openSync(file, 'w');
  try {
    fs.writeSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function fsyncDir(dir: string): void {
  try {
    const fd = fs.openSync(dir, 'r');
    try { fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
  } catch {
    // Directory fsync is not supported on every platform; the file fsyncs above are what matter.
  }
}

interface Loaded {
  manifest: CacheManifest;
  lines: string[];
}

/** Reads and verifies a cache directory; returns the reason it cannot be used, or the loaded content. */
function tryLoad(dir: string, task: Task, split: Split, seed: number, contentHash: string, verifySample: number): Loaded | string {
  const mfile = path.join(dir, 'manifest.json');
  const efile = path.join(dir, 'examples.jsonl');
  if (!fs.existsSync(mfile)) return 'missing';
  let manifest: CacheManifest;
  try {
    manifest = JSON.parse(fs.readFileSync(mfile, 'utf8')) as CacheManifest;
  } catch (e) {
    return `unreadable manifest (${(e as Error).message})`;
  }
  if (manifest.format !== 'myriad-seqio-cache' || manifest.version !== CACHE_FORMAT_VERSION) return `format ${manifest.format} v${manifest.version} is not the current v${CACHE_FORMAT_VERSION}`;
  if (manifest.task !== task.name || manifest.split !== split || manifest.seed !== seed) return 'manifest names a different task/split/seed';
  if (manifest.contentHash !== contentHash) return 'content hash changed (task code, features, vocabulary, metadata or source data differ)';
  if (!fs.existsSync(efile)) return 'examples.jsonl missing';
  const buf = fs.readFileSync(efile);
  if (sha256(buf) !== manifest.fileHash) return 'examples.jsonl does not match the hash in the manifest (corrupt or edited)';
  const text = buf.toString('utf8');
  const lines = text.length === 0 ? [] : text.slice(0, text.endsWith('\n') ? -1 : undefined).split('\n');
  if (lines.length !== manifest.numRecords) return `record count ${lines.length} != manifest's ${manifest.numRecords}`;
  // Spot check: recompute the first records; catches changes the hash cannot see (captured variables in closures).
  if (verifySample > 0) {
    let k = 0;
    for (const r of task.records(split, seed)) {
      if (k >= verifySample || k >= lines.length) break;
      const expect = JSON.stringify({ i: r.index, ex: task.tokenize(r.ex) });
      if (lines[k] !== expect) return `record ${k} differs from a fresh computation (a preprocessor changed without changing its source text)`;
      k++;
    }
    if (k < Math.min(verifySample, lines.length)) return 'fewer records than the cache holds';
  }
  return { manifest, lines };
}

function build(dir: string, task: Task, split: Split, seed: number, contentHash: string, numSource: number): Loaded {
  const parent = path.dirname(dir);
  try {
    fs.mkdirSync(parent, { recursive: true });
  } catch (e) {
    throw new CacheError(`cache: cannot create directory ${parent}: ${(e as Error).message}. Pass a writable cacheDir.`);
  }
  const tmp = `${dir}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  fs.mkdirSync(tmp);
  const lines: string[] = [];
  for (const r of task.records(split, seed)) lines.push(JSON.stringify({ i: r.index, ex: task.tokenize(r.ex) }));
  const body = lines.length === 0 ? '' : lines.join('\n') + '\n';
  const manifest: CacheManifest = {
    format: 'myriad-seqio-cache',
    version: CACHE_FORMAT_VERSION,
    task: task.name,
    split,
    seed,
    contentHash,
    fileHash: sha256(body),
    numRecords: lines.length,
    numSource,
    createdAt: new Date().toISOString(),
  };
  writeFileSynced(path.join(tmp, 'examples.jsonl'), body);
  writeFileSynced(path.join(tmp, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  fsyncDir(tmp);
  if (fs.existsSync(dir)) fs.rmSync(dir, { recursive: true, force: true });
  try {
    fs.renameSync(tmp, dir);
  } catch (e) {
    // Another process (rank) may have renamed its build into place first; ours is identical, so drop it.
    fs.rmSync(tmp, { recursive: true, force: true });
    if (!fs.existsSync(path.join(dir, 'manifest.json'))) {
      throw new CacheError(`cache: cannot move ${tmp} to ${dir}: ${(e as Error).message}`);
    }
  }
  fsyncDir(parent);
  return { manifest, lines };
}

/**
 * Opens the cache of (task, split, seed) under `root`, building it when missing and rebuilding it when
 * stale or corrupt. Never returns a cache whose content hash differs from the current task's.
 */
export function openTaskCache(task: Task, split: Split, seed: number, root: string, opts: CacheOptions = {}): CacheHandle {
  if (typeof root !== 'string' || root.length === 0) throw new CacheError('cache: cacheDir must be a non-empty directory path');
  const dir = cachePath(root, task.name, split, seed);
  const verifySample = opts.verifySample ?? 8;
  const { contentHash, numSource } = computeContentHash(task, split, seed);
  const loaded = tryLoad(dir, task, split, seed, contentHash, verifySample);
  let status: CacheStatus;
  let reason: string | undefined;
  let data: Loaded;
  if (typeof loaded === 'string') {
    status = loaded === 'missing' ? 'built' : 'rebuilt';
    reason = loaded === 'missing' ? undefined : loaded;
    data = build(dir, task, split, seed, contentHash, numSource);
  } else {
    status = 'hit';
    data = loaded;
  }
  const lines = data.lines;
  return {
    status,
    reason,
    dir,
    manifest: data.manifest,
    records(startIndex = 0, want: (i: number) => boolean = () => true): Iterable<TaskRecord> {
      return {
        *[Symbol.iterator]() {
          // Binary search for the first record with source index >= startIndex.
          let lo = 0;
          let hi = lines.length;
          while (lo < hi) {
            const mid = (lo + hi) >>> 1;
            const i = (JSON.parse(lines[mid]) as { i: number }).i;
            if (i < startIndex) lo = mid + 1;
            else hi = mid;
          }
          for (let k = lo; k < lines.length; k++) {
            const rec = JSON.parse(lines[k]) as { i: number; ex: Example };
            if (!want(rec.i)) continue;
            yield { index: rec.i, ex: rec.ex, tokenized: true };
          }
        },
      };
    },
  };
}
