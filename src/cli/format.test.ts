import assert from 'node:assert/strict';
import { test } from 'node:test';
import { printable, table } from './format.js';

test('printable: newlines, ANSI escapes, C1 codes and bidi overrides become visible escapes', () => {
  assert.equal(printable('claude\n12:00 fake line'), 'claude\\n12:00 fake line');
  assert.equal(printable('\u001b[31mred\u001b[0m'), '\\u001b[31mred\\u001b[0m');
  assert.equal(printable('a\rb\tc\u0000d\u007f\u009b'), 'a\\rb\\tc\\u0000d\\u007f\\u009b');
  assert.equal(printable('evil\u202egnp.exe'), 'evil\\u202egnp.exe');
  assert.equal(printable('claude-sonnet-4-5 · $0.05 ✓'), 'claude-sonnet-4-5 · $0.05 ✓', 'ordinary text is untouched');
});

test('table: a cell cannot add a line or colour the output', () => {
  const out = table([['MODEL', 'COST'], ['x\n\u001b[2Jforged', '$1']]);
  assert.equal(out.split('\n').length, 3);
  assert.ok(!out.includes('\u001b'));
});
