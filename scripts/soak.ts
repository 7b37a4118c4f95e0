/**
 * `npm run soak -- --seconds N`: runs the soak test (test/worker/soak.test.ts) for N seconds of
 * app traffic instead of the minute `npm test` gives it.
 */
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '300' } } });
const seconds = Number(values.seconds);
if (!Number.isInteger(seconds) || seconds < 5 || seconds > 86_400) {
  console.error(`--seconds must be a whole number from 5 to 86400, got ${JSON.stringify(values.seconds)}`);
  process.exit(2);
}
const child = spawn('vitest', ['run', '--project', 'worker', 'test/worker/soak.test.ts'], {
  stdio: 'inherit',
  env: { ...process.env, SOAK_SECONDS: String(seconds) },
});
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
