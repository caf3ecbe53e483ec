import type { Nanos } from '../pricing/index.js';

export type GrowthPlan =
  | { action: 'keep' }
  | { action: 'grow'; extraNanos: Nanos }
  | { action: 'shrink'; releaseNanos: Nanos }
  | { action: 'cut' };

/**
 * How a request's hold follows its running cost.
 * - `neededNanos`: what the hold must cover now (known cost so far + the in-flight margin).
 * - grows ahead by `stepNanos` so the store is touched once per step, not per token; near the cap it
 *   takes only what is left, so concurrent streams can use the cap to the last margin.
 * - shrinks when the first estimate was far too high (the provider's exact input count arrived),
 *   giving the room back to other requests.
 * - cut when even `neededNanos` does not fit.
 */
export function planGrowth(heldNanos: Nanos, neededNanos: Nanos, stepNanos: Nanos, roomNanos: Nanos): GrowthPlan {
  if (neededNanos > heldNanos) {
    const minimum = neededNanos - heldNanos;
    if (roomNanos < minimum) return { action: 'cut' };
    return { action: 'grow', extraNanos: Math.min(roomNanos, minimum + stepNanos) };
  }
  const spare = heldNanos - neededNanos;
  if (spare > 2 * stepNanos) return { action: 'shrink', releaseNanos: spare - stepNanos };
  return { action: 'keep' };
}
