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

  /** Output tokens to hold ahead of `tokens` at `now`. */
  tokens(now: number, tokens: number): number {
    if (this.#firstAt === null) return this.minTokens;
    const latency = Math.max(1, this.latencyMs);
    const elapsed = Math.max(latency, now - this.#firstAt);
    const lifetime = ((tokens - this.#firstTokens) * latency) / elapsed;
    const s = this.#samples;
    const windowStart = s.length > 0 && s[0]!.t <= now - latency ? s[0]!.tokens : 0;
    const recent = tokens - windowStart;
    return this.minTokens + Math.ceil(Math.max(lifetime, recent, 0));
  }
}
