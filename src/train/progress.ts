/**
 * How a training run reports itself. Every record (`start`, `step`, `eval`, `checkpoint`,
 * `message`, `end`) is appended as one JSON line to the run's log file (`<outDir>/log.jsonl`),
 * always. On the console the reporter either redraws a one-line progress bar (step, percent, loss,
 * token accuracy, tokens/s, step time, ETA) when the stream is a terminal, or prints the same
 * records as JSON lines (steps every `logEvery` steps, other events always) when it is not — so a
 * CI log or a pipe gets machine-readable output and a person gets a bar. `readLogRecords` reads a
 * log back (a resumed run rebuilds its loss curve from it).
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { TrainError } from './errors.js';

/** A JSON value. */
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** One log record: `event` plus fields (see the module comment and docs/training.md). */
export interface LogRecord {
  event: 'start' | 'step' | 'eval' | 'checkpoint' | 'message' | 'end' | 'resume';
  [field: string]: Json | undefined;
}

/** Where console output goes (process.stdout or anything with `write`). */
export interface OutputStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** 'auto' (bar on a TTY, JSON lines otherwise), 'bar', 'json' or 'none' (log file only). */
export type ProgressMode = 'auto' | 'bar' | 'json' | 'none';

/** Options of {@link ProgressReporter}. */
export interface ProgressOptions {
  mode?: ProgressMode;
  /** Console stream (default process.stdout). */
  stream?: OutputStream;
  /** JSON-lines log file, appended to (created with its directory). */
  logFile?: string;
  /** In JSON mode, print every `logEvery`-th step record (default 10; the first and last always). */
  logEvery?: number;
  /** Total steps of the run (for the bar). */
  totalSteps: number;
}

/** Formats seconds as `1:02:03` / `2:03`. */
export function formatDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '--:--';
  const t = Math.round(s);
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = t % 60;
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}` : `${m}:${String(sec).padStart(2, '0')}`;
}

/** Formats a rate with a k/M suffix: 10234 → "10.2k". */
export function formatRate(v: number): string {
  if (!Number.isFinite(v)) return '-';
  if (v >= 1e6) return `${(v / 1e6).toFixed(2)}M`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  return v.toFixed(0);
}

const num = (r: LogRecord, k: string): number | undefined => (typeof r[k] === 'number' ? (r[k] as number) : undefined);

/** Reports a run's records to its log file and the console; see the module comment. */
export class ProgressReporter {
  readonly mode: Exclude<ProgressMode, 'auto'>;
  private readonly stream: OutputStream;
  private fd: number | null;
  private readonly logEvery: number;
  private readonly totalSteps: number;
  private barShown = false;
  private lastDraw = 0;

  constructor(opts: ProgressOptions) {
    this.stream = opts.stream ?? process.stdout;
    const mode = opts.mode ?? 'auto';
    if (!['auto', 'bar', 'json', 'none'].includes(mode)) throw new TrainError(`progress must be 'auto', 'bar', 'json' or 'none', got ${JSON.stringify(mode)}`);
    this.mode = mode === 'auto' ? (this.stream.isTTY ? 'bar' : 'json') : mode;
    this.logEvery = opts.logEvery ?? 10;
    if (!Number.isInteger(this.logEvery) || this.logEvery < 1) throw new TrainError(`logEvery must be a positive integer, got ${opts.logEvery}`);
    this.totalSteps = opts.totalSteps;
    if (opts.logFile) {
      fs.mkdirSync(path.dirname(opts.logFile), { recursive: true });
      this.fd = fs.openSync(opts.logFile, 'a');
    } else this.fd = null;
  }

  /** Logs a record (file always; console per mode). */
  record(rec: LogRecord): void {
    const line = JSON.stringify(rec);
    if (this.fd !== null) fs.writeSync(this.fd, line + '\n');
    if (this.mode === 'none') return;
    if (this.mode === 'json') {
      if (rec.event !== 'step' || this.printStep(rec)) this.stream.write(line + '\n');
      return;
    }
    // Bar mode.
    if (rec.event === 'step') {
      const now = Date.now();
      const step = num(rec, 'step') ?? 0;
      if (now - this.lastDraw >= 100 || step >= this.totalSteps || step <= 1) {
        this.lastDraw = now;
        this.drawBar(rec);
      }
      return;
    }
    const text = this.describe(rec);
    if (text) this.println(text);
  }

  /** A human message (JSON mode prints it as a `message` record). */
  info(text: string): void {
    this.record({ event: 'message', text });
  }

  /** Ends the bar's line and closes the log file. */
  close(): void {
    if (this.barShown) {
      this.stream.write('\n');
      this.barShown = false;
    }
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }

  private printStep(rec: LogRecord): boolean {
    const step = num(rec, 'step') ?? 0;
    return step <= 1 || step % this.logEvery === 0 || step >= this.totalSteps;
  }

  private println(text: string): void {
    if (this.barShown) this.stream.write('\r\x1b[K');
    this.stream.write(text + '\n');
    this.barShown = false;
  }

  private describe(rec: LogRecord): string {
    switch (rec.event) {
      case 'message':
        return String(rec.text ?? '');
      case 'eval': {
        const parts = [`eval @ step ${rec.step}: loss ${fmt(num(rec, 'loss'), 4)}`, `perplexity ${fmt(num(rec, 'perplexity'), 3)}`];
        if (num(rec, 'accuracy') !== undefined) parts.push(`token accuracy ${fmt(num(rec, 'accuracy'), 3)}`);
        parts.push(`${rec.tokens} tokens, ${fmt(num(rec, 'time_s'), 1)} s`);
        return parts.join(', ');
      }
      case 'checkpoint':
        return `checkpoint @ step ${rec.step} → ${rec.path} (${formatBytes(num(rec, 'bytes') ?? 0)}, ${fmt(num(rec, 'time_s'), 2)} s)`;
      case 'start':
      case 'resume':
      case 'end':
        return typeof rec.text === 'string' ? rec.text : '';
      default:
        return '';
    }
  }

  private drawBar(rec: LogRecord): void {
    const step = num(rec, 'step') ?? 0;
    const total = Math.max(1, this.totalSteps);
    const frac = Math.min(1, step / total);
    const stats: [string, string][] = [
      ['loss', `loss ${fmt(num(rec, 'loss'), 4)}`],
      ...(num(rec, 'accuracy') !== undefined ? [['acc', `acc ${fmt(num(rec, 'accuracy'), 3)}`] as [string, string]] : []),
      ['rate', `${formatRate(num(rec, 'tokens_per_s') ?? NaN)} tok/s`],
      ['time', `${fmt((num(rec, 'step_time_s') ?? NaN) * 1000, 0)} ms/step`],
      ['eta', `ETA ${formatDuration(num(rec, 'eta_s') ?? NaN)}`],
    ];
    const head = `step ${String(step).padStart(String(total).length)}/${total}`;
    const pct = `${(frac * 100).toFixed(0).padStart(3)}%`;
    const cols = Math.max(40, this.stream.columns || 100);
    // Drop the least important fields until the line fits the terminal.
    for (const drop of ['time', 'acc', 'rate']) {
      if (head.length + pct.length + 12 + stats.map((x) => x[1]).join(' │ ').length + 3 < cols) break;
      const i = stats.findIndex((x) => x[0] === drop);
      if (i >= 0) stats.splice(i, 1);
    }
    const text = stats.map((x) => x[1]).join(' │ ');
    // A fixed width (from the terminal size, not the text) so the bar does not jitter between redraws.
    const barWidth = Math.max(8, Math.min(24, cols - 1 - head.length - pct.length - 76));
    const filled = Math.round(frac * barWidth);
    const bar = '█'.repeat(filled) + '░'.repeat(barWidth - filled);
    let line = `${head} ${bar} ${pct} │ ${text}`;
    if ([...line].length > cols - 1) line = [...line].slice(0, cols - 1).join('');
    this.stream.write(`\r${line}\x1b[K`);
    this.barShown = true;
  }

}

function fmt(v: number | undefined, digits: number): string {
  return v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(digits);
}

/** Formats a byte count: 1536 → "1.5 KiB". */
export function formatBytes(n: number): string {
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(2)} GiB`;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
  return `${n} B`;
}

/**
 * Reads the records of a JSON-lines log (missing file: none). A truncated last line (a crash
 * mid-write) is ignored; any other malformed line is an error naming the file and line.
 */
export function readLogRecords(file: string): LogRecord[] {
  if (!fs.existsSync(file)) return [];
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const out: LogRecord[] = [];
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    try {
      const rec = JSON.parse(line) as LogRecord;
      if (rec && typeof rec === 'object' && typeof rec.event === 'string') out.push(rec);
      else throw new Error('not a record with an "event" field');
    } catch (e) {
      const last = lines.slice(i + 1).every((l) => !l.trim());
      if (!last) throw new TrainError(`${file}:${i + 1} is not a JSON log record (${(e as Error).message}); the log is damaged — move it away to start a fresh log`);
    }
  });
  return out;
}
