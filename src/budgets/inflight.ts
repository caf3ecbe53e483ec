/**
 * How many output tokens a stream may have in flight: produced by the provider but not yet read by
 * spendcap, or produced between the moment spendcap decides to cut and the moment the provider
 * stops. That is the stream's token rate times the time an abort takes to take effect, not a fixed
 * count per stream: a fixed 128 tokens per stream fragments a small cap shared by many streams.
 *
 * The time is the abort latency plus the event loop's lag (see LoopLag): under load spendcap reads
 * the upstream late, and the provider bills what it wrote meanwhile. The rate is the larger of the
 * stream's rate over its whole life and its gain over that horizon (a burst, or spendcap reading late
 * under load, shows there at once). Until a stream
 * has produced anything, only `minTokens` is held: the first chunk is read before it is paid for
 * beyond that, and the hold grows (or the stream is cut) on it.
 */
export class InflightMargin {
  #firstAt: number | null = null;
  #firstTokens = 0;
  /** Samples (time, tokens) of the last horizon, oldest first. */
  readonly #samples: { t: number; tokens: number }[] = [];

  constructor(
    /** Tokens always held ahead, whatever the rate. */
    readonly minTokens: number,
    /** How long an abort may take to stop the provider, ms. */
    public latencyMs: number,
    /**
     * How late spendcap may read the upstream, ms (the event loop's lag, see LoopLag): the provider keeps
     * writing, and billing, meanwhile, so the hold covers the rate over it too.
     */
    public lagMs = 0,
    /**
     * Tokens/ms recent streams of the same upstream ran at (see UpstreamRate), 0 when none: until a
     * stream is older than the horizon its own rate says nothing (its first read after a stall is a
     * burst of unknown age), and what it may have in flight is at least this rate over the horizon.
     */
    public priorTokensPerMs = 0,
    /** How late spendcap reads right now, ms (LoopLag.currentLagMs): the backlog a cut leaves behind its event. */
    public currentLagMs = 0,
    /** The fastest this provider generates, tokens/ms (see MAX_GENERATION_TOKENS_PER_MS): what a stall can add to its bill per ms. */
    public generationTokensPerMs = MAX_GENERATION_TOKENS_PER_MS,
  ) {}

  /** How far ahead the hold looks: the abort latency and the loop's lag. */
  get horizonMs(): number {
    return Math.max(1, this.latencyMs + Math.max(0, this.lagMs));
  }

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
    const horizon = this.horizonMs;
    while (s.length > 2 && s[1]!.t <= now - horizon) s.shift();
  }

  /** Output tokens to hold ahead of `tokens` at `now` (`maxTokensPerSecond`: see inFlight). */
  tokens(now: number, tokens: number, maxTokensPerSecond?: number): number {
    if (this.#firstAt === null) return this.minTokens + this.#prior();
    return this.minTokens + this.inFlight(now, tokens, maxTokensPerSecond, this.horizonMs);
  }

  /** The upstream's recent rate over the horizon: what a stream too young to know its own may have in flight. */
  #prior(): number {
    const p = Math.max(0, this.priorTokensPerMs);
    return Math.ceil(Math.min(p * this.horizonMs, p * this.latencyMs + this.generationTokensPerMs * Math.max(0, this.lagMs)));
  }

  /** The stream's rate over its life up to its last observation, tokens/ms, once that spans `minAgeMs`; null before. */
  lifetimeTokensPerMs(minAgeMs: number): number | null {
    const last = this.#samples[this.#samples.length - 1];
    if (this.#firstAt === null || last === undefined || last.t - this.#firstAt < minAgeMs) return null;
    return (last.tokens - this.#firstTokens) / (last.t - this.#firstAt);
  }

  /**
   * Output tokens to charge a stream cut at `now` beyond what it read: rate × (abort latency + how
   * late spendcap reads right now). The lag counts here too: the cut lands on the first event past the
   * hold, and when spendcap read late, the events the provider wrote after it are already in
   * spendcap's socket (one read holds many), billed and never counted; they waited at most the
   * current lag. The fixed `minTokens` is held ahead for the next chunk, which a cut never reads; a
   * stream that had produced nothing yet is charged `minTokens` or the upstream's rate over the horizon.
   */
  chargeTokens(now: number, tokens: number, maxTokensPerSecond?: number): number {
    const horizon = Math.max(1, this.latencyMs + Math.max(0, Math.min(this.lagMs, this.currentLagMs)));
    if (this.#firstAt === null) return this.#unstartedCharge(horizon);
    return this.inFlight(now, tokens, maxTokensPerSecond, horizon);
  }

  /** A cut stream that had produced nothing yet: `minTokens`, or the upstream's rate over the horizon. */
  #unstartedCharge(horizonMs: number): number {
    return Math.max(this.minTokens, Math.ceil(Math.max(0, this.priorTokensPerMs) * horizonMs));
  }

  /**
   * Output tokens to charge a stream cut once spendcap has read the whole socket read that brought the
   * cut (see StreamRelay): nothing is left behind that read, so only the abort latency is in flight,
   * not the loop's lag. That read came late when the loop lagged, and its tokens show as one burst in
   * the last window: a burst of tokens the provider wrote over the lag, so the window's gain counts up
   * to what the provider can generate over the latency (`generationTokensPerMs`). Its lifetime rate is
   * not bounded. A stream that had produced nothing yet is charged as in chargeTokens.
   */
  chargeAfterReadTokens(now: number, tokens: number): number {
    const horizon = Math.max(1, this.latencyMs);
    if (this.#firstAt === null) return this.#unstartedCharge(horizon);
    return this.#measured(now, tokens, this.generationTokensPerMs * 1000, horizon);
  }

  /**
   * Rate × `horizonMs` (by default the abort latency), the larger of the lifetime and the last-horizon
   * rate. When the meter bounds the provider's speed (`maxTokensPerSecond`: its clock already counts
   * the time since the last chunk at that speed), the last window's gain counts up to that speed only:
   * a count that grows with the clock, or a burst read late under load, is not a faster provider. The
   * lifetime rate is not bounded: a provider measured faster than the bound over its whole stream is
   * that fast.
   */
  inFlight(now: number, tokens: number, maxTokensPerSecond?: number, horizonMs: number = this.latencyMs): number {
    if (this.#firstAt === null) return 0;
    const over = this.#measured(now, tokens, maxTokensPerSecond, horizonMs);
    const lagMs = horizonMs - this.latencyMs;
    if (lagMs <= 0) return over;
    // Over the lag the provider bills what it generates, at most `generationTokensPerMs`: a stream read
    // faster than that (a burst, or a mock writing flat out) is not generating faster meanwhile.
    return Math.min(over, this.#measured(now, tokens, maxTokensPerSecond, this.latencyMs) + Math.ceil(this.generationTokensPerMs * lagMs));
  }

  #measured(now: number, tokens: number, maxTokensPerSecond: number | undefined, horizonMs: number): number {
    const firstAt = this.#firstAt ?? now;
    const horizon = Math.max(1, horizonMs);
    const elapsed = Math.max(horizon, now - firstAt);
    const lifetime = ((tokens - this.#firstTokens) * horizon) / elapsed;
    const s = this.#samples;
    // The gain over the last horizon, from the newest sample at or before its start (none: all of it).
    const i = lastAtOrBefore(s, now - horizon);
    const recent = tokens - (i < 0 ? 0 : s[i]!.tokens);
    // The lifetime rate is what the provider really did; only the last window's burst is bounded.
    const bound = maxTokensPerSecond !== undefined && maxTokensPerSecond > 0 ? (maxTokensPerSecond * horizon) / 1000 : Infinity;
    // Younger than the horizon, its own rate is one burst of unknown age: the upstream's recent rate stands in.
    const prior = now - firstAt < horizon ? Math.max(0, this.priorTokensPerMs) * horizon : 0;
    return Math.ceil(Math.max(lifetime, Math.min(recent, bound), prior, 0));
  }
}

/**
 * The fastest a provider generates, tokens/ms, when its meter states no clock rate: hosts built for
 * speed reach about 3,000 tokens/s (the hidden-output clock's rate for them). It bounds what a stall
 * can add to the bill, not the rate a stream is read at.
 */
export const MAX_GENERATION_TOKENS_PER_MS = 3;

/**
 * The generation bound for a meter: its clock rate (about twice the fastest real speed of its models:
 * Claude 400 tokens/s, OpenAI 500, Gemini 1,000, fast routed hosts 3,000), and never under 1 token/ms.
 */
export function generationTokensPerMs(clockTokensPerSecond: number | undefined): number {
  if (clockTokensPerSecond === undefined || !(clockTokensPerSecond > 0)) return MAX_GENERATION_TOKENS_PER_MS;
  return Math.max(1, clockTokensPerSecond / 1000);
}

/** Index of the last sample at or before `t` (samples in time order), -1 when none: a binary search, the list is long under lag. */
function lastAtOrBefore(s: readonly { t: number }[], t: number): number {
  let lo = 0;
  let hi = s.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (s[mid]!.t <= t) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
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
 * over two clock periods (a timer fires late under load) plus the event loop's recent lag (`lagMs`, see
 * LoopLag: a starved loop runs the next check that much later, and the provider bills meanwhile). Past
 * the first period a late check is covered by the clock rate's own excess: the hold counts elapsed ×
 * rate, the bill grows at most half as fast. A meter that states no rate keeps the former fixed 128 tokens.
 */
export function hiddenMarginTokens(tokensPerSecond: number | undefined, lagMs = 0): number {
  if (tokensPerSecond === undefined || !(tokensPerSecond > 0)) return 128;
  return Math.ceil((tokensPerSecond * (2 * HIDDEN_CLOCK_MS + Math.max(0, lagMs))) / 1000);
}

/** How many recent streams of one upstream the rate prior remembers. */
const RATE_SAMPLES = 32;

/**
 * How fast one upstream's recent streams ran, tokens/ms over each one's life: the fastest of the last
 * RATE_SAMPLES. A stream too young to know its own rate holds this one over its horizon.
 */
export class UpstreamRate {
  readonly #samples: number[] = [];
  #next = 0;

  observe(tokensPerMs: number): void {
    if (!(tokensPerMs >= 0) || !Number.isFinite(tokensPerMs)) return;
    if (this.#samples.length < RATE_SAMPLES) this.#samples.push(tokensPerMs);
    else this.#samples[this.#next] = tokensPerMs;
    this.#next = (this.#next + 1) % RATE_SAMPLES;
  }

  /** The fastest recent stream, 0 before any. */
  fastest(): number {
    return this.#samples.length === 0 ? 0 : Math.max(...this.#samples);
  }
}

/** How many recent answers of one upstream the latency floor remembers at least. */
const LATENCY_SAMPLES = 32;
/** And for how long it remembers every answer, however many came since (kept as one minimum a second). */
export const LATENCY_WINDOW_MS = 60_000;
const LATENCY_BUCKET_MS = 1000;

/**
 * The round trip of one upstream, from its recent times to headers: their minimum. A request's own
 * time to headers also counts the provider queueing it and reading its prompt (and, under load, a
 * busy event loop at either end): an abort waits for none of that, only for the way there and the
 * provider's reaction, which the quickest recent answer bounds. Recent: the last LATENCY_SAMPLES
 * answers, and every answer of the last LATENCY_WINDOW_MS. The window is why a burst (64 requests
 * queued behind each other at the provider, each answered late) does not push the quiet answers out
 * within a second; the count is why a quiet upstream keeps one. A path that got slower raises the
 * floor again once both have passed.
 */
export class UpstreamLatency {
  readonly #samples: number[] = [];
  #next = 0;
  /** One minimum a second over the window: [second, ms], oldest first. */
  readonly #window: Array<[number, number]> = [];

  observe(ms: number, now: number = Date.now()): void {
    if (!(ms >= 0)) return;
    if (this.#samples.length < LATENCY_SAMPLES) this.#samples.push(ms);
    else this.#samples[this.#next] = ms;
    this.#next = (this.#next + 1) % LATENCY_SAMPLES;
    this.#remember(ms, now);
  }

  /** The quickest answer of the last LATENCY_SAMPLES and of the last LATENCY_WINDOW_MS, or `fallback` before any. */
  floor(fallback: number, now: number = Date.now()): number {
    if (this.#samples.length === 0) return fallback;
    this.#forget(now);
    let least = Math.min(...this.#samples);
    for (const [, ms] of this.#window) least = Math.min(least, ms);
    return least;
  }

  #remember(ms: number, now: number): void {
    const second = Math.floor(now / LATENCY_BUCKET_MS);
    const last = this.#window[this.#window.length - 1];
    if (last !== undefined && last[0] === second) last[1] = Math.min(last[1], ms);
    else this.#window.push([second, ms]);
    this.#forget(now);
  }

  #forget(now: number): void {
    // A second counts while any part of it is within the window: an answer stays up to a second longer.
    const oldest = Math.floor((now - LATENCY_WINDOW_MS) / LATENCY_BUCKET_MS);
    while (this.#window.length > 0 && this.#window[0]![0] < oldest) this.#window.shift();
  }
}
