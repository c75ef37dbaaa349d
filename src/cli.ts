#!/usr/bin/env node
/**
 * The `myriad` command line. `myriad demo` runs the main job on its embedded default (a byte-level
 * causal LM trained on the UDHR); `train`, `generate`, `tasks`, `mixture`, `tokenizer` and
 * `export` are the other command groups.
 */

import { Command } from 'commander';
import './index.js'; // installs the eager evaluator, backends and np methods
import { MyriadError } from './core/errors.js';
import { registerTaskCommands } from './cli/tasks.js';
import { registerTokenizerCommands } from './cli/tokenizer.js';
import { registerTrainCommands } from './cli/train.js';
import { registerExportCommands } from './cli/export.js';

const program = new Command();
program.name('myriad').description('Build, train, parallelize and serve sparsely activated, multitask models.').version('0.1.0');

registerTrainCommands(program);
registerTaskCommands(program);
registerTokenizerCommands(program);
registerExportCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof MyriadError) {
    console.error(`myriad: ${e.message}`);
    process.exit(2);
  }
  throw e;
}
