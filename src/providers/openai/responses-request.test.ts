import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { countTokens as o200k } from 'gpt-tokenizer/encoding/o200k_base';
import { kindsOfText } from '../../proxy/token-samples.js';
import { whenExactTokenizerReady } from './exact-tokens.js';
import { DEFAULT_MAX_OUTPUT_TOKENS, parseResponsesRequest } from './responses-request.js';
import type { ResponsesRequestInfo } from './responses-request.js';

before(async () => {
  await whenExactTokenizerReady('gpt-5');
});

function parse(body: unknown): ResponsesRequestInfo {
  const r = parseResponsesRequest(Buffer.from(JSON.stringify(body)));
  assert.ok(!('code' in r), JSON.stringify(r));
  return r;
}

function error(body: string): string {
  const r = parseResponsesRequest(Buffer.from(body));
  assert.ok('code' in r && r.code === 'E_BAD_REQUEST');
  return r.message;
}

test('model, stream, max_output_tokens and reasoning effort are read', () => {
  const r = parse({ model: 'gpt-5', input: 'hi', stream: true, max_output_tokens: 300, reasoning: { effort: 'low' } });
  assert.deepEqual([r.model, r.stream, r.maxTokens, r.reasoningEffort, r.cacheWriteTtl], ['gpt-5', true, 300, 'low', 'none']);
  const plain = parse({ model: 'gpt-4.1', input: 'hi' });
  assert.deepEqual([plain.stream, plain.reasoningEffort], [false, null]);
});

test('without max_output_tokens the hold assumes the largest output an OpenAI model may write', () => {
  assert.equal(parse({ model: 'gpt-5', input: 'hi' }).maxTokens, DEFAULT_MAX_OUTPUT_TOKENS);
  assert.equal(parse({ model: 'gpt-5', input: 'hi', max_output_tokens: null }).maxTokens, 128_000);
});

test('malformed bodies are refused with a reason', () => {
  assert.match(error(''), /empty/);
  assert.match(error('{"model":'), /not valid JSON/);
  assert.match(error('[1]'), /JSON object/);
  assert.match(error('{"input":"hi"}'), /missing "model"/);
  assert.match(error('{"model":""}'), /non-empty/);
  assert.match(error('{"model":"gpt-5","max_output_tokens":0}'), /positive integer/);
  assert.match(error('{"model":"gpt-5","max_output_tokens":1.5}'), /positive integer/);
  // a cut would not stop a background response
  assert.match(error('{"model":"gpt-5","background":true,"stream":true}'), /background/);
  assert.equal(parse({ model: 'gpt-5', background: true, max_output_tokens: 100 }).maxTokens, 100);
});

test('the input estimate is above the o200k count of English text (about 4 bytes a token)', () => {
  const text = 'The quick brown fox jumps over the lazy dog while the budget holds. '.repeat(200);
  const r = parse({ model: 'gpt-5', input: [{ role: 'user', content: [{ type: 'input_text', text }] }], instructions: 'Be brief.' });
  assert.ok(r.estimatedInputTokens >= o200k(text) + o200k('Be brief.') + 2 * 4 + 3, `${r.estimatedInputTokens}`);
  const cjk = parse({ model: 'gpt-5', input: '预算'.repeat(1000) });
  assert.ok(cjk.estimatedInputTokens >= o200k('预算'.repeat(1000)) + 4 + 3);
});

test('an image counts as an image, its base64 bytes do not count as text', () => {
  const data = 'data:image/png;base64,' + 'A'.repeat(400_000);
  const r = parse({ model: 'gpt-5', input: [{ role: 'user', content: [{ type: 'input_image', image_url: data, detail: 'high' }] }] });
  assert.ok(r.estimatedInputTokens >= 5000 && r.estimatedInputTokens < 6000, `${r.estimatedInputTokens}`);
  const byUrl = parse({ model: 'gpt-5', input: [{ role: 'user', content: [{ type: 'input_image', image_url: 'https://example.com/a.png', detail: 'original' }] }] });
  assert.ok(byUrl.estimatedInputTokens >= 12_000);
  // images also sit in tool outputs
  const inTool = parse({ model: 'gpt-5', input: [{ type: 'function_call_output', call_id: 'c', output: [{ type: 'input_image', image_url: 'https://example.com/b.png' }] }] });
  assert.ok(inTool.estimatedInputTokens >= 5000);
});

test('files: base64 by size, by id or URL a fixed large amount', () => {
  const pdf = parse({ model: 'gpt-5', input: [{ role: 'user', content: [{ type: 'input_file', filename: 'a.pdf', file_data: 'data:application/pdf;base64,' + 'A'.repeat(30_000) }] }] });
  assert.ok(pdf.estimatedInputTokens >= 10_000, `${pdf.estimatedInputTokens}`);
  const byId = parse({ model: 'gpt-5', input: [{ role: 'user', content: [{ type: 'input_file', file_id: 'file-1' }] }] });
  assert.ok(byId.estimatedInputTokens >= 50_000);
});

test('a stored conversation (previous_response_id, conversation) or stored prompt is counted though the body does not show it', () => {
  const bare = parse({ model: 'gpt-5', input: 'and then?' }).estimatedInputTokens;
  assert.ok(parse({ model: 'gpt-5', input: 'and then?', previous_response_id: 'resp_1' }).estimatedInputTokens >= bare + 272_000);
  assert.ok(parse({ model: 'gpt-5', input: 'and then?', conversation: 'conv_1' }).estimatedInputTokens >= bare + 272_000);
  assert.ok(parse({ model: 'gpt-5', prompt: { id: 'pmpt_1' } }).estimatedInputTokens >= 20_000);
});

test('a deeply nested body does not overflow the stack', () => {
  const deep = '{"a":['.repeat(3000) + '{"type":"input_text","text":"x"}' + ']}'.repeat(3000);
  const r = parseResponsesRequest(Buffer.from(`{"model":"gpt-5","input":[${deep}]}`));
  assert.ok(!('code' in r));
});

/** What OpenAI bills for a prompt by its framing rule: each message's text in o200k, 4 tokens a message (role included), 3 to prime the reply. */
function billedByRule(messages: string[]): number {
  return messages.reduce((n, t) => n + 4 + o200k(t), 3);
}

test('the estimate of a tiny prompt stays above what the provider bills for it, framing included', () => {
  // Published bills: a two-character prompt on gpt-5-pro, 7 input tokens; a greeting on gpt-4o-mini, 9.
  for (const [text, billed] of [['你好', 7], ['Hello!', 9]] as const) {
    const r = parse({ model: 'gpt-5', input: text, stream: true });
    assert.ok(r.estimatedInputTokens >= billed, `${text}: ${r.estimatedInputTokens} < ${billed}`);
  }
  // By the framing rule, on every kind of text, as a string, as one message with instructions, and as several items.
  for (const { name, text } of kindsOfText()) {
    const short = text.slice(0, 40);
    const cases: Array<[unknown, string[]]> = [
      [{ model: 'gpt-5', input: short, stream: true }, [short]],
      [{ model: 'gpt-5', instructions: short, input: [{ role: 'user', content: short }], stream: true }, [short, short]],
      [{ model: 'gpt-5', input: [1, 2, 3].map((i) => ({ role: i % 2 ? 'user' : 'assistant', content: [{ type: 'input_text', text: short }] })), stream: true }, [short, short, short]],
    ];
    for (const [body, messages] of cases) {
      const r = parse(body);
      assert.ok(r.estimatedInputTokens >= billedByRule(messages), `${name}: ${r.estimatedInputTokens} < ${billedByRule(messages)}`);
    }
  }
});

test("the estimate stays above the billing mock's count (a token per 4 bytes of the body)", () => {
  for (const { name, text } of kindsOfText()) {
    const raw = JSON.stringify({ model: 'gpt-5', input: text.slice(0, 200), stream: true });
    const r = parse(JSON.parse(raw));
    assert.ok(r.estimatedInputTokens >= Math.ceil(Buffer.byteLength(raw) / 4), name);
  }
});
