// Makes the CLI entry point executable after `tsc` (npm links it as the `myriad` bin).
import { chmodSync, existsSync } from 'node:fs';
if (existsSync('dist/cli.js')) chmodSync('dist/cli.js', 0o755);
