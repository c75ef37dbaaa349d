/**
 * Durable file-system primitives for checkpoints: write a file and fsync it, fsync a directory
 * (so that a rename or a new entry survives a power loss), write a file atomically (temp file in
 * the same directory, fsync, rename, fsync the directory), and remove a directory tree by first
 * renaming it out of the way, so that a half-deleted checkpoint never looks like a real one.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';

/** Writes `data` to a new file at `file` (failing if it exists), fsyncs it and closes it. */
export function writeFileSynced(file: string, data: Uint8Array | string): void {
  const fd = fs.openSync(file, 'wx');
  try {
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let off = 0;
    while (off < buf.length) off += fs.writeSync(fd, buf, off, buf.length - off);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Flushes a directory's entries to disk (no-op on Windows, which cannot open directories). */
export function fsyncDir(dir: string): void {
  if (process.platform === 'win32') return;
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** A short random suffix for temporary names. */
export function randomSuffix(): string {
  return randomBytes(4).toString('hex');
}

/** Writes `file` atomically: a temp file next to it, fsync, rename over, fsync the directory. */
export function writeFileAtomic(file: string, data: Uint8Array | string): void {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.tmp-${process.pid}-${randomSuffix()}`);
  try {
    writeFileSynced(tmp, data);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fsyncDir(dir);
}

/** Removes a directory tree: renames it to a hidden trash name first, then deletes it. */
export function removeDirSafely(dir: string): void {
  const trash = path.join(path.dirname(dir), `.trash-${path.basename(dir)}-${process.pid}-${randomSuffix()}`);
  fs.renameSync(dir, trash);
  fsyncDir(path.dirname(dir));
  fs.rmSync(trash, { recursive: true, force: true });
}

/** Whether a process with this id is alive (signal 0 probes without signalling). */
export function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
