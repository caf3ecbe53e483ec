import type { IncomingHttpHeaders } from 'node:http';

/**
 * Where clients of the protocols spendcap speaks put their API key: Anthropic's x-api-key,
 * OpenAI's Authorization: Bearer, Gemini's x-goog-api-key or ?key=. The spendcap key arrives in
 * one of them; none of them is ever forwarded (the adapter adds the provider key upstream).
 */
export const CREDENTIAL_HEADERS: readonly string[] = ['x-api-key', 'authorization', 'x-goog-api-key'];
export const CREDENTIAL_QUERY_PARAMS: readonly string[] = ['key'];

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined || s.trim() === '' ? undefined : s.trim();
}

/** The spendcap key the client sent, wherever its SDK puts an API key. */
export function credentialFrom(headers: IncomingHttpHeaders, query: URLSearchParams): string | undefined {
  const apiKey = header(headers, 'x-api-key') ?? header(headers, 'x-goog-api-key');
  if (apiKey !== undefined) return apiKey;
  const auth = header(headers, 'authorization');
  const bearer = auth === undefined ? null : /^Bearer\s+(\S+)$/i.exec(auth);
  if (bearer?.[1] !== undefined) return bearer[1];
  const q = query.get('key');
  return q === null || q.trim() === '' ? undefined : q.trim();
}

/** The raw query ("" or "?…") without the credential parameters; untouched when it has none. */
export function queryWithoutCredentials(rawQuery: string): string {
  const query = new URLSearchParams(rawQuery);
  if (!CREDENTIAL_QUERY_PARAMS.some((p) => query.has(p))) return rawQuery;
  for (const p of CREDENTIAL_QUERY_PARAMS) query.delete(p);
  const s = query.toString();
  return s === '' ? '' : `?${s}`;
}
