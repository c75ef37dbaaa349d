// The example configs shipped in configs/ (referenced by the README and docs/training.md) must
// stay valid as the schema evolves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { loadTrainConfig } from '../../src/train/index.js';

test('every shipped config in configs/ validates', () => {
  const files = readdirSync('configs').filter((f) => f.endsWith('.json'));
  assert.ok(files.length >= 2, 'expected example configs in configs/');
  for (const f of files) assert.doesNotThrow(() => loadTrainConfig(`configs/${f}`), `configs/${f}`);
});
