// The public API cannot change by accident: the checked-in reports (etc/oss-cse.api.md, etc/oss-cse-server.api.md)
// must equal what scripts/api-report.mjs generates from the sources' declarations. A deliberate change regenerates
// them with `npm run api:update` and commits them, so the change shows in review.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

test('the public API of oss-cse and oss-cse/server equals the checked-in report (else: npm run api:update)', () => {
  const r = spawnSync(process.execPath, ['scripts/api-report.mjs', '--check'], { cwd: root, encoding: 'utf8', timeout: 240_000 });
  assert.equal(
    r.status,
    0,
    `The public API differs from etc/*.api.md. If the change is deliberate, run \`npm run api:update\` and commit the report.\n${r.stdout}${r.stderr}`,
  );
});
