import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMessagesRequest } from '../providers/anthropic/index.js';
import { digestPrompt, PromptMemory, suffixTokens } from './prompt-memory.js';

// A Claude Code-like session: a large system prompt and tools, then turns that append a tool call and its result.
const SYSTEM = Array.from({ length: 300 }, (_, i) => `Rule ${i}: keep edits small; run \`npm test\` before committing; never print secrets. {"tool":"Bash","n":${i}}`).join('\n');
const TOOLS = Array.from({ length: 12 }, (_, i) => ({ name: `tool_${i}`, description: `Does thing ${i} to the repository, carefully.`, input_schema: { type: 'object', properties: { path: { type: 'string' }, n: { type: 'number' } } } }));
const RESULTS = [
  'export function add(a: number, b: number): number {\n  return a + b;\n}\n'.repeat(20),
  JSON.stringify({ files: Array.from({ length: 40 }, (_, i) => ({ name: `src/f${i}.ts`, size: i * 97 })) }),
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=='.repeat(8),
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n'.repeat(10),
  '予算の上限に達しました。ストリームを切断します。'.repeat(10),
  '🙂🚀✨ done 👍🏽 '.repeat(20),
];

function turnBody(turn: number): Buffer {
  const messages: unknown[] = [{ role: 'user', content: 'Fix the failing test in src/f3.ts.' }];
  for (let t = 0; t < turn; t++) {
    messages.push({ role: 'assistant', content: [{ type: 'tool_use', id: `toolu_${t}`, name: 'tool_1', input: { path: `src/f${t}.ts` } }] });
    messages.push({ role: 'user', content: [{ type: 'tool_result', tool_use_id: `toolu_${t}`, content: RESULTS[t % RESULTS.length]! }] });
  }
  return Buffer.from(JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 32_000, stream: true, system: SYSTEM, tools: TOOLS, messages }));
}

/** The billing mock's input count: one token per 4 bytes of the body (test/helpers/mock-anthropic.ts). */
const mockCount = (body: Buffer): number => Math.ceil(body.length / 4);

test('later turns of a session are estimated from the previous exact count: ≤ 1.15× the real input, never below it', () => {
  const memory = new PromptMemory();
  const scope = '1\u0000anthropic\u0000claude-sonnet-4-5';
  let worstWarm = 0;
  let cold = 0;
  for (let turn = 0; turn < 10; turn++) {
    const body = turnBody(turn);
    const info = parseMessagesRequest(body);
    assert.ok(!('code' in info));
    const d = digestPrompt(body);
    const est = memory.estimate(scope, d, body, info.estimatedInputTokens);
    const real = mockCount(body);
    assert.ok(est >= real, `turn ${turn}: estimate ${est} < real ${real}`);
    if (turn === 0) cold = est / real;
    else worstWarm = Math.max(worstWarm, est / real);
    memory.remember(scope, d, real);
  }
  console.log(`# FIGURE input estimate/real: cold ${cold.toFixed(2)}, turns 2-10 worst ${worstWarm.toFixed(3)}`);
  assert.ok(worstWarm <= 1.15, `warm estimate ${worstWarm.toFixed(3)}× the real input`);
});

test('another conversation, model or key never borrows a count; a body that changed early falls back to the cold estimate', () => {
  const memory = new PromptMemory();
  const body = turnBody(3);
  const d = digestPrompt(body);
  memory.remember('1\u0000anthropic\u0000claude-sonnet-4-5', d, 10);
  assert.equal(memory.estimate('1\u0000anthropic\u0000claude-opus-4-7', d, body, 5000), 5000);
  assert.equal(memory.estimate('2\u0000anthropic\u0000claude-sonnet-4-5', d, body, 5000), 5000);
  const changed = Buffer.from(body.toString().replace('Rule 0:', 'Rule X:'));
  assert.equal(memory.estimate('1\u0000anthropic\u0000claude-sonnet-4-5', digestPrompt(changed), changed, 5000), 5000);
});

test('the changed part is counted at least one token per 2 bytes, more for text the newest Claude tokenizer splits finely', () => {
  for (const r of RESULTS) {
    const b = Buffer.from(r);
    assert.ok(suffixTokens(b) >= Math.ceil(b.length / 2), r.slice(0, 20));
  }
  // Emoji and CJK: one token per character or more is possible; the bound stays above it.
  const cjk = Buffer.from('予算'.repeat(50));
  assert.ok(suffixTokens(cjk) >= 100);
  const emoji = Buffer.from('🙂'.repeat(50));
  assert.ok(suffixTokens(emoji) >= 100);
});
