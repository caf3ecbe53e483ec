import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CUT_INPUT_MARKER, ToolInputTracker } from './tool-input.js';

const DOCS = [
  '{"location": "San Francisco, CA", "unit": "fahrenheit"}',
  '{"command":"rm -rf build && make -j8","description":"Rebuild","timeout":120000,"run_in_background":false}',
  '{"file_path":"/a/b.ts","edits":[{"old_string":"x\\n\\"y\\"","new_string":"z\\u00e9\\ud83d\\ude00","replace_all":true},{"old_string":"a","new_string":"b"}]}',
  '{ "n": -1.5e+10, "m": 0, "t": true, "f": false, "z": null, "arr": [1, [2, {"k": []}], "s"], "o": {} }',
  '{"we\\"ird key":"v","nested":{"deep":{"deeper":[null,true,{"x":"\\\\"}]}}}',
  '{}',
  '{"a":[]}',
];

function check(prefix: string, full: string): void {
  const t = new ToolInputTracker();
  t.feed(prefix);
  const closer = t.closer();
  if (prefix === full) {
    assert.equal(closer, '', 'a complete input is left as it is');
    return;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(prefix + closer);
  } catch (err) {
    assert.fail(`${JSON.stringify(prefix + closer)} is not JSON: ${(err as Error).message}`);
  }
  assert.ok(typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed));
  const obj = parsed as Record<string, unknown>;
  assert.equal(obj[CUT_INPUT_MARKER], true);
  for (const [k, v] of Object.entries(obj)) {
    if (k !== CUT_INPUT_MARKER) assert.equal(v, null, `field ${k} of ${JSON.stringify(prefix + closer)} survived the cut`);
  }
}

test('every prefix of every document closes to valid JSON with every field null', () => {
  for (const doc of DOCS) {
    for (let i = 0; i <= doc.length; i++) check(doc.slice(0, i), doc);
  }
});

test('the same when fed in fragments (as input_json_delta sends it)', () => {
  const doc = DOCS[2] ?? '';
  for (let i = 0; i <= doc.length; i++) {
    const t = new ToolInputTracker();
    for (let j = 0; j < i; j += 3) t.feed(doc.slice(j, Math.min(i, j + 3)));
    const whole = new ToolInputTracker();
    whole.feed(doc.slice(0, i));
    assert.equal(t.closer(), whole.closer(), `at ${i}`);
  }
});

test('nothing streamed yet: the input becomes just the marker', () => {
  assert.equal(new ToolInputTracker().closer(), `{"${CUT_INPUT_MARKER}":true}`);
});

test('a field whose value was complete is nulled too (the call is not run half-written)', () => {
  const t = new ToolInputTracker();
  t.feed('{"command":"rm -rf build","descr');
  assert.deepEqual(JSON.parse('{"command":"rm -rf build","descr' + t.closer()), { command: null, descr: null, [CUT_INPUT_MARKER]: true });
});

test('fragments that are not JSON give no closer', () => {
  const t = new ToolInputTracker();
  t.feed('{"a": nope');
  assert.equal(t.closer(), '');
  const u = new ToolInputTracker();
  u.feed('[1,2');
  assert.equal(u.closer(), '', 'a tool input is always an object');
});
