// The `tasks list|show|sample` and `mixture stats` commands, driven through commander.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { registerTaskCommands } from '../../src/cli/tasks.js';
import { TaskError } from '../../src/tasks/errors.js';
import { ALL_FAMILIES } from '../../src/tasks/collection.js';
import { flanRegistration, getFlanTask } from '../../src/tasks/registry.js';

async function run(...args: string[]): Promise<string> {
  const out: string[] = [];
  const program = new Command();
  program.exitOverride();
  registerTaskCommands(program, (t) => out.push(t));
  await program.parseAsync(args, { from: 'user' });
  return out.join('\n');
}

test('tasks list: all tasks, families, and filters by cluster and held-out', async () => {
  const all = await run('tasks', 'list');
  assert.match(all, new RegExp(`\\n${flanRegistration().tasks.length} tasks from ${ALL_FAMILIES.length} families; held-out clusters: symbolic_reasoning, phonetics\\.$`));
  assert.match(all, /^task\s+cluster\s+family\s+variant\s+held-out/);
  assert.match(all, /\nboolean_expressions_fs_cot\s+symbolic_reasoning\s+boolean_expressions\s+fs_cot\s+yes\n/);
  const fams = await run('tasks', 'list', '--families');
  assert.match(fams, new RegExp(`${ALL_FAMILIES.length} families in 9 clusters`));
  const held = await run('tasks', 'list', '--cluster', 'phonetics', '--held-out');
  const rows = held.split('\n').slice(1).filter((l) => /^cmu_/.test(l));
  assert.ok(rows.length > 0 && rows.every((l) => /\syes$/.test(l)));
  const train = await run('tasks', 'list', '--cluster', 'phonetics', '--train');
  assert.match(train, /\n0 tasks/);
  await assert.rejects(run('tasks', 'list', '--cluster', 'phonetic'), (e: Error) => e instanceof TaskError && /Did you mean: phonetics/.test(e.message));
});

test('tasks show: family details, templates with inverted flags, split sizes', async () => {
  const out = await run('tasks', 'show', 'date_arithmetic_fs_opt');
  assert.match(out, /^task date_arithmetic_fs_opt \(family date_arithmetic, variant fs_opt\)/);
  assert.match(out, /cluster:\s+temporal\n/);
  assert.match(out, /split sizes: train unbounded \(task uses 2000\); validation unbounded \(task uses 200\); test unbounded \(task uses 200\)/);
  assert.match(out, /#5 \[inverted\]/);
  const held = await run('tasks', 'show', 'boolean_expressions');
  assert.match(held, /^family boolean_expressions\n/);
  assert.match(held, /cluster:\s+symbolic_reasoning \(held out of flan_train\)/);
  const data = await run('tasks', 'show', 'udhr_iso_code');
  assert.match(data, /split sizes: train \d+ \(task uses 2000\); validation \d+ \(task uses 200\); test \d+ \(task uses 200\)/);
});

test('tasks sample: template, few-shot, chain of thought and options flags', async () => {
  const out = await run('tasks', 'sample', 'boolean_expressions', '--n', '2', '--template', '1', '--few-shot', '2', '--cot', '--split', 'validation');
  const headers = out.match(/^=== .*$/gm) ?? [];
  assert.equal(headers.length, 2);
  for (const h of headers) assert.match(h, /^=== boolean_expressions validation #\d — template #1, cot template #\d, 2-shot$/);
  assert.match(out, /--- inputs\nEvaluate the boolean expression: /);
  assert.match(out, /--- answer \(scored\): (True|False)\n/);
  const letters = await run('tasks', 'sample', 'web_of_lies_zs_opt', '--n', '1', '--seed', '3');
  assert.match(letters, /options: letters/);
  assert.match(letters, /OPTIONS:\n(\(A\)|A\.|A\)|\[A\]) (Yes|No)\n/);
  assert.match(letters, /--- answer \(scored\): (\(?[AB]\)?)\n/);
  await assert.rejects(run('tasks', 'sample', 'boolean_expressions', '--template', '5', '--cot'), /cannot be used with options or chain of thought/);
  await assert.rejects(run('tasks', 'sample', 'reverse_list', '--options', 'plain'), /has no answer options/);
  await assert.rejects(run('tasks', 'sample', 'reverse_lst'), (e: Error) => e instanceof TaskError && /Did you mean: reverse_list/.test(e.message));
  await assert.rejects(run('tasks', 'sample', 'reverse_list', '--options', 'maybe'), /--options must be none, plain or letters/);
  await assert.rejects(run('tasks', 'sample', 'reverse_list', '--split', 'dev'), /Unknown split 'dev'/);
  await assert.rejects(run('tasks', 'sample', 'reverse_list', '--n', '0'), /--n must be an integer >= 1/);
});

test('mixture stats: rates, sizes and byte counts that match the task examples', async () => {
  const text = await run('mixture', 'stats', 'flan_cluster_string_manipulation', '--sample', '3');
  assert.match(text, /^mixture flan_cluster_string_manipulation: \d+ tasks, split train, cap 3000, temperature 1; counting UTF-8 bytes/);
  assert.match(text, /\ntotal\s+100%\s+\d+\s+\d+\n/);
  const stats = JSON.parse(await run('mixture', 'stats', 'flan_cluster_string_manipulation', '--sample', '3', '--json'));
  assert.equal(stats.unit, 'bytes');
  const rateSum = stats.tasks.reduce((s: number, t: { rate: number }) => s + t.rate, 0);
  assert.ok(Math.abs(rateSum - 1) < 1e-9);
  assert.equal(stats.totalSize, stats.tasks.reduce((s: number, t: { size: number }) => s + t.size, 0));
  // Recount one task's bytes directly from its examples.
  const row = stats.tasks.find((t: { task: string }) => t.task === 'caesar_cipher_fs_cot');
  const exs = [];
  for (const ex of getFlanTask('caesar_cipher_fs_cot').getDataset('train', { tokenize: false })) { exs.push(ex); if (exs.length === 3) break; }
  const avgIn = exs.reduce((s, e) => s + Buffer.byteLength(e.inputs as string, 'utf8'), 0) / 3;
  const avgTg = exs.reduce((s, e) => s + Buffer.byteLength(e.targets as string, 'utf8') + 1, 0) / 3;
  assert.ok(Math.abs(row.inputsPerExample - avgIn) < 1e-9 && Math.abs(row.targetsPerExample - avgTg) < 1e-9);
  assert.equal(row.tokens, Math.round(row.size * (avgIn + avgTg)));
  await assert.rejects(run('mixture', 'stats', 'flan_trains'), (e: Error) => e instanceof TaskError && /Did you mean: flan_train/.test(e.message));
});
