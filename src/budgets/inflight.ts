/**
 * How many output tokens a stream may have in flight: produced by the provider but not yet read by
 * spendcap, or produced between the moment spendcap decides to cut and the moment the provider
 * stops. That is the stream's token rate times the time an abort takes to take effect, not a fixed
 * count per stream: a fixed 128 tokens per stream fragments a small cap shared by many streams.
 *
 * The rate is the larger of the stream's rate over its whole life and its gain over the last
 * `latencyMs` (a burst, or spendcap reading late under load, shows there at once). Until a stream
 * has produced anything, only `minTokens` is held: the first chunk is read before it is paid for
 * beyond that, and the hold grows (or the stream is cut) on it.
 */
export class InflightMargin {
  #firstAt: number | null = null;
  #firstTokens = 0;
  /** Samples (time, tokens) of the last `latencyMs`, oldest first. */
  readonly #samples: { t: number; tokens: number }[] = [];

  constructor(
    /** Tokens always held ahead, whatever the rate. */
    readonly minTokens: number,
    /** How long an abort may take to stop the provider, ms. */
    public latencyMs: number,
  ) {}

  /** Records the stream's output token count (seen or estimated) at `now`. */
  observe(now: number, tokens: number): void {
    if (this.#firstAt === null) {
      if (tokens <= 0) return;
      this.#firstAt = now;
      this.#firstTokens = 0;
    }
    const s = this.#samples;
    s.push({ t: now, tokens });
    // Keep one sample at or before the window's start so the window's gain is measured from it.
    while (s.length > 2 && s[1]!.t <= now - this.latencyMs) s.shift();
  }

  /** Output tokens to hold ahead of `tokens` at `now` (`maxTokensPerSecond`: see inFlight). */
  tokens(now: number, tokens: number, maxTokensPerSecond?: number): number {
    if (this.#firstAt === null) return this.minTokens;
    return this.minTokens + this.inFlight(now, tokens, maxTokensPerSecond);
  }

  /**
   * Output tokens to charge a stream cut at `now` beyond what it read: rate × abort latency only. The
   * fixed `minTokens` is held ahead for the next chunk, which a cut never reads; a stream that had
   * produced nothing yet is charged `minTokens` (its first chunk may be on the way).
   */
  chargeTokens(now: number, tokens: number, maxTokensPerSecond?: number): number {
    return this.#firstAt === null ? this.minTokens : this.inFlight(now, tokens, maxTokensPerSecond);
  }

  /**
   * Rate × latency, the larger of the lifetime and the last-window rate. When the meter bounds the
   * provider's speed (`maxTokensPerSecond`: its clock already counts the time since the last chunk at
   * that speed), the last window's gain counts up to that speed only: a count that grows with the
   * clock, or a burst read late under load, is not a faster provider. The lifetime rate is not
   * bounded: a provider measured faster than the bound over its whole stream is that fast.
   */
  inFlight(now: number, tokens: number, maxTokensPerSecond?: number): number {
    if (this.#firstAt === null) return 0;
    const latency = Math.max(1, this.latencyMs);
    const elapsed = Math.max(latency, now - this.#firstAt);
    const lifetime = ((tokens - this.#firstTokens) * latency) / elapsed;
    const s = this.#samples;
    const windowStart = s.length > 0 && s[0]!.t <= now - latency ? s[0]!.tokens : 0;
    const recent = tokens - windowStart;
    // The lifetime rate is what the provider really did; only the last window's burst is bounded.
    const bound = maxTokensPerSecond !== undefined && maxTokensPerSecond > 0 ? (maxTokensPerSecond * latency) / 1000 : Infinity;
    return Math.ceil(Math.max(lifetime, Math.min(recent, bound), 0));
  }
}

/**
 * How often a stream whose output may be hidden (thinking, reasoning, Gemini between chunks) has its
 * hold re-checked between events, ms. Short, so that the margin held for the unseen output between
 * two checks is small: with many streams on a small cap, a fixed 128 tokens each wasted a quarter of it.
 */
export const HIDDEN_CLOCK_MS = 25;

/**
 * Output tokens a stream with hidden output holds ahead at the least: what the provider may generate
 * unseen until the next check, at the meter's clock rate (itself about twice the fastest real speed),
 * over two clock periods (a timer fires late under load). Past the first period a late check is
 * covered by the clock rate's own excess: the hold counts elapsed × rate, the bill grows at most half
 * as fast. A meter that states no rate keeps the former fixed 128 tokens.
 */
export function hiddenMarginTokens(tokensPerSecond: number | undefined): number {
  if (tokensPerSecond === undefined || !(tokensPerSecond > 0)) return 128;
  return Math.ceil((tokensPerSecond * 2 * HIDDEN_CLOCK_MS) / 1000);
}

/** How many recent answers of one upstream the latency floor remembers. */
const LATENCY_SAMPLES = 32;

/**
 * The round trip of one upstream, from its recent times to headers: their minimum. A request's own
 * time to headers also counts the provider queueing it and reading its prompt (and, under load, a
 * busy event loop at either end): an abort waits for none of that, only for the way there and the
 * provider's reaction, which the quickest recent answer bounds. Recent only (a ring of the last
 * LATENCY_SAMPLES), so a path that got slower raises it again within as many requests.
 */
export class UpstreamLatency {
  readonly #samples: number[] = [];
  #next = 0;

  observe(ms: number): void {
    if (!(ms >= 0)) return;
    if (this.#samples.length < LATENCY_SAMPLES) this.#samples.push(ms);
    else this.#samples[this.#next] = ms;
    this.#next = (this.#next + 1) % LATENCY_SAMPLES;
  }

  /** The quickest recent answer, or `fallback` before any. */
  floor(fallback: number): number {
    return this.#samples.length === 0 ? fallback : Math.min(...this.#samples);
  }
}
