// Child process for the crash-safety test: saves a checkpoint into the directory given as
// argv[2] at step argv[3] and kills itself with SIGKILL (no cleanup, no exit handlers) right
// after the params file has been durably written — a crash in the middle of a save.
import { np } from '../../src/index.js';
import { saveCheckpoint } from '../../src/checkpoint/index.js';

const [dir, stepText] = process.argv.slice(2);
const params = { w: np.ones([64, 64]), b: np.zeros([64]) };
saveCheckpoint(dir, { params, optState: { m: np.zeros([64, 64]) }, step: Number(stepText), dataPosition: { batch: 99 } }, {
  onProgress: (e) => {
    if (e.kind === 'file' && e.file === 'params.safetensors') process.kill(process.pid, 'SIGKILL');
  },
});
// Not reached: the process is killed mid-save.
process.stdout.write('save finished unexpectedly\n');
