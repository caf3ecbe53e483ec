// A client controls the model name and the session id it sends: neither may forge a line or send
// an ANSI escape to the terminal of whoever runs `spendcap log` or reads the server's output.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startMockAnthropic } from './helpers/mock-anthropic.js';
import type { MockAnthropic } from './helpers/mock-anthropic.js';
import { addKey, cli, startSpendcap } from './helpers/spendcap.js';
import type { TestSpendcap } from './helpers/spendcap.js';

let mock: MockAnthropic;
let sc: TestSpendcap;
let key: string;
before(async () => {
  mock = await startMockAnthropic({ outputTokens: 5 });
  sc = await startSpendcap(mock.url);
  key = await addKey(sc.dataDir, 'agent', 5);
});
after(async () => {
  await sc.close();
  await mock.close();
});

const EVIL_MODEL = 'claude-sonnet-4-5\n12:00  agent  forged-row  $0.00\u001b[2J\u001b[31m';

test('spendcap log shows a hostile model name escaped, on its own line', async () => {
  const r = await fetch(`${sc.url}/v1/messages`, {
    method: 'POST',
    headers: { 'x-api-key': key, 'content-type': 'application/json' },
    body: JSON.stringify({ model: EVIL_MODEL, max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }),
  });
  await r.text();
  const log = await cli(sc.dataDir, ['log']);
  assert.equal(log.code, 0, log.err);
  assert.ok(!/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/.test(log.out), `no control character in:\n${JSON.stringify(log.out)}`);
  const lines = log.out.trimEnd().split('\n');
  assert.ok(!lines.some((l) => l.startsWith('12:00')), 'the newline in the model did not start a forged row');
  assert.match(lines[1]!, /^\d{4}-\d\d-\d\d \d\d:\d\d  agent .*claude-sonnet-4-5\\n12:00  agent  forged-row  \$0\.00\\u001b\[2J/);
  const json = await cli(sc.dataDir, ['log', '--json']);
  assert.equal((JSON.parse(json.out) as Array<{ model: string }>)[0]!.model, EVIL_MODEL, 'the ledger keeps the value as sent');
  for (const args of [['log', '--csv'], ['status'], ['events'], ['key', 'list']]) {
    const out = await cli(sc.dataDir, args);
    assert.ok(!out.out.includes('\u001b'), `${args.join(' ')}: no ESC`);
  }
});
