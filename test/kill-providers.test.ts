// `spendcap kill` cuts an open stream within a second whatever the protocol, ending it the way that
// protocol ends a stream, and the next request is refused before the provider.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { GoogleGenAI } from '@google/genai';
import { startMockOpenAI } from './helpers/mock-openai.js';
import type { MockOpenAI } from './helpers/mock-openai.js';
import { startMockGemini } from './helpers/mock-gemini.js';
import type { MockGemini } from './helpers/mock-gemini.js';
import { addKey, cli, startSpendcap } from './helpers/spendcap.js';
import type { TestSpendcap } from './helpers/spendcap.js';

/** Runs `spendcap kill NAME` once the stream has produced something, and resolves with when it was run. */
async function killSoon(sc: TestSpendcap, name: string, started: Promise<void>): Promise<number> {
  await started;
  const r = await cli(sc.dataDir, ['kill', name]);
  assert.equal(r.code, 0, r.err);
  return Date.now();
}

describe('kill cuts open streams of every protocol', () => {
  let openai: MockOpenAI;
  let gemini: MockGemini;
  let sc: TestSpendcap;
  before(async () => {
    // Long, slow answers: a stream that is not cut runs for about 20 s.
    openai = await startMockOpenAI({ outputTokens: 2000, tokenIntervalMs: 10 });
    gemini = await startMockGemini({ outputTokens: 2000, tokenIntervalMs: 10 });
    sc = await startSpendcap(null, { pollMs: 100, baseUrls: { openai: `${openai.url}/v1`, gemini: gemini.url } });
  });
  after(async () => {
    await sc.close();
    await openai.close();
    await gemini.close();
  });

  test('Chat Completions: the stream ends with finish_reason cap_reached and [DONE]; the next request is refused', async () => {
    const token = await addKey(sc.dataDir, 'chat', 10, [], 'openai');
    const client = new OpenAI({ apiKey: token, baseURL: `${sc.url}/v1`, maxRetries: 0 });
    const stream = client.chat.completions.stream({ model: 'gpt-4.1-mini', messages: [{ role: 'user', content: 'go on' }] });
    let firstDelta!: () => void;
    const started = new Promise<void>((r) => (firstDelta = r));
    stream.on('content', () => firstDelta());
    const killedAt = killSoon(sc, 'chat', started);
    const final = await stream.finalChatCompletion();
    const endedAt = Date.now();
    assert.equal(final.choices[0]!.finish_reason, 'cap_reached');
    assert.match(final.choices[0]!.message.content ?? '', /killed/);
    assert.ok(endedAt - (await killedAt) < 1000, `cut ${endedAt - (await killedAt)} ms after the kill`);
    const before = openai.requests.length;
    await assert.rejects(client.chat.completions.create({ model: 'gpt-4.1-mini', messages: [{ role: 'user', content: 'again' }] }), /killed/);
    assert.equal(openai.requests.length, before);
  });

  test('Responses: the stream ends incomplete with the notice', async () => {
    const token = await addKey(sc.dataDir, 'resp', 10, [], 'openai');
    const client = new OpenAI({ apiKey: token, baseURL: `${sc.url}/v1`, maxRetries: 0 });
    const stream = client.responses.stream({ model: 'gpt-4.1-mini', input: 'go on' });
    let firstDelta!: () => void;
    const started = new Promise<void>((r) => (firstDelta = r));
    stream.on('response.output_text.delta', () => firstDelta());
    const killedAt = killSoon(sc, 'resp', started);
    const final = await stream.finalResponse();
    const endedAt = Date.now();
    assert.equal(final.status, 'incomplete');
    assert.match(final.incomplete_details?.reason ?? '', /killed/);
    assert.ok(endedAt - (await killedAt) < 1000, `cut ${endedAt - (await killedAt)} ms after the kill`);
  });

  test('Gemini: the iterator ends without throwing, finishReason OTHER', async () => {
    const token = await addKey(sc.dataDir, 'gem', 10, [], 'gemini');
    const ai = new GoogleGenAI({ apiKey: token, httpOptions: { baseUrl: sc.url } });
    let firstDelta!: () => void;
    const started = new Promise<void>((r) => (firstDelta = r));
    const killedAt = killSoon(sc, 'gem', started);
    let last: string | undefined;
    let text = '';
    for await (const chunk of await ai.models.generateContentStream({ model: 'gemini-2.5-flash', contents: 'go on' })) {
      firstDelta();
      text += chunk.text ?? '';
      last = chunk.candidates?.[0]?.finishReason ?? last;
    }
    const endedAt = Date.now();
    assert.equal(last, 'OTHER');
    assert.match(text, /killed/);
    assert.ok(endedAt - (await killedAt) < 1000, `cut ${endedAt - (await killedAt)} ms after the kill`);
  });
});
