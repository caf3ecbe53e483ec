import type { GeminiStreamMeter } from './stream-meter.js';

/**
 * finishReason of a stream spendcap cut. OTHER is in the SDKs' enum and read as an abnormal end;
 * MAX_TOKENS is not used because agents answer it by asking again with a larger limit. The one
 * place to change it.
 */
export const CUT_FINISH_REASON = 'OTHER';

/** One SSE event as Gemini frames it: data-only, ended by CRLF CRLF. */
export function geminiSseEvent(payload: unknown): string {
  return `data: ${JSON.stringify(payload)}\r\n\r\n`;
}

/**
 * The SSE text spendcap appends after the last complete chunk it forwarded: one more chunk that
 * gives every unfinished candidate the notice as a text part, `finishReason` and `finishMessage`,
 * and usageMetadata with what spendcap charged for. Gemini sends each functionCall part whole in
 * one chunk and spendcap only ever forwards whole events, so no call can be left truncated.
 *
 * Returns '' when the stream already ended (all candidates finished, or an error was forwarded).
 */
export function buildGeminiCutTail(meter: GeminiStreamMeter, notice: string, finishReason: string): string {
  if (meter.complete || meter.sawError) return '';
  const indexes = meter.candidates.size > 0 ? [...meter.candidates].sort((a, b) => a - b) : [0];
  const candidates = indexes
    .filter((index) => !meter.finished.has(index))
    .map((index) => ({
      content: { parts: [{ text: meter.candidates.size > 0 ? `\n\n${notice}` : notice }], role: 'model' },
      finishReason,
      finishMessage: notice,
      index,
    }));
  const c = meter.counts;
  const output = meter.outputTokensForHold();
  const thoughts = Math.min(output, Math.max(c.thoughts, output - meter.answerTokens()));
  const usageMetadata: Record<string, unknown> = {
    promptTokenCount: c.prompt,
    candidatesTokenCount: output - thoughts,
    totalTokenCount: c.prompt + c.toolUsePrompt + output,
  };
  if (c.cached > 0) usageMetadata['cachedContentTokenCount'] = c.cached;
  if (c.toolUsePrompt > 0) usageMetadata['toolUsePromptTokenCount'] = c.toolUsePrompt;
  if (thoughts > 0) usageMetadata['thoughtsTokenCount'] = thoughts;
  const chunk: Record<string, unknown> = { candidates, usageMetadata };
  if (meter.model !== undefined) chunk['modelVersion'] = meter.model;
  if (meter.responseId !== undefined) chunk['responseId'] = meter.responseId;
  return geminiSseEvent(chunk);
}
