#!/usr/bin/env node
/**
 * The `myriad` command line. `myriad demo` runs the main job on its embedded default (today:
 * UDHR language ID trained with the engine; later issues grow it into LM/MoE training).
 * Sub-command groups from other parts (tokenizer, tasks) register themselves here.
 */

import { Command } from 'commander';
import './index.js'; // installs the eager evaluator, backends and np methods
import { runLangIdDemo } from './demo/langid.js';
import { MyriadError } from './core/errors.js';
import { registerTaskCommands } from './cli/tasks.js';
import { registerTokenizerCommands } from './cli/tokenizer.js';

const program = new Command();
program.name('myriad').description('Build, train, parallelize and serve sparsely activated, multitask models.').version('0.1.0');

program
  .command('demo')
  .description('Run the main job on its embedded default (UDHR language identification with the Myriad engine)')
  .option('--steps <n>', 'training steps', (v) => parseInt(v, 10), 150)
  .option('--seed <n>', 'random seed', (v) => parseInt(v, 10), 0)
  .action((o: { steps: number; seed: number }) => {
    if (!Number.isInteger(o.steps) || o.steps < 1) throw new MyriadError(`--steps must be a positive integer, got ${o.steps}`);
    runLangIdDemo({ steps: o.steps, seed: o.seed });
  });

registerTaskCommands(program);
registerTokenizerCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof MyriadError) {
    console.error(`myriad: ${e.message}`);
    process.exit(2);
  }
  throw e;
}
