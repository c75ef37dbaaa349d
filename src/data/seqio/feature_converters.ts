/**
 * Feature converters: turn tokenized task examples (`inputs_ids`, `targets_ids`) into the fixed-length
 * integer rows a model trains on, with **packing** (several examples per row), as seqio's
 * `LMFeatureConverter`, `PrefixLMFeatureConverter` and `EncDecFeatureConverter` do:
 *
 * - `DecoderOnlyConverter` — mode `'lm'` (targets only, loss on all tokens), `'concat'` (inputs then
 *   targets, causal, loss only on targets by default) or `'prefix-lm'` (as concat, plus
 *   `decoder_causal_attention` marking the inputs and one position more, where attention is
 *   bidirectional).
 * - `EncDecConverter` — encoder inputs and decoder targets packed in lockstep (an example's input and
 *   target share a segment id).
 *
 * Every row carries `*_segment_ids` (1, 2, … per packed example, 0 on padding), `*_positions` that
 * restart at 0 in each segment, `decoder_input_tokens` = targets shifted right *within each segment*
 * (decoder start id 0 at each segment start), and `decoder_loss_weights` (0 on padding, and for
 * decoder-only on inputs). Given a `TaskIdMap` (option `taskIds`, for task-routed Task-MoE models)
 * rows also carry `decoder_task_ids` (and `encoder_task_ids`): every token holds the task id of its
 * own example, so a packed row may mix tasks; padding holds 0 (padding is masked out of the
 * losses, the routing metrics and attention, so its id only has to be a valid one). Rows are grouped into batches `{feature: {data: Int32Array, shape: [B, L]}}`
 * whose stream is resumable from a plain-JSON position. `selfAttentionMask`/`crossAttentionMask`
 * build the masks the model must use, and `checkPackedBatch` verifies all of the invariants above.
 */

import type { Example } from './types.js';
import { DataError } from './errors.js';
import { Dataset, type BatchPosition, type ResumableIterator, type StreamPosition } from './stream.js';
import type { TaskIdMap } from './task_ids.js';

/** A 2-D int32 array in row-major order. */
export interface IntArray2D {
  data: Int32Array;
  shape: [number, number];
}

/** One batch: model feature name → [batch, length] array. */
export type Batch = Record<string, IntArray2D>;

/** What to do with an example longer than a row. */
export type OverflowPolicy = 'truncate' | 'error';

/** Counters a converter keeps while it runs. */
export interface ConverterStats {
  examples: number;
  rows: number;
  /** Examples cut to fit (policy 'truncate'). */
  truncated: number;
  /** Non-padding tokens written. */
  tokens: number;
  /** Row slots available (rows × length). */
  slots: number;
}

interface RowBuilder {
  readonly count: number;
  /** Whether the remaining space is smaller than the longest example seen so far (the next one may not fit). */
  nearlyFull(): boolean;
  /** Whether `ex` fits in the remaining space. */
  fits(ex: Example): boolean;
  /** Adds `ex`, truncating if needed (only called on an empty row when it does not fit). */
  add(ex: Example): void;
  finish(): Record<string, Int32Array>;
}

function idsOf(ex: Example, field: string, converter: string): number[] {
  const v = ex[field];
  if (!Array.isArray(v)) {
    throw new DataError(`${converter}: example lacks '${field}' (an array of token ids); tokenize it first (Task.getDataset does) — keys: ${Object.keys(ex).join(', ')}`);
  }
  for (const id of v) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > 0x7fffffff) {
      throw new DataError(`${converter}: '${field}' holds ${JSON.stringify(id)}; token ids must be non-negative int32 integers`);
    }
  }
  return v as number[];
}

/** Shared machinery: rows from examples, batches from rows, resumable positions. */
export abstract class FeatureConverter {
  readonly pack: boolean;
  readonly overflow: OverflowPolicy;
  readonly stats: ConverterStats = { examples: 0, rows: 0, truncated: 0, tokens: 0, slots: 0 };
  /** Task ids of examples (rows then carry `*_task_ids`), or null. */
  readonly taskIds: TaskIdMap | null;

  constructor(opts: { pack?: boolean; overflow?: OverflowPolicy; taskIds?: TaskIdMap }) {
    this.pack = opts.pack ?? true;
    this.overflow = opts.overflow ?? 'truncate';
    if (this.overflow !== 'truncate' && this.overflow !== 'error') throw new DataError(`FeatureConverter: overflow must be 'truncate' or 'error', got ${JSON.stringify(opts.overflow)}`);
    const t = opts.taskIds;
    if (t !== undefined && (t === null || typeof t.idOf !== 'function' || !Number.isInteger(t.numTasks) || t.numTasks < 1 || typeof t.describe !== 'string')) {
      throw new DataError('FeatureConverter: taskIds must be a TaskIdMap (from taskIdsByTask or taskIdsByMeta)');
    }
    this.taskIds = t ?? null;
  }

  /** The task id of an example (validated against the map's range); 0 without a map. */
  protected taskIdOf(ex: Example, converter: string): number {
    if (this.taskIds === null) return 0;
    const id = this.taskIds.idOf(ex);
    if (!Number.isInteger(id) || id < 0 || id >= this.taskIds.numTasks) {
      throw new DataError(`${converter}: task id ${JSON.stringify(id)} of an example is outside 0..${this.taskIds.numTasks - 1} (${this.taskIds.describe})`);
    }
    return id;
  }

  /** The `describe()` suffix naming the task-id map. */
  protected describeTaskIds(): string {
    return this.taskIds === null ? '' : `,taskIds=${this.taskIds.describe}`;
  }

  /** Model feature name → row length. */
  abstract readonly featureLengths: Readonly<Record<string, number>>;
  /** One-line description (used to validate resume positions). */
  abstract describe(): string;
  protected abstract newRow(): RowBuilder;

  /** Fraction of row slots holding real tokens so far. */
  get packingEfficiency(): number {
    return this.stats.slots === 0 ? 0 : this.stats.tokens / this.stats.slots;
  }

  /** Converts a stream of tokenized examples into rows (not resumable; use `batches` for training). */
  *rows(examples: Iterable<Example>): Generator<Record<string, Int32Array>> {
    let row = this.newRow();
    for (const ex of examples) {
      if (row.count > 0 && (!this.pack || !row.fits(ex))) {
        yield this.finishRow(row);
        row = this.newRow();
      }
      row.add(ex);
      this.stats.examples++;
    }
    if (row.count > 0) yield this.finishRow(row);
  }

  protected finishRow(row: RowBuilder): Record<string, Int32Array> {
    const r = row.finish();
    this.stats.rows++;
    return r;
  }

  /** A batch made of `rows` (padded with all-zero rows up to `batchSize`). */
  stack(rows: Array<Record<string, Int32Array>>, batchSize: number): Batch {
    const out: Batch = {};
    for (const [name, len] of Object.entries(this.featureLengths)) {
      const data = new Int32Array(batchSize * len);
      rows.forEach((r, b) => data.set(r[name], b * len));
      out[name] = { data, shape: [batchSize, len] };
    }
    return out;
  }

  /**
   * Packs a stream into batches of `batchSize` rows. When `source` is a `Dataset`, the batch iterator's
   * `position` resumes exactly (it records the upstream position before the first example not yet
   * emitted). The last partial batch is padded with empty rows unless `dropRemainder`.
   */
  batches(source: Dataset<Example> | Iterable<Example>, batchSize: number, opts: { dropRemainder?: boolean } = {}): Dataset<Batch, BatchPosition> {
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new DataError(`FeatureConverter.batches: batchSize must be a positive integer, got ${batchSize}`);
    const config = `${this.describe()}|batch=${batchSize}|drop=${opts.dropRemainder ?? false}`;
    return new Dataset<Batch, BatchPosition>((from) => {
      let upstream: Iterator<Example>;
      let batches = 0;
      if (from !== undefined) {
        if (from.kind !== 'batches' || from.config !== config) {
          throw new DataError(`FeatureConverter.batches: position was written by '${from.kind === 'batches' ? from.config : from.kind}', not by '${config}'; resume with the same converter and batch size`);
        }
        if (!(source instanceof Dataset)) throw new DataError('FeatureConverter.batches: resuming needs the source to be a Dataset (from Task/Mixture.getDataset)');
        upstream = source.resume(from.upstream);
        if (!Number.isInteger(from.skip) || from.skip < 0) throw new DataError(`FeatureConverter.batches: position skip must be a non-negative integer, got ${from.skip}`);
        for (let k = 0; k < from.skip; k++) {
          if (upstream.next().done) throw new DataError('FeatureConverter.batches: the source ended while skipping to the saved position; was the source changed since the checkpoint?');
        }
        batches = from.batches;
      } else {
        upstream = source[Symbol.iterator]();
      }
      return new BatchIterator(this, upstream, batchSize, config, opts.dropRemainder ?? false, batches);
    });
  }

  /** @internal used by the batch iterator. */
  buildRow(): RowBuilder {
    return this.newRow();
  }
}

interface Mark {
  snap: StreamPosition | null;
  skip: number;
}

class BatchIterator implements ResumableIterator<Batch, BatchPosition> {
  private pending: { ex: Example; before: Mark } | null = null;
  private resumeAt: Mark;
  private ended = false;
  // Snapshot of the upstream position at some read boundary, and reads since then. Snapshots of a
  // mixture position are not free, so they are taken only when a row is nearly full (the next example
  // is likely to become pending) or every 64 reads; in between, positions are "snapshot + skip".
  private snap: StreamPosition | null;
  private sinceSnap = 0;

  constructor(
    private readonly conv: FeatureConverter,
    private readonly upstream: Iterator<Example>,
    private readonly batchSize: number,
    private readonly config: string,
    private readonly dropRemainder: boolean,
    private emitted: number,
  ) {
    this.snap = this.upstreamPosition();
    this.resumeAt = { snap: this.snap, skip: 0 };
  }

  private upstreamPosition(): StreamPosition | null {
    const u = this.upstream as Partial<ResumableIterator<Example>>;
    return 'position' in u && u.position !== undefined ? u.position : null;
  }

  get position(): BatchPosition {
    const { snap, skip } = this.resumeAt;
    if (snap === null) throw new DataError('FeatureConverter.batches: this stream is not resumable because its source iterator has no position; pass a Dataset from Task/Mixture.getDataset');
    return { kind: 'batches', config: this.config, upstream: snap, skip, batches: this.emitted };
  }

  private read(row: RowBuilder): { ex: Example; before: Mark } | null {
    if (this.pending) {
      const p = this.pending;
      this.pending = null;
      return p;
    }
    if (this.ended) return null;
    if (this.snap !== null && (this.sinceSnap >= 64 || row.nearlyFull())) {
      this.snap = this.upstreamPosition();
      this.sinceSnap = 0;
    }
    const before: Mark = { snap: this.snap, skip: this.sinceSnap };
    const r = this.upstream.next();
    if (r.done) {
      this.ended = true;
      return null;
    }
    this.sinceSnap++;
    return { ex: r.value, before };
  }

  next(): IteratorResult<Batch, undefined> {
    const rows: Array<Record<string, Int32Array>> = [];
    while (rows.length < this.batchSize) {
      const row = this.conv.buildRow();
      for (;;) {
        const item = this.read(row);
        if (item === null) break;
        if (row.count > 0 && (!this.conv.pack || !row.fits(item.ex))) {
          this.pending = item;
          break;
        }
        row.add(item.ex);
        this.conv.stats.examples++;
        if (!this.conv.pack) break;
      }
      if (row.count === 0) break;
      rows.push(row.finish());
      this.conv.stats.rows++;
    }
    if (rows.length === 0 || (rows.length < this.batchSize && this.dropRemainder)) return { done: true, value: undefined };
    this.emitted++;
    this.resumeAt = this.pending ? this.pending.before : { snap: this.snap, skip: this.sinceSnap };
    return { done: false, value: this.conv.stack(rows, this.batchSize) };
  }

  [Symbol.iterator](): ResumableIterator<Batch, BatchPosition> {
    return this;
  }
}

/** Writes decoder inputs: targets shifted right within each segment, `startId` at segment starts. */
function shiftWithinSegments(targets: Int32Array, seg: Int32Array, startId: number, out: Int32Array): void {
  for (let i = 0; i < targets.length; i++) {
    out[i] = i > 0 && seg[i] !== 0 && seg[i] === seg[i - 1] ? targets[i - 1] : seg[i] === 0 ? 0 : startId;
  }
}

/** Plain right shift of a whole row (seqio's behaviour for unpacked rows: the final EOS lands in the first padding slot). */
function shiftWhole(targets: Int32Array, startId: number, out: Int32Array): void {
  out[0] = startId;
  for (let i = 1; i < targets.length; i++) out[i] = targets[i - 1];
}

/** Options of `DecoderOnlyConverter`. */
export interface DecoderOnlyOptions {
  /** Row length. */
  length: number;
  /** 'lm' (targets only), 'concat' (inputs + targets, causal) or 'prefix-lm' (inputs attended bidirectionally). Default 'concat'. */
  mode?: 'lm' | 'concat' | 'prefix-lm';
  /** For concat/prefix-lm: loss only on target tokens (default true). */
  lossOnTargetsOnly?: boolean;
  pack?: boolean;
  overflow?: OverflowPolicy;
  /** Decoder start id (default 0, as in T5). */
  decoderStartId?: number;
  /** Emit `decoder_task_ids` (each token: its example's task id; padding 0). */
  taskIds?: TaskIdMap;
}

/** Decoder-only (causal or prefix) LM rows. Features: decoder_{target_tokens,input_tokens,segment_ids,positions,loss_weights}[, decoder_causal_attention][, decoder_task_ids]. */
export class DecoderOnlyConverter extends FeatureConverter {
  readonly length: number;
  readonly mode: 'lm' | 'concat' | 'prefix-lm';
  readonly lossOnTargetsOnly: boolean;
  readonly decoderStartId: number;
  readonly featureLengths: Readonly<Record<string, number>>;
  private longest = 0;

  constructor(opts: DecoderOnlyOptions) {
    super(opts);
    if (!Number.isInteger(opts.length) || opts.length < 1) throw new DataError(`DecoderOnlyConverter: length must be a positive integer, got ${opts.length}`);
    this.length = opts.length;
    this.mode = opts.mode ?? 'concat';
    if (!['lm', 'concat', 'prefix-lm'].includes(this.mode)) throw new DataError(`DecoderOnlyConverter: mode must be 'lm', 'concat' or 'prefix-lm', got ${JSON.stringify(opts.mode)}`);
    this.lossOnTargetsOnly = opts.lossOnTargetsOnly ?? true;
    this.decoderStartId = opts.decoderStartId ?? 0;
    const names = ['decoder_target_tokens', 'decoder_input_tokens', 'decoder_segment_ids', 'decoder_positions', 'decoder_loss_weights'];
    if (this.mode === 'prefix-lm') names.push('decoder_causal_attention');
    if (this.taskIds !== null) names.push('decoder_task_ids');
    this.featureLengths = Object.fromEntries(names.map((n) => [n, this.length]));
  }

  describe(): string {
    return `DecoderOnly(mode=${this.mode},length=${this.length},pack=${this.pack},lossOnTargetsOnly=${this.lossOnTargetsOnly},overflow=${this.overflow},start=${this.decoderStartId}${this.describeTaskIds()})`;
  }

  private parts(ex: Example): { inputs: number[]; targets: number[] } {
    const targets = idsOf(ex, 'targets_ids', 'DecoderOnlyConverter');
    const inputs = this.mode === 'lm' ? [] : idsOf(ex, 'inputs_ids', 'DecoderOnlyConverter');
    return { inputs, targets };
  }

  protected newRow(): RowBuilder {
    const L = this.length;
    const tgt = new Int32Array(L);
    const seg = new Int32Array(L);
    const pos = new Int32Array(L);
    const loss = new Int32Array(L);
    const causal = new Int32Array(L);
    const tids = new Int32Array(L);
    let used = 0;
    let count = 0;
    return {
      get count() {
        return count;
      },
      nearlyFull: () => L - used < this.longest,
      fits: (ex) => {
        const { inputs, targets } = this.parts(ex);
        return used + inputs.length + targets.length <= L;
      },
      add: (ex) => {
        const { inputs, targets } = this.parts(ex);
        const tid = this.taskIdOf(ex, 'DecoderOnlyConverter');
        let n = inputs.length + targets.length;
        if (n > this.longest) this.longest = n;
        if (used + n > L) {
          if (this.overflow === 'error') {
            throw new DataError(`DecoderOnlyConverter: an example of ${inputs.length} input + ${targets.length} target tokens does not fit in a row of ${L}; raise length or use overflow: 'truncate'`);
          }
          this.stats.truncated++;
          n = L - used;
        }
        count++;
        for (let k = 0; k < n; k++) {
          const i = used + k;
          const isInput = k < inputs.length;
          tgt[i] = isInput ? inputs[k] : targets[k - inputs.length];
          seg[i] = count;
          pos[i] = k;
          loss[i] = isInput && this.lossOnTargetsOnly ? 0 : 1;
          // seqio: the inputs and one position more (whose decoder input is the last input token) are bidirectional.
          causal[i] = this.mode === 'prefix-lm' && k <= inputs.length ? 1 : 0;
          tids[i] = tid;
        }
        used += n;
        this.stats.tokens += n;
      },
      finish: () => {
        this.stats.slots += L;
        const inp = new Int32Array(L);
        if (this.pack) shiftWithinSegments(tgt, seg, this.decoderStartId, inp);
        else shiftWhole(tgt, this.decoderStartId, inp);
        const row: Record<string, Int32Array> = {
          decoder_target_tokens: tgt,
          decoder_input_tokens: inp,
          decoder_segment_ids: seg,
          decoder_positions: pos,
          decoder_loss_weights: loss,
        };
        if (this.mode === 'prefix-lm') row.decoder_causal_attention = causal;
        if (this.taskIds !== null) row.decoder_task_ids = tids;
        return row;
      },
    };
  }
}

/** Options of `EncDecConverter`. */
export interface EncDecOptions {
  inputsLength: number;
  targetsLength: number;
  pack?: boolean;
  overflow?: OverflowPolicy;
  decoderStartId?: number;
  /** Emit `encoder_task_ids` and `decoder_task_ids` (each token: its example's task id; padding 0). */
  taskIds?: TaskIdMap;
}

/** Encoder-decoder rows. Features: encoder_{input_tokens,segment_ids,positions}, decoder_{target_tokens,input_tokens,segment_ids,positions,loss_weights}[, encoder_task_ids, decoder_task_ids]. */
export class EncDecConverter extends FeatureConverter {
  readonly inputsLength: number;
  readonly targetsLength: number;
  readonly decoderStartId: number;
  readonly featureLengths: Readonly<Record<string, number>>;
  private longestInputs = 0;
  private longestTargets = 0;

  constructor(opts: EncDecOptions) {
    super(opts);
    for (const k of ['inputsLength', 'targetsLength'] as const) {
      if (!Number.isInteger(opts[k]) || opts[k] < 1) throw new DataError(`EncDecConverter: ${k} must be a positive integer, got ${opts[k]}`);
    }
    this.inputsLength = opts.inputsLength;
    this.targetsLength = opts.targetsLength;
    this.decoderStartId = opts.decoderStartId ?? 0;
    const I = this.inputsLength;
    const T = this.targetsLength;
    this.featureLengths = {
      encoder_input_tokens: I,
      encoder_segment_ids: I,
      encoder_positions: I,
      decoder_target_tokens: T,
      decoder_input_tokens: T,
      decoder_segment_ids: T,
      decoder_positions: T,
      decoder_loss_weights: T,
      ...(this.taskIds !== null ? { encoder_task_ids: I, decoder_task_ids: T } : {}),
    };
  }

  describe(): string {
    return `EncDec(inputs=${this.inputsLength},targets=${this.targetsLength},pack=${this.pack},overflow=${this.overflow},start=${this.decoderStartId}${this.describeTaskIds()})`;
  }

  protected newRow(): RowBuilder {
    const I = this.inputsLength;
    const T = this.targetsLength;
    const enc = new Int32Array(I);
    const encSeg = new Int32Array(I);
    const encPos = new Int32Array(I);
    const tgt = new Int32Array(T);
    const seg = new Int32Array(T);
    const pos = new Int32Array(T);
    const loss = new Int32Array(T);
    const encTids = new Int32Array(I);
    const tids = new Int32Array(T);
    let usedI = 0;
    let usedT = 0;
    let count = 0;
    const parts = (ex: Example) => ({ inputs: idsOf(ex, 'inputs_ids', 'EncDecConverter'), targets: idsOf(ex, 'targets_ids', 'EncDecConverter') });
    return {
      get count() {
        return count;
      },
      nearlyFull: () => I - usedI < this.longestInputs || T - usedT < this.longestTargets,
      fits: (ex) => {
        const { inputs, targets } = parts(ex);
        return usedI + inputs.length <= I && usedT + targets.length <= T;
      },
      add: (ex) => {
        const { inputs, targets } = parts(ex);
        const tid = this.taskIdOf(ex, 'EncDecConverter');
        let ni = inputs.length;
        let nt = targets.length;
        if (ni > this.longestInputs) this.longestInputs = ni;
        if (nt > this.longestTargets) this.longestTargets = nt;
        if (usedI + ni > I || usedT + nt > T) {
          if (this.overflow === 'error') {
            throw new DataError(`EncDecConverter: an example of ${ni} input / ${nt} target tokens does not fit rows of ${I}/${T}; raise the lengths or use overflow: 'truncate'`);
          }
          this.stats.truncated++;
          ni = Math.min(ni, I - usedI);
          nt = Math.min(nt, T - usedT);
        }
        count++;
        for (let k = 0; k < ni; k++) {
          enc[usedI + k] = inputs[k];
          encSeg[usedI + k] = count;
          encPos[usedI + k] = k;
          encTids[usedI + k] = tid;
        }
        for (let k = 0; k < nt; k++) {
          tgt[usedT + k] = targets[k];
          seg[usedT + k] = count;
          pos[usedT + k] = k;
          loss[usedT + k] = 1;
          tids[usedT + k] = tid;
        }
        usedI += ni;
        usedT += nt;
        this.stats.tokens += ni + nt;
      },
      finish: () => {
        this.stats.slots += I + T;
        const inp = new Int32Array(T);
        if (this.pack) shiftWithinSegments(tgt, seg, this.decoderStartId, inp);
        else shiftWhole(tgt, this.decoderStartId, inp);
        const row: Record<string, Int32Array> = {
          encoder_input_tokens: enc,
          encoder_segment_ids: encSeg,
          encoder_positions: encPos,
          decoder_target_tokens: tgt,
          decoder_input_tokens: inp,
          decoder_segment_ids: seg,
          decoder_positions: pos,
          decoder_loss_weights: loss,
        };
        if (this.taskIds !== null) {
          row.encoder_task_ids = encTids;
          row.decoder_task_ids = tids;
        }
        return row;
      },
    };
  }
}

/** Row `r` of a batch feature (a view, not a copy). */
export function batchRow(batch: Batch, feature: string, r: number): Int32Array {
  const f = batch[feature];
  if (!f) throw new DataError(`batchRow: batch has no feature '${feature}' (has ${Object.keys(batch).join(', ')})`);
  const [B, L] = f.shape;
  if (!Number.isInteger(r) || r < 0 || r >= B) throw new DataError(`batchRow: row ${r} is outside [0, ${B})`);
  return f.data.subarray(r * L, (r + 1) * L);
}

/**
 * Self-attention mask of one row, `L×L` row-major, 1 = query q may attend to key k. Allowed iff both
 * are real tokens of the same segment and (not causal, or k <= q, or — prefix-LM — both are in the
 * bidirectional prefix marked by `bidirectional`). This is t5x's `make_decoder_mask` /
 * `make_attention_mask` composition.
 */
export function selfAttentionMask(segmentIds: ArrayLike<number>, opts: { causal: boolean; bidirectional?: ArrayLike<number> }): Uint8Array {
  const L = segmentIds.length;
  const bi = opts.bidirectional;
  if (bi !== undefined && bi.length !== L) throw new DataError(`selfAttentionMask: bidirectional has length ${bi.length}, segment ids ${L}`);
  const m = new Uint8Array(L * L);
  for (let q = 0; q < L; q++) {
    const sq = segmentIds[q];
    if (sq === 0) continue;
    for (let k = 0; k < L; k++) {
      if (segmentIds[k] !== sq) continue;
      const ok = !opts.causal || k <= q || (bi !== undefined && bi[q] !== 0 && bi[k] !== 0);
      if (ok) m[q * L + k] = 1;
    }
  }
  return m;
}

/** Encoder-decoder cross-attention mask, `Lq×Lk`: 1 iff both are real tokens of the same segment. */
export function crossAttentionMask(querySegmentIds: ArrayLike<number>, keySegmentIds: ArrayLike<number>): Uint8Array {
  const Lq = querySegmentIds.length;
  const Lk = keySegmentIds.length;
  const m = new Uint8Array(Lq * Lk);
  for (let q = 0; q < Lq; q++) {
    const s = querySegmentIds[q];
    if (s === 0) continue;
    for (let k = 0; k < Lk; k++) if (keySegmentIds[k] === s) m[q * Lk + k] = 1;
  }
  return m;
}

function fail(msg: string): never {
  throw new DataError(`checkPackedBatch: ${msg}`);
}

function checkSegmentsAndPositions(seg: Int32Array, pos: Int32Array, where: string): void {
  let cur = 0;
  let padStarted = false;
  for (let i = 0; i < seg.length; i++) {
    const s = seg[i];
    if (s === 0) {
      padStarted = true;
      if (pos[i] !== 0) fail(`${where}: position ${i} is padding but has position ${pos[i]}`);
      continue;
    }
    if (padStarted) fail(`${where}: segment ${s} at ${i} comes after padding`);
    if (s === cur) {
      if (pos[i] !== pos[i - 1] + 1) fail(`${where}: positions must increase by 1 within segment ${s} (index ${i})`);
    } else {
      if (s !== cur + 1) fail(`${where}: segment ids must count up 1, 2, …; got ${s} after ${cur} at ${i}`);
      if (pos[i] !== 0) fail(`${where}: segment ${s} starts at ${i} with position ${pos[i]}, not 0`);
      cur = s;
    }
  }
}

/**
 * Task ids of one row: one id per segment (every token of a segment holds it), 0 on padding.
 * Returns segment id → task id.
 */
function checkTaskIds(seg: Int32Array, tids: Int32Array, where: string): Map<number, number> {
  const bySeg = new Map<number, number>();
  for (let i = 0; i < seg.length; i++) {
    if (seg[i] === 0) {
      if (tids[i] !== 0) fail(`${where}: padding position ${i} has task id ${tids[i]}, expected 0`);
      continue;
    }
    if (tids[i] < 0) fail(`${where}: task id ${tids[i]} at ${i} is negative`);
    const prev = bySeg.get(seg[i]);
    if (prev === undefined) bySeg.set(seg[i], tids[i]);
    else if (prev !== tids[i]) fail(`${where}: segment ${seg[i]} mixes task ids ${prev} and ${tids[i]} (at ${i}); every token of an example holds its task id`);
  }
  return bySeg;
}

/**
 * Verifies a batch from a converter: segment ids count up and padding only trails; positions restart at
 * 0 per segment; decoder inputs are the targets shifted right within each segment (start id at each
 * segment start); loss weights are 0 on padding (and, when `inputsMasked`, on the prefix marked by
 * `decoder_causal_attention` minus its last position); the attention masks allow no cross-segment
 * attention; task ids, when present, are constant within each segment, 0 on padding, and the same
 * for an example's encoder and decoder tokens. Throws `DataError` naming the first violation.
 */
export function checkPackedBatch(batch: Batch, opts: { decoderStartId?: number; packed?: boolean } = {}): void {
  const start = opts.decoderStartId ?? 0;
  const packed = opts.packed ?? true;
  const tgtF = batch.decoder_target_tokens;
  if (!tgtF) fail('batch has no decoder_target_tokens');
  const [B] = tgtF.shape;
  for (let r = 0; r < B; r++) {
    const tgt = batchRow(batch, 'decoder_target_tokens', r);
    const inp = batchRow(batch, 'decoder_input_tokens', r);
    const seg = batchRow(batch, 'decoder_segment_ids', r);
    const pos = batchRow(batch, 'decoder_positions', r);
    const loss = batchRow(batch, 'decoder_loss_weights', r);
    checkSegmentsAndPositions(seg, pos, `row ${r} decoder`);
    for (let i = 0; i < seg.length; i++) {
      if (seg[i] === 0) {
        if (loss[i] !== 0) fail(`row ${r}: loss weight ${loss[i]} on padding position ${i}`);
        if (tgt[i] !== 0) fail(`row ${r}: padding position ${i} holds token ${tgt[i]}`);
        continue;
      }
      const segStart = i === 0 || seg[i - 1] !== seg[i];
      const want = segStart ? start : tgt[i - 1];
      if (inp[i] !== want) fail(`row ${r}: decoder_input_tokens[${i}] = ${inp[i]}, expected ${want} (targets shifted right within the segment)`);
    }
    const decTasks = batch.decoder_task_ids ? checkTaskIds(seg, batchRow(batch, 'decoder_task_ids', r), `row ${r} decoder_task_ids`) : null;
    const bi = batch.decoder_causal_attention ? batchRow(batch, 'decoder_causal_attention', r) : undefined;
    const mask = selfAttentionMask(seg, { causal: true, bidirectional: bi });
    const L = seg.length;
    for (let q = 0; q < L; q++) {
      for (let k = 0; k < L; k++) {
        if (mask[q * L + k] && (seg[q] === 0 || seg[q] !== seg[k])) fail(`row ${r}: mask lets ${q} attend across segments to ${k}`);
      }
    }
    if (batch.encoder_input_tokens) {
      const eseg = batchRow(batch, 'encoder_segment_ids', r);
      const epos = batchRow(batch, 'encoder_positions', r);
      checkSegmentsAndPositions(eseg, epos, `row ${r} encoder`);
      const maxD = seg.reduce((a, b) => Math.max(a, b), 0);
      const maxE = eseg.reduce((a, b) => Math.max(a, b), 0);
      if (maxD !== maxE && packed) fail(`row ${r}: encoder has ${maxE} segments, decoder ${maxD}`);
      if ((batch.encoder_task_ids === undefined) !== (decTasks === null)) fail(`row ${r}: encoder_task_ids and decoder_task_ids come together`);
      if (batch.encoder_task_ids && decTasks) {
        const encTasks = checkTaskIds(eseg, batchRow(batch, 'encoder_task_ids', r), `row ${r} encoder_task_ids`);
        for (const [s, t] of encTasks) {
          const d = decTasks.get(s);
          if (d !== undefined && d !== t) fail(`row ${r}: segment ${s} has task id ${t} in the encoder but ${d} in the decoder`);
        }
      }
      const cm = crossAttentionMask(seg, eseg);
      const Le = eseg.length;
      for (let q = 0; q < L; q++) for (let k = 0; k < Le; k++) if (cm[q * Le + k] && seg[q] !== eseg[k]) fail(`row ${r}: cross mask lets ${q} attend to encoder ${k} of another segment`);
    }
  }
}
