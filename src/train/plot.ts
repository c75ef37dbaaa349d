/**
 * Loss-curve pictures written next to a training run's JSON log: `loss.svg` (hand-written SVG:
 * axes with "nice" 1-2-5 ticks, grid, the raw training loss, its exponential moving average, and
 * the held-out loss with markers) and the same picture as `loss.png`. Both renderers draw one
 * shared "scene" (lines, polylines, circles, text), so they always agree; the PNG is rasterized in
 * plain TypeScript (a built-in 5×7 bitmap font, square-pen lines) and encoded with Node's zlib,
 * with no dependency. Files are written atomically (temp file, then rename).
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { deflateSync } from 'node:zlib';

/** One point of a curve. */
export interface CurvePoint {
  step: number;
  value: number;
}

/** What a loss plot shows. */
export interface LossPlotData {
  /** Training loss per step. */
  train: CurvePoint[];
  /** Held-out loss at evaluation steps. */
  eval?: CurvePoint[];
  /** Title (default "loss"). */
  title?: string;
  /** Y-axis label (default "loss (nats/token)"). */
  yLabel?: string;
  /** Smoothing factor of the moving average of the training loss (default 0.1; 0 disables it). */
  emaAlpha?: number;
}

type Color = readonly [number, number, number];

type SceneItem =
  | { kind: 'line'; x1: number; y1: number; x2: number; y2: number; color: Color; width: number; dash?: number }
  | { kind: 'polyline'; points: [number, number][]; color: Color; width: number; series: string; opacity?: number }
  | { kind: 'circle'; x: number; y: number; r: number; color: Color; series: string }
  | { kind: 'text'; x: number; y: number; text: string; size: number; color: Color; anchor: 'start' | 'middle' | 'end' };

interface Scene {
  width: number;
  height: number;
  items: SceneItem[];
}

const BLACK: Color = [34, 34, 34];
const GRID: Color = [225, 225, 225];
const TRAIN_RAW: Color = [158, 193, 226];
const TRAIN: Color = [31, 119, 180];
const EVAL: Color = [214, 39, 40];

/** Tick positions at multiples of 1, 2 or 5 × 10^k covering [lo, hi] with about `n` intervals. */
export function niceTicks(lo: number, hi: number, n = 5): { lo: number; hi: number; step: number; ticks: number[] } {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) throw new RangeError(`niceTicks: bounds must be finite, got ${lo}, ${hi}`);
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi === lo) {
    const pad = Math.abs(lo) > 0 ? Math.abs(lo) * 0.1 : 1;
    lo -= pad;
    hi += pad;
  }
  const raw = (hi - lo) / Math.max(1, n);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  const step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
  const a = Math.floor(lo / step + 1e-9) * step;
  const b = Math.ceil(hi / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let k = 0; a + k * step <= b + step * 1e-6; k++) ticks.push(Number((a + k * step).toPrecision(12)));
  return { lo: a, hi: b, step, ticks };
}

function tickLabel(v: number, step: number): string {
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  return v.toFixed(Math.min(decimals, 6));
}

/** The exponential moving average of a curve, bias-corrected as in Adam (so it starts at the first value). */
export function emaCurve(points: readonly CurvePoint[], alpha: number): CurvePoint[] {
  let m = 0;
  let w = 0;
  return points.map((p) => {
    m = (1 - alpha) * m + alpha * p.value;
    w = (1 - alpha) * w + alpha;
    return { step: p.step, value: m / w };
  });
}

function buildScene(d: LossPlotData): Scene {
  const width = 760;
  const height = 440;
  const L = 78;
  const R = 24;
  const T = 44;
  const B = 56;
  const items: SceneItem[] = [];
  const train = d.train.filter((p) => Number.isFinite(p.value));
  const evals = (d.eval ?? []).filter((p) => Number.isFinite(p.value));
  const alpha = d.emaAlpha ?? 0.1;
  const smooth = alpha > 0 && train.length > 2 ? emaCurve(train, alpha) : [];
  const all = [...train, ...evals];
  const steps = all.map((p) => p.step);
  const values = all.map((p) => p.value);
  const xt = niceTicks(all.length ? Math.min(0, ...steps) : 0, all.length ? Math.max(1, ...steps) : 1, 6);
  const yt = niceTicks(all.length ? Math.min(...values) : 0, all.length ? Math.max(...values) : 1, 5);
  const px = (s: number) => L + ((s - xt.lo) / (xt.hi - xt.lo)) * (width - L - R);
  const py = (v: number) => T + (1 - (v - yt.lo) / (yt.hi - yt.lo)) * (height - T - B);

  for (const t of yt.ticks) {
    items.push({ kind: 'line', x1: L, y1: py(t), x2: width - R, y2: py(t), color: GRID, width: 1 });
    items.push({ kind: 'text', x: L - 8, y: py(t) + 4, text: tickLabel(t, yt.step), size: 11, color: BLACK, anchor: 'end' });
  }
  for (const t of xt.ticks) {
    items.push({ kind: 'line', x1: px(t), y1: T, x2: px(t), y2: height - B, color: GRID, width: 1 });
    items.push({ kind: 'text', x: px(t), y: height - B + 18, text: tickLabel(t, xt.step), size: 11, color: BLACK, anchor: 'middle' });
  }
  items.push({ kind: 'line', x1: L, y1: height - B, x2: width - R, y2: height - B, color: BLACK, width: 1.5 });
  items.push({ kind: 'line', x1: L, y1: T, x2: L, y2: height - B, color: BLACK, width: 1.5 });
  items.push({ kind: 'text', x: (L + width - R) / 2, y: height - 14, text: 'step', size: 13, color: BLACK, anchor: 'middle' });
  items.push({ kind: 'text', x: L, y: T - 12, text: d.yLabel ?? 'loss (nats/token)', size: 13, color: BLACK, anchor: 'start' });
  items.push({ kind: 'text', x: (L + width - R) / 2, y: 24, text: d.title ?? 'loss', size: 15, color: BLACK, anchor: 'middle' });

  if (train.length) {
    items.push({ kind: 'polyline', points: train.map((p) => [px(p.step), py(p.value)]), color: smooth.length ? TRAIN_RAW : TRAIN, width: 1, series: 'train' });
  }
  if (smooth.length) items.push({ kind: 'polyline', points: smooth.map((p) => [px(p.step), py(p.value)]), color: TRAIN, width: 2, series: 'train-ema' });
  if (evals.length) {
    items.push({ kind: 'polyline', points: evals.map((p) => [px(p.step), py(p.value)]), color: EVAL, width: 2, series: 'eval' });
    for (const p of evals) items.push({ kind: 'circle', x: px(p.step), y: py(p.value), r: 3.5, color: EVAL, series: 'eval' });
  }

  // Legend, top right.
  const legend: [string, Color][] = [];
  if (train.length) legend.push(['train', smooth.length ? TRAIN_RAW : TRAIN]);
  if (smooth.length) legend.push(['train (ema)', TRAIN]);
  if (evals.length) legend.push(['held-out', EVAL]);
  legend.forEach(([label, color], i) => {
    const y = T + 14 + i * 18;
    const x = width - R - 130;
    items.push({ kind: 'line', x1: x, y1: y, x2: x + 24, y2: y, color, width: 2.5 });
    items.push({ kind: 'text', x: x + 32, y: y + 4, text: label, size: 12, color: BLACK, anchor: 'start' });
  });
  return { width, height, items };
}

// ------------------------------------------------------------------------------------------ SVG

const hex = (c: Color) => `#${c.map((v) => v.toString(16).padStart(2, '0')).join('')}`;
const num = (v: number) => (Math.round(v * 100) / 100).toString();
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The loss plot as an SVG document. Each curve is a `<polyline data-series="…">` with one point per sample. */
export function lossCurveSvg(d: LossPlotData): string {
  const s = buildScene(d);
  const out: string[] = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="${s.width}" height="${s.height}" viewBox="0 0 ${s.width} ${s.height}" font-family="Helvetica, Arial, sans-serif">`,
    `<rect x="0" y="0" width="${s.width}" height="${s.height}" fill="#ffffff"/>`,
  ];
  for (const it of s.items) {
    switch (it.kind) {
      case 'line':
        out.push(`<line x1="${num(it.x1)}" y1="${num(it.y1)}" x2="${num(it.x2)}" y2="${num(it.y2)}" stroke="${hex(it.color)}" stroke-width="${it.width}"/>`);
        break;
      case 'polyline':
        out.push(`<polyline data-series="${it.series}" fill="none" stroke="${hex(it.color)}" stroke-width="${it.width}" stroke-linejoin="round" points="${it.points.map(([x, y]) => `${num(x)},${num(y)}`).join(' ')}"/>`);
        break;
      case 'circle':
        out.push(`<circle data-series="${it.series}" cx="${num(it.x)}" cy="${num(it.y)}" r="${it.r}" fill="${hex(it.color)}"/>`);
        break;
      case 'text':
        out.push(`<text x="${num(it.x)}" y="${num(it.y)}" font-size="${it.size}" fill="${hex(it.color)}" text-anchor="${it.anchor}">${esc(it.text)}</text>`);
        break;
    }
  }
  out.push('</svg>', '');
  return out.join('\n');
}

// ------------------------------------------------------------------------------------------ PNG

// A 5×7 bitmap font: seven row masks per glyph, bit 4 = leftmost column. Upper case draws as lower case.
const FONT: Record<string, number[]> = {
  '0': [0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e], '1': [0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e],
  '2': [0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f], '3': [0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e],
  '4': [0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02], '5': [0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e],
  '6': [0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e], '7': [0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
  '8': [0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e], '9': [0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c],
  '.': [0, 0, 0, 0, 0, 0x0c, 0x0c], '-': [0, 0, 0, 0x1f, 0, 0, 0], '+': [0, 0x04, 0x04, 0x1f, 0x04, 0x04, 0],
  '(': [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02], ')': [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08],
  ':': [0, 0x0c, 0x0c, 0, 0x0c, 0x0c, 0], '%': [0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03],
  '/': [0, 0x01, 0x02, 0x04, 0x08, 0x10, 0], '=': [0, 0, 0x1f, 0, 0x1f, 0, 0], ',': [0, 0, 0, 0, 0x0c, 0x04, 0x08],
  a: [0, 0, 0x0e, 0x01, 0x0f, 0x11, 0x0f], b: [0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x1e],
  c: [0, 0, 0x0e, 0x10, 0x10, 0x11, 0x0e], d: [0x01, 0x01, 0x0d, 0x13, 0x11, 0x11, 0x0f],
  e: [0, 0, 0x0e, 0x11, 0x1f, 0x10, 0x0e], f: [0x06, 0x09, 0x08, 0x1c, 0x08, 0x08, 0x08],
  g: [0, 0x0f, 0x11, 0x11, 0x0f, 0x01, 0x0e], h: [0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11],
  i: [0x04, 0, 0x0c, 0x04, 0x04, 0x04, 0x0e], j: [0x02, 0, 0x06, 0x02, 0x02, 0x12, 0x0c],
  k: [0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12], l: [0x0c, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e],
  m: [0, 0, 0x1a, 0x15, 0x15, 0x11, 0x11], n: [0, 0, 0x16, 0x19, 0x11, 0x11, 0x11],
  o: [0, 0, 0x0e, 0x11, 0x11, 0x11, 0x0e], p: [0, 0, 0x1e, 0x11, 0x1e, 0x10, 0x10],
  q: [0, 0, 0x0d, 0x13, 0x0f, 0x01, 0x01], r: [0, 0, 0x16, 0x19, 0x10, 0x10, 0x10],
  s: [0, 0, 0x0e, 0x10, 0x0e, 0x01, 0x1e], t: [0x08, 0x08, 0x1c, 0x08, 0x08, 0x09, 0x06],
  u: [0, 0, 0x11, 0x11, 0x11, 0x13, 0x0d], v: [0, 0, 0x11, 0x11, 0x11, 0x0a, 0x04],
  w: [0, 0, 0x11, 0x11, 0x15, 0x15, 0x0a], x: [0, 0, 0x11, 0x0a, 0x04, 0x0a, 0x11],
  y: [0, 0, 0x11, 0x11, 0x0f, 0x01, 0x0e], z: [0, 0, 0x1f, 0x02, 0x04, 0x08, 0x1f],
};

class Raster {
  readonly px: Uint8Array;
  constructor(readonly w: number, readonly h: number) {
    this.px = new Uint8Array(w * h * 3).fill(255);
  }

  set(x: number, y: number, c: Color): void {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.w || y >= this.h) return;
    const o = (y * this.w + x) * 3;
    this.px[o] = c[0];
    this.px[o + 1] = c[1];
    this.px[o + 2] = c[2];
  }

  /** A square pen of side `width` stamped along the segment. */
  line(x1: number, y1: number, x2: number, y2: number, c: Color, width: number): void {
    const n = Math.max(1, Math.ceil(Math.max(Math.abs(x2 - x1), Math.abs(y2 - y1)) * 2));
    const r = Math.max(0, Math.round(width) - 1) / 2;
    for (let k = 0; k <= n; k++) {
      const x = x1 + ((x2 - x1) * k) / n;
      const y = y1 + ((y2 - y1) * k) / n;
      for (let dy = -Math.floor(r); dy <= Math.ceil(r); dy++) for (let dx = -Math.floor(r); dx <= Math.ceil(r); dx++) this.set(x + dx, y + dy, c);
    }
  }

  disc(cx: number, cy: number, r: number, c: Color): void {
    for (let y = Math.floor(cy - r); y <= Math.ceil(cy + r); y++) {
      for (let x = Math.floor(cx - r); x <= Math.ceil(cx + r); x++) if ((x - cx) ** 2 + (y - cy) ** 2 <= r * r) this.set(x, y, c);
    }
  }

  /** Draws `text` with its baseline at y; `scale` pixels per font pixel. */
  text(x: number, y: number, text: string, scale: number, c: Color, anchor: 'start' | 'middle' | 'end'): void {
    const adv = 6 * scale;
    const w = text.length * adv - scale;
    let x0 = anchor === 'start' ? x : anchor === 'middle' ? x - w / 2 : x - w;
    const top = y - 7 * scale;
    for (const ch of text) {
      const g = FONT[ch] ?? FONT[ch.toLowerCase()];
      if (g) {
        for (let row = 0; row < 7; row++) {
          for (let col = 0; col < 5; col++) {
            if (!(g[row] & (1 << (4 - col)))) continue;
            for (let sy = 0; sy < scale; sy++) for (let sx = 0; sx < scale; sx++) this.set(x0 + col * scale + sx, top + row * scale + sy, c);
          }
        }
      }
      x0 += adv;
    }
  }
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  dv.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** Encodes an 8-bit RGB image as PNG (filter type 0 on every row, zlib-deflated). */
export function encodePng(width: number, height: number, rgb: Uint8Array): Uint8Array {
  if (rgb.length !== width * height * 3) throw new RangeError(`encodePng: expected ${width * height * 3} RGB bytes, got ${rgb.length}`);
  const raw = new Uint8Array(height * (1 + width * 3));
  for (let y = 0; y < height; y++) raw.set(rgb.subarray(y * width * 3, (y + 1) * width * 3), y * (1 + width * 3) + 1);
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, width);
  dv.setUint32(4, height);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8 bits, truecolour, deflate, no filter method variants, no interlace
  const parts = [new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', new Uint8Array(deflateSync(raw))), chunk('IEND', new Uint8Array(0))];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** The loss plot as a PNG (rendered at `scale`× the SVG's size, default 2). */
export function lossCurvePng(d: LossPlotData, scale = 2): Uint8Array {
  const s = buildScene(d);
  const r = new Raster(Math.round(s.width * scale), Math.round(s.height * scale));
  for (const it of s.items) {
    switch (it.kind) {
      case 'line':
        r.line(it.x1 * scale, it.y1 * scale, it.x2 * scale, it.y2 * scale, it.color, it.width * scale);
        break;
      case 'polyline':
        for (let i = 1; i < it.points.length; i++) {
          const [a, b] = [it.points[i - 1], it.points[i]];
          r.line(a[0] * scale, a[1] * scale, b[0] * scale, b[1] * scale, it.color, it.width * scale);
        }
        if (it.points.length === 1) r.disc(it.points[0][0] * scale, it.points[0][1] * scale, it.width * scale, it.color);
        break;
      case 'circle':
        r.disc(it.x * scale, it.y * scale, it.r * scale, it.color);
        break;
      case 'text':
        r.text(it.x * scale, it.y * scale, it.text, Math.max(1, Math.round((it.size * scale) / 8)), it.color, it.anchor);
        break;
    }
  }
  return encodePng(r.w, r.h, r.px);
}

function writeAtomic(file: string, data: string | Uint8Array): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}

/** Writes `loss.svg` and (unless `png: false`) `loss.png` into `dir`; returns their paths. */
export function writeLossPlots(dir: string, d: LossPlotData, { png = true }: { png?: boolean } = {}): { svg: string; png?: string } {
  fs.mkdirSync(dir, { recursive: true });
  const svg = path.join(dir, 'loss.svg');
  writeAtomic(svg, lossCurveSvg(d));
  if (!png) return { svg };
  const pngPath = path.join(dir, 'loss.png');
  writeAtomic(pngPath, lossCurvePng(d));
  return { svg, png: pngPath };
}
