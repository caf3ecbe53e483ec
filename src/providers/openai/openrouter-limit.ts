import { asRecord, str } from '../json.js';

/**
 * OpenRouter refuses a key past its credit limit (the limit `spendcap provider-key` set): documented
 * as 402 with `error.metadata.limit_source: "openrouter_key_limit"`, and seen as 403 "Key limit
 * exceeded". Other 402s (the account's credits, `openrouter_credits`) are not the key's cap and pass
 * through as OpenRouter sent them.
 */
export function isOpenRouterKeyLimit(status: number, body: Buffer): boolean {
  if (status !== 402 && status !== 403) return false;
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    return false;
  }
  const error = asRecord(asRecord(json)?.['error']);
  if (!error) return false;
  const source = str(asRecord(error['metadata'])?.['limit_source']);
  if (source !== undefined) return source === 'openrouter_key_limit';
  return /key limit exceeded/i.test(str(error['message']) ?? '');
}
