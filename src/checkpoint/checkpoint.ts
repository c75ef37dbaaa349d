/**
 * Training checkpoints that never lose work. A checkpoint directory holds one `step_<N>`
 * directory per saved step:
 *
 *   step_<N>/params.safetensors      the params, one tensor per leaf named by its dotted pytree
 *                                    path (`encoder.block.0.mlp.wi_0.kernel`), readable by any
 *                                    safetensors reader
 *   step_<N>/opt_state.safetensors   the optimizer state (same naming), if given
 *   step_<N>/rng.safetensors         the RNG key (or a pytree of keys), if given
 *   step_<N>/state.json              step, data position and `extra` (arbitrary JSON)
 *   step_<N>/manifest.json           format name and version, step, every file's size and
 *                                    SHA-256, and each pytree's structure and leaf dtypes/shapes,
 *                                    plus a SHA-256 of the manifest itself
 *
 * Saving is atomic: everything is written into a hidden temp directory, each file is fsynced,
 * then the directory, then it is renamed to `step_<N>` and the parent is fsynced — so a crash
 * leaves either the complete new checkpoint or none (a leftover temp directory is ignored by
 * readers and removed by the next save). `keep: N` then deletes older checkpoints beyond the N
 * newest intact ones (never the newest intact one; deletion renames first so a half-deleted
 * checkpoint never looks real). Loading verifies sizes and checksums; a damaged checkpoint is
 * refused with a `CheckpointError` naming the file, what is wrong, and the newest earlier
 * intact step; `{skipCorrupt: true}` falls back to that one with a warning.
 *
 * One writer per checkpoint directory at a time.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { Array } from '../core/array.js';
import { checkDtype, type DType } from '../core/dtype.js';
import { flatten, unflatten, type TreeDef } from '../core/pytree.js';
import { leafPaths } from '../optim/tree_utils.js';
import { CheckpointError, SafetensorsError } from './errors.js';
import { fsyncDir, processAlive, randomSuffix, removeDirSafely, writeFileSynced } from './fs_durable.js';
import { SAFETENSORS_DTYPE, decodeSafetensors, encodeSafetensors } from './safetensors.js';

/** The manifest's `format` value. */
export const CHECKPOINT_FORMAT = 'myriad-checkpoint';
/** The manifest version this code writes (and the newest it reads). */
export const CHECKPOINT_VERSION = 1;

const MANIFEST = 'manifest.json';
const STATE_FILE = 'state.json';
const TREE_FILES = { params: 'params.safetensors', optState: 'opt_state.safetensors', rng: 'rng.safetensors' } as const;
type TreeName = keyof typeof TREE_FILES;
const TREE_NAMES = Object.keys(TREE_FILES) as TreeName[];
const STEP_DIR = /^step_(\d+)$/;
const TMP_DIR = /^\.tmp-step_\d+-(\d+)-[0-9a-f]+$/;
const ROOT_TENSOR = '__root__';

/** JSON data (what `dataPosition` and `extra` may hold). */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

/** What a checkpoint holds. */
export interface CheckpointContents {
  /** The model params (a pytree of Arrays). */
  params: unknown;
  /** The optimizer state (a pytree of Arrays), if any. */
  optState?: unknown;
  /** The training step (a non-negative integer, or a scalar integer Array). */
  step: number | Array;
  /** Where the data pipeline is (arbitrary JSON), to resume it exactly. */
  dataPosition?: JsonValue;
  /** The RNG key (a uint32 Array) or a pytree of keys. */
  rng?: unknown;
  /** Anything else worth keeping (arbitrary JSON: config, metrics…). */
  extra?: JsonValue;
}

/** Progress events of {@link saveCheckpoint} (a thrown error aborts the save cleanly). */
export type SaveProgressEvent =
  | { kind: 'file'; file: string; bytes: number }
  | { kind: 'commit'; path: string }
  | { kind: 'removed'; step: number; path: string };

/** Options of {@link saveCheckpoint}. */
export interface SaveOptions {
  /** Keep only the newest `keep` intact checkpoints (default: keep all). */
  keep?: number;
  /** Replace an existing checkpoint of the same step, and delete any of later steps (default false: error). */
  overwrite?: boolean;
  /** Extra `__metadata__` strings for the params safetensors file. */
  metadata?: Record<string, string>;
  /** Called after each file is durably written, after the commit and for each removed checkpoint. */
  onProgress?: (event: SaveProgressEvent) => void;
}

/** A manifest's file entry. */
export interface ManifestFile {
  /** File name inside the step directory. */
  name: string;
  /** Size in bytes. */
  bytes: number;
  /** Hex SHA-256 of the contents. */
  sha256: string;
}

/** A TreeDef as JSON. */
export type SerializedTreeDef =
  | { kind: 'leaf' }
  | { kind: 'none'; undefined?: true }
  | { kind: 'array'; children: SerializedTreeDef[] }
  | { kind: 'object'; keys: string[]; children: SerializedTreeDef[] };

/** One leaf of a saved pytree: a tensor in the tree's safetensors file, or a JSON scalar. */
export type ManifestLeaf =
  | { path: string; tensor: string; dtype: DType; shape: number[] }
  | { path: string; value: string | number | boolean };

/** A saved pytree. */
export interface ManifestTree {
  /** The safetensors file holding its tensors. */
  file: string;
  /** Its structure. */
  structure: SerializedTreeDef;
  /** Its leaves in flatten order. */
  leaves: ManifestLeaf[];
}

/** The contents of `manifest.json`. */
export interface CheckpointManifest {
  format: string;
  version: number;
  step: number;
  createdAt: string;
  files: ManifestFile[];
  trees: Partial<Record<TreeName, ManifestTree>>;
  /** SHA-256 of the manifest's JSON without this field. */
  checksum: string;
}

/** Result of {@link saveCheckpoint}. */
export interface SaveResult {
  step: number;
  /** The new `step_<N>` directory. */
  path: string;
  /** Total bytes written. */
  bytes: number;
  files: ManifestFile[];
  /** Steps deleted by `keep` or `overwrite`. */
  removedSteps: number[];
}

/** A checkpoint found by {@link listCheckpoints}. */
export interface CheckpointInfo {
  step: number;
  path: string;
  /** With `{validate}`: whether it is intact, and what is wrong otherwise. */
  valid?: boolean;
  problem?: string;
}

/** Options of {@link loadCheckpoint}. */
export interface LoadOptions {
  /** Load this step (default: the newest). */
  step?: number;
  /** With no `step`: skip damaged newer checkpoints and load the newest intact one, with a warning. */
  skipCorrupt?: boolean;
  /** Receives warnings (default: `process.emitWarning`). */
  onWarning?: (message: string) => void;
}

/** A loaded checkpoint. */
export interface LoadedCheckpoint {
  step: number;
  params: any;
  optState: any;
  rng: any;
  dataPosition: JsonValue | undefined;
  extra: JsonValue | undefined;
  /** The `step_<N>` directory it came from. */
  path: string;
  manifest: CheckpointManifest;
}

const sha256 = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');

// ---------------------------------------------------------------- validation of inputs

function checkJson(x: unknown, where: string): void {
  if (x === null || typeof x === 'string' || typeof x === 'boolean') return;
  if (typeof x === 'number') {
    if (!Number.isFinite(x)) throw new CheckpointError(`${where} is ${x}; JSON cannot hold NaN or infinities`, 'invalid-input');
    return;
  }
  if (globalThis.Array.isArray(x)) {
    x.forEach((v, i) => checkJson(v, `${where}[${i}]`));
    return;
  }
  if (typeof x === 'object' && (Object.getPrototypeOf(x) === Object.prototype || Object.getPrototypeOf(x) === null)) {
    for (const [k, v] of Object.entries(x as object)) {
      if (v === undefined) throw new CheckpointError(`${where}.${k} is undefined; JSON would drop it silently — use null or leave the key out`, 'invalid-input');
      checkJson(v, `${where}.${k}`);
    }
    return;
  }
  throw new CheckpointError(`${where} is ${x instanceof Array ? 'a Myriad Array' : typeof x}; only JSON data (objects, lists, strings, finite numbers, booleans, null) can be stored there${x instanceof Array ? ' — store arrays in params/optState/rng' : ''}`, 'invalid-input');
}

function stepNumber(step: unknown): number {
  let s = step;
  if (s instanceof Array) {
    if (s.isTracer) throw new CheckpointError('the step is a traced value; pass a concrete number (save outside jit)', 'invalid-input');
    if (s.size !== 1) throw new CheckpointError(`the step must be a scalar, got an array of shape [${s.shape.join(',')}]`, 'invalid-input');
    s = Number(s.item());
  }
  if (typeof s !== 'number' || !Number.isSafeInteger(s) || s < 0) throw new CheckpointError(`the step must be a non-negative integer, got ${String(step)}`, 'invalid-input');
  return s;
}

// ---------------------------------------------------------------- pytrees ↔ files

function serializeDef(d: TreeDef): SerializedTreeDef {
  switch (d.kind) {
    case 'leaf': return { kind: 'leaf' };
    case 'none': return d.value === undefined ? { kind: 'none', undefined: true } : { kind: 'none' };
    case 'array': return { kind: 'array', children: d.children.map(serializeDef) };
    case 'object': return { kind: 'object', keys: [...d.keys], children: d.children.map(serializeDef) };
  }
}

function deserializeDef(s: unknown, where: string): TreeDef {
  const bad = (): never => {
    throw new Error(`${where}: malformed tree structure`);
  };
  if (s === null || typeof s !== 'object') return bad();
  const o = s as Record<string, unknown>;
  switch (o.kind) {
    case 'leaf': return { kind: 'leaf' };
    case 'none': return { kind: 'none', value: o.undefined === true ? undefined : null };
    case 'array':
      if (!globalThis.Array.isArray(o.children)) return bad();
      return { kind: 'array', children: o.children.map((c) => deserializeDef(c, where)) };
    case 'object':
      if (!globalThis.Array.isArray(o.children) || !globalThis.Array.isArray(o.keys) || o.keys.length !== o.children.length || !o.keys.every((k) => typeof k === 'string')) return bad();
      return { kind: 'object', keys: [...(o.keys as string[])], children: o.children.map((c) => deserializeDef(c, where)) };
    default: return bad();
  }
}

/** Encodes one pytree as safetensors bytes plus its manifest entry. */
function encodeTree(name: TreeName, tree: unknown, metadata: Record<string, string>): { bytes: Uint8Array; entry: ManifestTree } {
  const [leaves, def] = flatten(tree);
  const paths = leafPaths(def);
  const tensors: [string, Array][] = [];
  const seen = new Set<string>();
  const mleaves = leaves.map((l, i): ManifestLeaf => {
    const p = paths[i];
    const where = `${name}${p ? '.' + p : ''}`;
    if (l instanceof Array) {
      if (l.isTracer) throw new CheckpointError(`${where} is a traced value (inside jit/grad); checkpoint concrete arrays, outside the traced function`, 'invalid-input');
      if (!SAFETENSORS_DTYPE[l.dtype]) throw new CheckpointError(`${where} has dtype ${l.dtype}, which cannot be stored; convert it (astype('float32'))`, 'invalid-input');
      const tname = p === '' ? ROOT_TENSOR : p;
      if (seen.has(tname)) throw new CheckpointError(`two leaves of ${name} have the same dotted path ${JSON.stringify(tname)} (an object key contains a '.'); rename the key`, 'invalid-input');
      seen.add(tname);
      tensors.push([tname, l]);
      return { path: p, tensor: tname, dtype: l.dtype, shape: [...l.shape] };
    }
    if (typeof l === 'string' || typeof l === 'boolean' || (typeof l === 'number' && Number.isFinite(l))) return { path: p, value: l };
    throw new CheckpointError(`${where} is ${typeof l === 'number' ? String(l) : typeof l === 'object' ? `an instance of ${(l as object).constructor?.name ?? 'an unknown class'}` : typeof l}; checkpoint pytrees may hold Myriad Arrays, strings, booleans and finite numbers`, 'invalid-input');
  });
  const bytes = encodeSafetensors(tensors, { format: 'myriad', content: name, ...metadata });
  return { bytes, entry: { file: TREE_FILES[name], structure: serializeDef(def), leaves: mleaves } };
}

/** Rebuilds one pytree from its manifest entry and file bytes. */
function decodeTree(entry: ManifestTree, bytes: Uint8Array, file: string): unknown {
  const decoded = decodeSafetensors(bytes, file);
  const def = deserializeDef(entry.structure, file);
  const leaves = entry.leaves.map((l) => {
    if ('value' in l) return l.value;
    const a = decoded.arrays.get(l.tensor);
    if (!a) throw new Error(`${path.basename(file)} has no tensor ${JSON.stringify(l.tensor)} that the manifest lists`);
    if (a.dtype !== checkDtype(l.dtype, 'manifest') || a.shape.join(',') !== l.shape.join(',')) {
      throw new Error(`${path.basename(file)}: tensor ${JSON.stringify(l.tensor)} is ${a.dtype}[${a.shape}] but the manifest says ${l.dtype}[${l.shape}]`);
    }
    return a;
  });
  return unflatten(def, leaves);
}

// ---------------------------------------------------------------- listing and checking

function stepDirs(dir: string): { step: number; path: string }[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new CheckpointError(`cannot read checkpoint directory ${dir}: ${(e as Error).message}`, 'io');
  }
  const out: { step: number; path: string }[] = [];
  for (const n of names) {
    const m = STEP_DIR.exec(n);
    if (m && Number.isSafeInteger(Number(m[1]))) out.push({ step: Number(m[1]), path: path.join(dir, n) });
  }
  return out.sort((a, b) => a.step - b.step);
}

interface CheckResult {
  ok: boolean;
  problem?: string;
  file?: string;
  manifest?: CheckpointManifest;
  contents?: Map<string, Uint8Array>;
}

function parseManifest(text: string, expectStep: number): CheckpointManifest | string {
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch (e) {
    return `is not valid JSON (${(e as Error).message})`;
  }
  if (m === null || typeof m !== 'object' || globalThis.Array.isArray(m)) return 'is not a JSON object';
  const o = m as Record<string, unknown>;
  if (o.format !== CHECKPOINT_FORMAT) return `has format ${JSON.stringify(o.format)}, expected ${JSON.stringify(CHECKPOINT_FORMAT)}`;
  if (typeof o.version !== 'number' || !Number.isInteger(o.version)) return 'has no integer version';
  if (o.version > CHECKPOINT_VERSION) return `has version ${o.version}, newer than the ${CHECKPOINT_VERSION} this Myriad reads; upgrade Myriad`;
  const { checksum, ...body } = o;
  if (typeof checksum !== 'string') return 'has no checksum';
  const actual = sha256(JSON.stringify(body));
  if (actual !== checksum) return `does not match its own checksum (expected ${checksum.slice(0, 12)}…, computed ${actual.slice(0, 12)}…): the manifest was modified or damaged`;
  if (o.step !== expectStep) return `records step ${String(o.step)} but the directory is step_${expectStep}`;
  if (!globalThis.Array.isArray(o.files) || !o.files.every((f) => f && typeof f.name === 'string' && /^[\w.-]+$/.test(f.name) && !f.name.startsWith('.') && Number.isSafeInteger(f.bytes) && typeof f.sha256 === 'string')) {
    return 'has a malformed file list';
  }
  if (o.trees === null || typeof o.trees !== 'object') return 'has no trees';
  return o as unknown as CheckpointManifest;
}

/** Checks one step directory: manifest, file presence and sizes, and (optionally) checksums. */
function checkStepDir(dir: string, step: number, { checksums, keepContents }: { checksums: boolean; keepContents: boolean }): CheckResult {
  const mpath = path.join(dir, MANIFEST);
  let text: string;
  try {
    text = fs.readFileSync(mpath, 'utf8');
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
    return { ok: false, file: MANIFEST, problem: missing ? `${MANIFEST} is missing (the save never finished, or the file was deleted)` : `${MANIFEST} cannot be read: ${(e as Error).message}` };
  }
  const parsed = parseManifest(text, step);
  if (typeof parsed === 'string') return { ok: false, file: MANIFEST, problem: `${MANIFEST} ${parsed}` };
  const contents = new Map<string, Uint8Array>();
  for (const f of parsed.files) {
    const fp = path.join(dir, f.name);
    let size: number;
    try {
      size = fs.statSync(fp).size;
    } catch {
      return { ok: false, file: f.name, problem: `${f.name} is missing (the manifest lists it with ${f.bytes} bytes)` };
    }
    if (size !== f.bytes) {
      return { ok: false, file: f.name, problem: `${f.name} has ${size} bytes but the manifest records ${f.bytes} (${size < f.bytes ? 'truncated' : 'extra bytes appended'})` };
    }
    if (checksums) {
      const bytes = fs.readFileSync(fp);
      const h = sha256(bytes);
      if (h !== f.sha256) return { ok: false, file: f.name, problem: `${f.name} fails its SHA-256 check (expected ${f.sha256.slice(0, 12)}…, got ${h.slice(0, 12)}…): its contents are damaged` };
      if (keepContents) contents.set(f.name, bytes);
    }
  }
  for (const t of TREE_NAMES) {
    const e = parsed.trees[t];
    if (e && !parsed.files.some((f) => f.name === e.file)) return { ok: false, file: MANIFEST, problem: `${MANIFEST} lists tree ${t} in ${e.file}, which is not in its file list` };
  }
  if (!parsed.files.some((f) => f.name === STATE_FILE)) return { ok: false, file: MANIFEST, problem: `${MANIFEST} does not list ${STATE_FILE}` };
  return { ok: true, manifest: parsed, contents };
}

/**
 * The `step_<N>` checkpoints in `dir`, oldest first (an absent directory has none). Unfinished
 * temp directories are not listed. With `{validate: true}` each entry says whether it is intact
 * (manifest, sizes and SHA-256 checksums) and what is wrong if not.
 */
export function listCheckpoints(dir: string, { validate = false }: { validate?: boolean } = {}): CheckpointInfo[] {
  return stepDirs(dir).map((c) => {
    if (!validate) return c;
    const r = checkStepDir(c.path, c.step, { checksums: true, keepContents: false });
    return r.ok ? { ...c, valid: true } : { ...c, valid: false, problem: r.problem };
  });
}

/** Newest intact checkpoint strictly older than `step`, or null. */
function previousValid(all: { step: number; path: string }[], step: number): number | null {
  for (let i = all.length - 1; i >= 0; i--) {
    if (all[i].step >= step) continue;
    if (checkStepDir(all[i].path, all[i].step, { checksums: true, keepContents: false }).ok) return all[i].step;
  }
  return null;
}

function corruptError(dir: string, step: number, r: CheckResult, prev: number | null, latest: boolean): CheckpointError {
  const tail = prev === null
    ? `No earlier intact checkpoint exists in ${dir}.`
    : `The previous checkpoint at step ${prev} is intact: load it with {step: ${prev}}${latest ? ' or pass {skipCorrupt: true} to fall back to it' : ''}.`;
  return new CheckpointError(`checkpoint step_${step} in ${dir} is damaged and was refused: ${r.problem}. ${tail}`, 'corrupt', { step, file: r.file, previousValidStep: prev });
}

// ---------------------------------------------------------------- load

/**
 * Loads a checkpoint (the newest by default), verifying every file's size and SHA-256. A damaged
 * checkpoint is refused with a {@link CheckpointError}; with `{skipCorrupt: true}` and no `step`,
 * damaged newer checkpoints are skipped (with a warning) in favour of the newest intact one.
 */
export function loadCheckpoint(dir: string, opts: LoadOptions = {}): LoadedCheckpoint {
  const all = stepDirs(dir);
  if (!all.length) throw new CheckpointError(`no checkpoints in ${dir} (expected step_<N> directories written by saveCheckpoint)`, 'missing');
  const warn = opts.onWarning ?? ((m: string) => process.emitWarning(m, 'MyriadCheckpointWarning'));
  if (opts.step !== undefined) {
    const c = all.find((e) => e.step === opts.step);
    if (!c) throw new CheckpointError(`no checkpoint for step ${opts.step} in ${dir}; available steps: ${all.map((e) => e.step).join(', ')}`, 'missing', { step: opts.step });
    const r = checkStepDir(c.path, c.step, { checksums: true, keepContents: true });
    if (!r.ok) throw corruptError(dir, c.step, r, previousValid(all, c.step), false);
    return materialize(c, r);
  }
  const skipped: string[] = [];
  for (let i = all.length - 1; i >= 0; i--) {
    const c = all[i];
    const r = checkStepDir(c.path, c.step, { checksums: true, keepContents: true });
    if (r.ok) {
      if (skipped.length) warn(`skipped damaged checkpoint(s) in ${dir}: ${skipped.join('; ')}; loading the newest intact one, step ${c.step} (skipCorrupt)`);
      return materialize(c, r);
    }
    if (!opts.skipCorrupt) throw corruptError(dir, c.step, r, previousValid(all, c.step), true);
    skipped.push(`step_${c.step} (${r.problem})`);
  }
  throw new CheckpointError(`no intact checkpoint in ${dir}: ${skipped.join('; ')}`, 'corrupt', { previousValidStep: null });
}

function materialize(c: { step: number; path: string }, r: CheckResult): LoadedCheckpoint {
  const manifest = r.manifest as CheckpointManifest;
  const contents = r.contents as Map<string, Uint8Array>;
  const fail = (file: string, msg: string): never => {
    throw new CheckpointError(`checkpoint step_${c.step} at ${c.path} is inconsistent and was refused: ${msg}`, 'corrupt', { step: c.step, file });
  };
  const trees: Partial<Record<TreeName, unknown>> = {};
  for (const t of TREE_NAMES) {
    const e = manifest.trees[t];
    if (!e) continue;
    const bytes = contents.get(e.file);
    if (!bytes) return fail(e.file, `${e.file} was not read`);
    try {
      trees[t] = decodeTree(e, bytes, path.join(c.path, e.file));
    } catch (err) {
      return fail(e.file, err instanceof SafetensorsError || err instanceof Error ? err.message : String(err));
    }
  }
  let state: { step?: unknown; dataPosition?: JsonValue; extra?: JsonValue };
  try {
    state = JSON.parse(new TextDecoder().decode(contents.get(STATE_FILE)));
  } catch (err) {
    return fail(STATE_FILE, `${STATE_FILE} is not valid JSON (${(err as Error).message})`);
  }
  if (state.step !== c.step) fail(STATE_FILE, `${STATE_FILE} records step ${String(state.step)}`);
  return {
    step: c.step,
    params: trees.params,
    optState: trees.optState,
    rng: trees.rng,
    dataPosition: state.dataPosition,
    extra: state.extra,
    path: c.path,
    manifest,
  };
}

// ---------------------------------------------------------------- save

function cleanStale(dir: string): void {
  for (const n of fs.readdirSync(dir)) {
    const m = TMP_DIR.exec(n);
    const stale = (m && (Number(m[1]) === process.pid || !processAlive(Number(m[1])))) || n.startsWith('.trash-step_');
    if (stale) fs.rmSync(path.join(dir, n), { recursive: true, force: true });
  }
}

/**
 * Saves a checkpoint as `dir/step_<step>` atomically (see the module comment) and applies
 * `keep`. Refuses to write over an existing step, or below a later one, unless `overwrite`.
 */
export function saveCheckpoint(dir: string, contents: CheckpointContents, opts: SaveOptions = {}): SaveResult {
  if (typeof dir !== 'string' || dir === '') throw new CheckpointError('saveCheckpoint needs a directory path', 'invalid-input');
  if (contents === null || typeof contents !== 'object') throw new CheckpointError('saveCheckpoint needs {params, step, …}', 'invalid-input');
  const step = stepNumber(contents.step);
  const { keep, overwrite = false, onProgress } = opts;
  if (keep !== undefined && (!Number.isInteger(keep) || keep < 1)) throw new CheckpointError(`keep must be a positive integer (checkpoints to retain), got ${String(keep)}`, 'invalid-input');
  if (contents.params === undefined) throw new CheckpointError('saveCheckpoint: params are missing', 'invalid-input');
  if (contents.dataPosition !== undefined) checkJson(contents.dataPosition, 'dataPosition');
  if (contents.extra !== undefined) checkJson(contents.extra, 'extra');
  if (opts.metadata) checkJson(opts.metadata, 'metadata');

  // Encode everything before touching the disk: bad input fails without side effects.
  const encoded: { name: string; bytes: Uint8Array }[] = [];
  const trees: Partial<Record<TreeName, ManifestTree>> = {};
  for (const t of TREE_NAMES) {
    const value = contents[t];
    if (value === undefined) continue;
    const { bytes, entry } = encodeTree(t, value, t === 'params' ? { step: String(step), ...(opts.metadata ?? {}) } : { step: String(step) });
    encoded.push({ name: entry.file, bytes });
    trees[t] = entry;
  }
  const stateJson: Record<string, JsonValue> = { step };
  if (contents.dataPosition !== undefined) stateJson.dataPosition = contents.dataPosition;
  if (contents.extra !== undefined) stateJson.extra = contents.extra;
  encoded.push({ name: STATE_FILE, bytes: Buffer.from(JSON.stringify(stateJson, null, 2) + '\n', 'utf8') });

  const existed = fs.existsSync(dir);
  fs.mkdirSync(dir, { recursive: true });
  if (!existed) fsyncDir(path.dirname(path.resolve(dir)));
  cleanStale(dir);
  const existing = stepDirs(dir);
  const clash = existing.filter((e) => e.step >= step);
  if (clash.length && !overwrite) {
    const same = clash.find((e) => e.step === step);
    throw new CheckpointError(
      same
        ? `a checkpoint for step ${step} already exists at ${same.path}; pass {overwrite: true} to replace it`
        : `checkpoints of later steps exist in ${dir} (${clash.map((e) => e.step).join(', ')}); saving step ${step} would be shadowed by them. Pass {overwrite: true} to replace them (they are deleted), or save to another directory`,
      'exists', { step },
    );
  }

  const tmp = path.join(dir, `.tmp-step_${step}-${process.pid}-${randomSuffix()}`);
  const final = path.join(dir, `step_${step}`);
  const files: ManifestFile[] = [];
  try {
    fs.mkdirSync(tmp);
    for (const f of encoded) {
      writeFileSynced(path.join(tmp, f.name), f.bytes);
      files.push({ name: f.name, bytes: f.bytes.length, sha256: sha256(f.bytes) });
      onProgress?.({ kind: 'file', file: f.name, bytes: f.bytes.length });
    }
    const body = { format: CHECKPOINT_FORMAT, version: CHECKPOINT_VERSION, step, createdAt: new Date().toISOString(), files, trees };
    const manifest = { ...body, checksum: sha256(JSON.stringify(body)) };
    const mtext = JSON.stringify(manifest, null, 2) + '\n';
    writeFileSynced(path.join(tmp, MANIFEST), mtext);
    onProgress?.({ kind: 'file', file: MANIFEST, bytes: Buffer.byteLength(mtext) });
    fsyncDir(tmp);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }

  // Commit: one rename. An existing same-step checkpoint (overwrite) is moved aside first.
  const removedSteps: number[] = [];
  const same = existing.find((e) => e.step === step);
  let trash: string | null = null;
  if (same) {
    trash = path.join(dir, `.trash-step_${step}-${process.pid}-${randomSuffix()}`);
    fs.renameSync(final, trash);
  }
  fs.renameSync(tmp, final);
  fsyncDir(dir);
  onProgress?.({ kind: 'commit', path: final });
  if (trash) {
    fs.rmSync(trash, { recursive: true, force: true });
    removedSteps.push(step);
  }
  for (const e of clash) {
    if (e.step === step) continue;
    removeDirSafely(e.path);
    removedSteps.push(e.step);
    onProgress?.({ kind: 'removed', step: e.step, path: e.path });
  }

  if (keep !== undefined) {
    // Keep the `keep` newest intact checkpoints (the one just written is the newest); delete
    // everything older than the oldest kept one. Damaged ones in between are left alone.
    let kept = 0;
    for (const e of stepDirs(dir).reverse()) {
      if (kept >= keep) {
        removeDirSafely(e.path);
        removedSteps.push(e.step);
        onProgress?.({ kind: 'removed', step: e.step, path: e.path });
        continue;
      }
      if (e.step === step || checkStepDir(e.path, e.step, { checksums: true, keepContents: false }).ok) kept++;
    }
  }
  const bytes = files.reduce((n, f) => n + f.bytes, 0);
  return { step, path: final, bytes, files, removedSteps };
}
