import type { Micros } from '../pricing/index.js';

export type GrowthPlan =
  | { action: 'keep' }
  | { action: 'grow'; extraMicros: Micros }
  | { action: 'shrink'; releaseMicros: Micros }
  | { action: 'cut' };

/**
 * How a request's hold follows its running cost.
 * - `neededMicros`: what the hold must cover now (known cost so far + the in-flight margin).
 * - grows ahead by `stepMicros` so the store is touched once per step, not per token; near the cap it
 *   takes only what is left, so concurrent streams can use the cap to the last margin.
 * - shrinks when the first estimate was far too high (the provider's exact input count arrived),
 *   giving the room back to other requests.
 * - cut when even `neededMicros` does not fit.
 */
export function planGrowth(heldMicros: Micros, neededMicros: Micros, stepMicros: Micros, roomMicros: Micros): GrowthPlan {
  if (neededMicros > heldMicros) {
    const minimum = neededMicros - heldMicros;
    if (roomMicros < minimum) return { action: 'cut' };
    return { action: 'grow', extraMicros: Math.min(roomMicros, minimum + stepMicros) };
  }
  const spare = heldMicros - neededMicros;
  if (spare > 2 * stepMicros) return { action: 'shrink', releaseMicros: spare - stepMicros };
  return { action: 'keep' };
}
