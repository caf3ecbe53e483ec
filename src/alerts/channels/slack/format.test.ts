import { test } from 'node:test';
import assert from 'node:assert/strict';
import { usdToNanos } from '../../../pricing/index.js';
import type { Alert } from '../../types.js';
import { decodeValue, encodeValue, fieldsSent, outcomeMessage, slackMessage, webhookMessage } from './format.js';

function alert(over: Partial<Alert> = {}): Alert {
  return {
    id: 'a1', dedupeKey: 'threshold:work:100:p', kind: 'threshold', budget: 'work', scope: 'key', thresholdPct: 100,
    spentNanos: usdToNanos(15), capNanos: usdToNanos(15), periodEnd: '2026-12-31T00:00:00.000Z', count: 1,
    title: 'key "work" reached $15.00 of $15.00', text: 'Requests are refused until the cap is raised.', dashboardUrl: 'http://127.0.0.1:8787/dashboard',
    buttons: [
      { action: 'add', label: '+$1', addNanos: usdToNanos(1) },
      { action: 'add', label: '+$5', addNanos: usdToNanos(5) },
      { action: 'add', label: '+$10', addNanos: usdToNanos(10) },
      { action: 'kill', label: 'Kill' },
    ],
    ts: '2026-12-02T02:00:00.000Z', ...over,
  };
}

test('button values round-trip; anything else decodes to null', () => {
  for (const b of alert().buttons) assert.deepEqual(decodeValue(encodeValue('w', b)), { budget: 'w', action: b.action, ...(b.addNanos !== undefined ? { addNanos: b.addNanos } : {}) });
  assert.deepEqual(decodeValue(encodeValue('w', { action: 'deny', label: 'Deny', askId: 'q9' })), { budget: 'w', action: 'deny', askId: 'q9' });
  for (const bad of ['', 'x', '{}', '{"b":"w","a":"steal"}', '{"b":"w","a":"add","m":-1}', '{"b":"","a":"kill"}', 'null']) assert.equal(decodeValue(bad), null, bad);
});

test('blocks: escaped title in bold, a dashboard link, unique action ids, Kill in red', () => {
  const m = slackMessage(alert({ title: 'a <b> & c' }));
  assert.equal(m.text, 'a &lt;b&gt; &amp; c');
  assert.deepEqual(m.blocks.map((b) => b.type), ['section', 'context', 'actions']);
  const actions = m.blocks[2];
  assert.ok(actions?.type === 'actions');
  assert.deepEqual(actions.elements.map((e) => e.text.text), ['+$1', '+$5', '+$10', 'Kill']);
  assert.equal(new Set(actions.elements.map((e) => e.action_id)).size, 4);
  assert.equal(actions.elements[3]?.style, 'danger');
  assert.deepEqual(webhookMessage(alert()).blocks.map((b) => b.type), ['section', 'context'], 'a webhook message has no buttons');
  assert.deepEqual(outcomeMessage('✓ Done', 'title', null).blocks.map((b) => b.type), ['section', 'context']);
});

test('fieldsSent is what the message reads: other fields change nothing, listed ones change it', () => {
  const base = JSON.stringify(slackMessage(alert()));
  const others: Partial<Alert> = { id: 'zz', dedupeKey: 'x', kind: 'block', scope: 'tag', thresholdPct: 50, spentNanos: 1, capNanos: 2, periodEnd: 'y', count: 9, ts: 'z' };
  for (const [k, v] of Object.entries(others)) assert.equal(JSON.stringify(slackMessage(alert({ [k]: v }))), base, `${k} is not sent`);
  for (const k of ['title', 'text', 'dashboardUrl', 'budget']) {
    assert.ok(fieldsSent.includes(k));
    assert.notEqual(JSON.stringify(slackMessage(alert({ [k]: 'other' }))), base, `${k} is sent`);
  }
});
