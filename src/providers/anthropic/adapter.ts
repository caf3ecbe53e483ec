import type { IncomingHttpHeaders } from 'node:http';
import type { ProviderAdapter } from '../types.js';
import { anthropicErrorReply } from './errors.js';
import { parseMessagesRequest } from './request.js';
import { AnthropicStreamMeter } from './stream-meter.js';
import { tokenizerFactor } from './tokenizer.js';
import { usageFromMessageJson } from './usage.js';

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined || s.trim() === '' ? undefined : s.trim();
}

export const anthropicAdapter: ProviderAdapter = {
  id: 'anthropic',
  // The SDKs send x-api-key (apiKey) or Authorization: Bearer (authToken; SDK 1.x sends apiKey this way too).
  credentialFrom(headers) {
    const key = header(headers, 'x-api-key');
    if (key !== undefined) return key;
    const auth = header(headers, 'authorization');
    const m = auth === undefined ? null : /^Bearer\s+(\S+)$/i.exec(auth);
    return m?.[1];
  },
  authHeaders(providerKey) {
    return { 'x-api-key': providerKey };
  },
  credentialHeaders: ['x-api-key', 'authorization'],
  parseRequest: parseMessagesRequest,
  newStreamMeter: (info) => new AnthropicStreamMeter(tokenizerFactor(info.model)),
  usageFromJson: usageFromMessageJson,
  errorReply: anthropicErrorReply,
};
