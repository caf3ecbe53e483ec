/**
 * Rewrites a JSON request body so the provider itself stops after `tokens` output tokens (the
 * budgets' max_tokens clamp). Each protocol names the limit differently; these are plain functions
 * over the parsed body, so the adapters stay one-liners.
 */
type Body = Record<string, unknown>;

function edit(body: Buffer, change: (req: Body) => boolean): Buffer | null {
  let req: unknown;
  try {
    req = JSON.parse(body.toString('utf8'));
  } catch {
    return null;
  }
  if (typeof req !== 'object' || req === null || Array.isArray(req)) return null;
  return change(req as Body) ? Buffer.from(JSON.stringify(req)) : null;
}

/** Anthropic's smallest thinking budget: below it a request with thinking cannot be clamped. */
const MIN_THINKING_BUDGET = 1024;

/** Messages: max_tokens, which also bounds thinking; budget_tokens must stay below it. */
export function anthropicOutputLimit(body: Buffer, tokens: number): Buffer | null {
  return edit(body, (req) => {
    const thinking = req['thinking'] as { type?: unknown; budget_tokens?: unknown } | undefined;
    if (thinking?.type === 'enabled' && typeof thinking.budget_tokens === 'number' && thinking.budget_tokens >= tokens) {
      if (tokens - 1 < MIN_THINKING_BUDGET) return false;
      thinking.budget_tokens = tokens - 1;
    }
    req['max_tokens'] = tokens;
    return true;
  });
}

/** Chat Completions: the field the client used (max_completion_tokens counts reasoning too), else the current one. */
export function chatOutputLimit(body: Buffer, tokens: number): Buffer | null {
  return edit(body, (req) => {
    if (req['max_tokens'] !== undefined && req['max_completion_tokens'] === undefined) req['max_tokens'] = tokens;
    else req['max_completion_tokens'] = tokens;
    return true;
  });
}

/** Responses: max_output_tokens (reasoning included). */
export function responsesOutputLimit(body: Buffer, tokens: number): Buffer | null {
  return edit(body, (req) => {
    req['max_output_tokens'] = tokens;
    return true;
  });
}

/** Gemini: generationConfig.maxOutputTokens; a thinking budget above it is lowered with it. */
export function geminiOutputLimit(body: Buffer, tokens: number): Buffer | null {
  return edit(body, (req) => {
    const config = (typeof req['generationConfig'] === 'object' && req['generationConfig'] !== null ? req['generationConfig'] : {}) as Body;
    config['maxOutputTokens'] = tokens;
    const thinking = config['thinkingConfig'] as { thinkingBudget?: unknown } | undefined;
    if (thinking && typeof thinking.thinkingBudget === 'number' && thinking.thinkingBudget > tokens) thinking.thinkingBudget = tokens;
    req['generationConfig'] = config;
    return true;
  });
}
