import { test } from 'node:test';
import assert from 'node:assert/strict';
import { anthropicOutputLimit, chatOutputLimit, geminiOutputLimit, responsesOutputLimit } from './output-limit.js';

const j = (o: unknown) => Buffer.from(JSON.stringify(o));
const parse = (b: Buffer | null) => JSON.parse(b!.toString('utf8')) as Record<string, unknown>;

test('output limit: each protocol names its field', () => {
  assert.equal(parse(anthropicOutputLimit(j({ model: 'm', max_tokens: 32000 }), 900))['max_tokens'], 900);
  assert.equal(parse(chatOutputLimit(j({ max_tokens: 5000 }), 700))['max_tokens'], 700);
  assert.equal(parse(chatOutputLimit(j({ max_completion_tokens: 5000 }), 700))['max_completion_tokens'], 700);
  assert.equal(parse(chatOutputLimit(j({}), 700))['max_completion_tokens'], 700);
  assert.equal(parse(responsesOutputLimit(j({ input: 'x' }), 600))['max_output_tokens'], 600);
  assert.deepEqual(parse(geminiOutputLimit(j({ generationConfig: { temperature: 1, thinkingConfig: { thinkingBudget: 8000 } } }), 500))['generationConfig'], {
    temperature: 1,
    maxOutputTokens: 500,
    thinkingConfig: { thinkingBudget: 500 },
  });
});

test('output limit: Anthropic thinking stays below max_tokens, or the request cannot be clamped', () => {
  const out = parse(anthropicOutputLimit(j({ max_tokens: 32000, thinking: { type: 'enabled', budget_tokens: 16000 } }), 4000));
  assert.deepEqual(out['thinking'], { type: 'enabled', budget_tokens: 3999 });
  assert.equal(anthropicOutputLimit(j({ max_tokens: 32000, thinking: { type: 'enabled', budget_tokens: 16000 } }), 1000), null);
  assert.equal(anthropicOutputLimit(Buffer.from('not json'), 100), null);
});
