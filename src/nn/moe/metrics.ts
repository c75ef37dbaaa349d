/**
 * Routing metrics of one MoE layer (computed inside the router, from the same routing decision
 * that dispatches tokens) and the expert-load heatmap picture.
 *
 * Every metric is an Array (so they can be returned from jitted train steps) computed on
 * gradient-stopped values; `metricsToNumbers` turns them into plain numbers for logs. Padding
 * tokens are excluded everywhere. Definitions (see docs/moe.md):
 * - `droppedFraction`: real tokens processed by no expert (they pass through the residual only);
 * - `assignmentDropFraction` (token choice, task routing): of the k·N (token, choice) pairs,
 *   the fraction dropped because the chosen expert was full;
 * - `expertLoad` [E]: share of the dispatched (token, expert) assignments each expert received
 *   (sums to 1 when anything was dispatched; 1/E each when balanced), and `loadMaxOverMean`
 *   = max_e load / mean_e load (1 = balanced, E = everything on one expert);
 * - `expertDemand` [E] (token choice, task routing): the pre-capacity fraction of real tokens
 *   whose top-k includes e (sums to k; the `f` of the load-balancing loss, pooled over groups);
 * - `expertUsage`: dispatched assignments / capacity slots (G·E·C);
 * - `routerConfidence`: mean top-1 router probability; `routerEntropy`: mean −Σ p log p (nats);
 * - `expertsPerTokenHistogram` [E+1]: fraction of real tokens processed by 0, 1, …, E experts
 *   (the interesting one for expert choice, where a token may get 0 or several experts).
 *
 * `writeExpertLoadHeatmap` writes a layers × experts load matrix as an SVG (drawn by hand, with
 * labels and a colour bar) or a PNG (encoded by hand with node:zlib; no text), plus the numbers as
 * JSON next to it.
 */

import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { deflateSync } from 'node:zlib';
import type { Array } from '../../core/array.js';
import * as lax from '../../core/lax.js';
import { np } from '../../np/index.js';
import { MoeError } from './errors.js';

/** Metrics of one MoE layer for one step (see the file header for definitions). */
export interface RouterMetrics {
  auxLoss: Array;
  zLoss: Array;
  droppedFraction: Array;
  assignmentDropFraction?: Array;
  expertLoad: Array;
  loadMaxOverMean: Array;
  expertDemand?: Array;
  expertUsage: Array;
  routerConfidence: Array;
  routerEntropy: Array;
  expertsPerTokenHistogram: Array;
}

/** Inputs of {@link routingMetrics}. */
export interface RoutingMetricsInputs {
  /** Router probabilities [G, S, E]. */
  probs: Array;
  /** Real-token mask as floats [G, S] (1 real, 0 padding). */
  valid: Array;
  /** The routing decision: token position per expert slot [G, E, C], S for an empty slot. */
  expertIndex: Array;
  auxLoss: Array;
  zLoss: Array;
  /** Token choice / task routing: the k-hot pre-capacity choice mask [G, S, E] and k. */
  demand?: { mask: Array; k: number };
}

/** Computes the {@link RouterMetrics} of one routing decision (no gradient flows through them). */
export function routingMetrics(m: RoutingMetricsInputs): RouterMetrics {
  const sg = lax.stopGradient;
  const probs = sg(m.probs);
  const dt = probs.dtype === 'float64' ? 'float64' : 'float32';
  const [G, S, E] = probs.shape;
  const C = m.expertIndex.shape[2];
  const valid = sg(np.astype(m.valid, dt));
  const N = np.maximum(np.sum(valid), 1);
  const perToken = (x: Array) => np.divide(np.sum(np.multiply(x, valid)), N);

  const confidence = perToken(np.max(probs, -1));
  const plogp = np.multiply(probs, np.log(np.maximum(probs, 1e-30)));
  const entropy = perToken(np.negative(np.sum(plogp, -1)));

  const ei = m.expertIndex;
  const filled = np.astype(np.less(ei, S), dt); // [G, E, C]
  const perExpert = np.sum(filled, [0, 2]); // [E]
  const total = np.sum(perExpert);
  const expertLoad = np.divide(perExpert, np.maximum(total, 1));
  const loadMaxOverMean = np.divide(np.max(perExpert), np.maximum(np.mean(perExpert), 1e-30));
  const expertUsage = np.divide(total, G * E * C);

  // experts per token: scatter a one into each slot's token (empty slots, index S, are dropped)
  const counts = lax.scatterAdd(np.zeros([G, S], dt), np.reshape(ei, [G, E * C]), np.ones([G, E * C], dt), 1, 1);
  const hist1 = np.multiply(np.oneHot(np.astype(counts, 'int32'), E + 1, { dtype: dt }), np.expandDims(valid, -1));
  const histogram = np.divide(np.sum(hist1, [0, 1]), N);
  const droppedFraction = lax.slice(histogram, [0], [1]).reshape([]);

  const out: RouterMetrics = {
    auxLoss: sg(m.auxLoss),
    zLoss: sg(m.zLoss),
    droppedFraction,
    expertLoad,
    loadMaxOverMean,
    expertUsage,
    routerConfidence: confidence,
    routerEntropy: entropy,
    expertsPerTokenHistogram: histogram,
  };
  if (m.demand) {
    const mask = sg(np.astype(m.demand.mask, dt));
    out.expertDemand = np.divide(np.sum(np.multiply(mask, np.expandDims(valid, -1)), [0, 1]), N);
    out.assignmentDropFraction = np.subtract(1, np.divide(total, np.multiply(N, m.demand.k)));
  }
  return out;
}

/** Metrics as plain numbers (scalars) and number lists (per-expert vectors), for logs and JSON. */
export type NumericMetrics = Record<string, number | number[]>;

/** Converts concrete {@link RouterMetrics} to numbers (throws inside a trace: return them from the jitted step first). */
export function metricsToNumbers(m: RouterMetrics): NumericMetrics {
  const out: NumericMetrics = {};
  for (const [k, v] of Object.entries(m) as [string, Array | undefined][]) {
    if (v === undefined) continue;
    const d = v.dataSync();
    out[k] = v.ndim === 0 ? Number(d[0]) : globalThis.Array.from(d, Number);
  }
  return out;
}

// ---------------------------------------------------------------- heatmap

/** Options of {@link writeExpertLoadHeatmap}. */
export interface HeatmapOptions {
  /** Title drawn above the grid (SVG) and stored in the JSON. */
  title?: string;
  /** Row labels (default `layer 0`, `layer 1`, …). */
  layerLabels?: string[];
  /** Column labels (default `0`, `1`, …). */
  expertLabels?: string[];
  /** Colour-scale minimum (default: the smallest value). */
  vmin?: number;
  /** Colour-scale maximum (default: the largest value). */
  vmax?: number;
  /** Cell size in pixels (default 28). */
  cellSize?: number;
}

/** What {@link writeExpertLoadHeatmap} wrote. */
export interface HeatmapFiles {
  picture: string;
  json: string;
}

// Viridis, sampled at 9 evenly spaced points (matplotlib's colour map values).
const VIRIDIS: [number, number, number][] = [
  [68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141],
  [39, 173, 129], [92, 200, 99], [170, 220, 50], [253, 231, 37],
];

/** Viridis colour of t in [0, 1] (linear interpolation between the samples). */
export function viridis(t: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  const a = VIRIDIS[i], b = VIRIDIS[i + 1];
  return [0, 1, 2].map((j) => Math.round(a[j] + (b[j] - a[j]) * f)) as [number, number, number];
}

function hex([r, g, b]: [number, number, number]): string {
  return '#' + [r, g, b].map((v) => v.toString(16).padStart(2, '0')).join('');
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function checkLoads(loads: unknown): number[][] {
  const where = 'writeExpertLoadHeatmap';
  if (!globalThis.Array.isArray(loads) || loads.length === 0) throw new MoeError(`${where}: loads must be a non-empty list of rows (one per MoE layer), got ${JSON.stringify(loads)?.slice(0, 80)}`);
  const E = (loads[0] as unknown[])?.length;
  loads.forEach((row: unknown, i) => {
    if (!globalThis.Array.isArray(row) || row.length === 0) throw new MoeError(`${where}: row ${i} must be a non-empty list of per-expert loads`);
    if (row.length !== E) throw new MoeError(`${where}: row ${i} has ${row.length} experts but row 0 has ${E}; every layer needs the same number of experts`);
    row.forEach((v: unknown, j) => {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new MoeError(`${where}: loads[${i}][${j}] must be a finite number, got ${JSON.stringify(v)}`);
    });
  });
  return loads as number[][];
}

function scale(loads: number[][], o: HeatmapOptions): { lo: number; hi: number; t: (v: number) => number } {
  const flat = loads.flat();
  const lo = o.vmin ?? Math.min(...flat);
  const hi = o.vmax ?? Math.max(...flat);
  if (!(hi >= lo)) throw new MoeError(`writeExpertLoadHeatmap: vmax (${hi}) must be ≥ vmin (${lo})`);
  return { lo, hi, t: (v) => (hi > lo ? (v - lo) / (hi - lo) : 0.5) };
}

/** The heatmap as an SVG document (rows = layers, columns = experts, with a colour bar). */
export function expertLoadHeatmapSvg(loadsIn: number[][], o: HeatmapOptions = {}): string {
  const loads = checkLoads(loadsIn);
  const L = loads.length, E = loads[0].length;
  const cell = o.cellSize ?? 28;
  const rowLabels = o.layerLabels ?? loads.map((_, i) => `layer ${i}`);
  const colLabels = o.expertLabels ?? loads[0].map((_, j) => String(j));
  if (rowLabels.length !== L) throw new MoeError(`writeExpertLoadHeatmap: ${rowLabels.length} layer labels for ${L} rows`);
  if (colLabels.length !== E) throw new MoeError(`writeExpertLoadHeatmap: ${colLabels.length} expert labels for ${E} columns`);
  const { lo, hi, t } = scale(loads, o);
  const left = 12 + 7 * Math.max(...rowLabels.map((s) => s.length));
  const top = o.title ? 48 : 24;
  const gridW = E * cell, gridH = L * cell;
  const barX = left + gridW + 24, barW = 14;
  const width = barX + barW + 70, height = top + gridH + 40;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`);
  parts.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  if (o.title) parts.push(`<text x="${left}" y="20" font-size="14" font-weight="bold">${escapeXml(o.title)}</text>`);
  for (let i = 0; i < L; i++) {
    parts.push(`<text x="${left - 6}" y="${top + i * cell + cell / 2 + 4}" text-anchor="end">${escapeXml(rowLabels[i])}</text>`);
    for (let j = 0; j < E; j++) {
      const v = loads[i][j];
      parts.push(`<rect x="${left + j * cell}" y="${top + i * cell}" width="${cell}" height="${cell}" fill="${hex(viridis(t(v)))}"><title>${escapeXml(rowLabels[i])}, expert ${escapeXml(colLabels[j])}: ${v.toPrecision(4)}</title></rect>`);
    }
  }
  for (let j = 0; j < E; j++) {
    parts.push(`<text x="${left + j * cell + cell / 2}" y="${top + gridH + 14}" text-anchor="middle">${escapeXml(colLabels[j])}</text>`);
  }
  parts.push(`<text x="${left + gridW / 2}" y="${top + gridH + 30}" text-anchor="middle">expert</text>`);
  const steps = 32;
  for (let s = 0; s < steps; s++) {
    const y = top + (gridH * s) / steps;
    parts.push(`<rect x="${barX}" y="${y.toFixed(2)}" width="${barW}" height="${(gridH / steps + 0.5).toFixed(2)}" fill="${hex(viridis(1 - s / (steps - 1)))}"/>`);
  }
  parts.push(`<text x="${barX + barW + 4}" y="${top + 8}">${hi.toPrecision(3)}</text>`);
  parts.push(`<text x="${barX + barW + 4}" y="${top + gridH}">${lo.toPrecision(3)}</text>`);
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

// CRC-32 (PNG chunks), table-driven.
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** The heatmap as PNG bytes (grid and colour bar, no text; the JSON carries the numbers). */
export function expertLoadHeatmapPng(loadsIn: number[][], o: HeatmapOptions = {}): Buffer {
  const loads = checkLoads(loadsIn);
  const L = loads.length, E = loads[0].length;
  const cell = o.cellSize ?? 28;
  const { t } = scale(loads, o);
  const pad = 8, barW = 14;
  const width = pad + E * cell + pad + barW + pad, height = pad + L * cell + pad;
  const raw = Buffer.alloc((width * 3 + 1) * height, 255);
  const put = (x: number, y: number, rgb: [number, number, number]) => {
    const o3 = y * (width * 3 + 1) + 1 + x * 3;
    raw[o3] = rgb[0]; raw[o3 + 1] = rgb[1]; raw[o3 + 2] = rgb[2];
  };
  for (let y = 0; y < height; y++) raw[y * (width * 3 + 1)] = 0; // filter type 0 per scanline
  for (let i = 0; i < L; i++) {
    for (let j = 0; j < E; j++) {
      const rgb = viridis(t(loads[i][j]));
      for (let y = 0; y < cell; y++) for (let x = 0; x < cell; x++) put(pad + j * cell + x, pad + i * cell + y, rgb);
    }
  }
  const barX = pad + E * cell + pad, gridH = L * cell;
  for (let y = 0; y < gridH; y++) {
    const rgb = viridis(1 - y / Math.max(1, gridH - 1));
    for (let x = 0; x < barW; x++) put(barX + x, pad + y, rgb);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type RGB
  ihdr[10] = 0; ihdr[11] = 0; ihdr[12] = 0;
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([sig, pngChunk('IHDR', ihdr), pngChunk('IDAT', deflateSync(raw)), pngChunk('IEND', new Uint8Array(0))]);
}

/**
 * Writes the per-layer × per-expert load heatmap to `file` (`.svg` or `.png`) and the numbers to
 * the same path with a `.json` extension ({title, layers, experts, loads, vmin, vmax}). Creates
 * the directory if needed. `loads[l][e]` is typically `metrics.expertLoad` of MoE layer l.
 */
export function writeExpertLoadHeatmap(file: string, loads: number[][], opts: HeatmapOptions = {}): HeatmapFiles {
  const ext = path.extname(file).toLowerCase();
  if (ext !== '.svg' && ext !== '.png') throw new MoeError(`writeExpertLoadHeatmap: ${JSON.stringify(file)} must end in .svg or .png`);
  const checked = checkLoads(loads);
  const { lo, hi } = scale(checked, opts);
  mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  if (ext === '.svg') writeFileSync(file, expertLoadHeatmapSvg(checked, opts));
  else writeFileSync(file, expertLoadHeatmapPng(checked, opts));
  const json = file.slice(0, file.length - ext.length) + '.json';
  const doc = {
    title: opts.title ?? null,
    layers: opts.layerLabels ?? checked.map((_, i) => `layer ${i}`),
    experts: opts.expertLabels ?? checked[0].map((_, j) => String(j)),
    loads: checked,
    vmin: lo,
    vmax: hi,
  };
  writeFileSync(json, JSON.stringify(doc, null, 2) + '\n');
  return { picture: file, json };
}
