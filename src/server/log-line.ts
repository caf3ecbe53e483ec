/**
 * What the server prints is built from client and provider text (URLs, model names, error
 * messages): every line goes through here so no credential reaches the terminal and no control
 * character can forge a line or repaint it.
 */

const CREDENTIALS: readonly [RegExp, string][] = [
  // A credential in a query: Gemini's ?key=, and the usual token parameters.
  [/([?&](?:key|api_key|apikey|token|access_token|auth)=)[^&#\s]*/gi, '$1[redacted]'],
  [/(Bearer\s+)[^\s,;]+/gi, '$1[redacted]'],
  // spendcap keys (sc-…), OpenAI/Anthropic/OpenRouter keys (sk-…), Google API keys (AIza…).
  [/\b(sc|sk)-[A-Za-z0-9_-]{6,}/g, '$1-[redacted]'],
  [/\bAIza[0-9A-Za-z_-]{20,}/g, 'AIza[redacted]'],
];

export function redactCredentials(text: string): string {
  let out = text;
  for (const [re, by] of CREDENTIALS) out = out.replace(re, by);
  return out;
}

/**
 * C0/C1 controls, DEL, and the Unicode line separators and bidi overrides that reorder what a
 * terminal shows: each becomes a visible escape, so one log line stays one honest line.
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

export function escapeControl(text: string): string {
  return text.replace(UNSAFE, (c) => NAMED[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** One line as the server prints it: credentials redacted, control characters escaped. */
export function safeLogLine(text: string): string {
  return escapeControl(redactCredentials(text));
}
