import type { Usage } from '../../pricing/types.js';
import { asRecord } from '../json.js';
import { usageFromAnthropic } from './stream-meter.js';

/**
 * Usage of a non-streamed Messages response ({type:"message", …, usage:{…}}), with the same field
 * mapping as the stream meter. Null when there is no usage object (not a message, or an error body).
 */
export function usageFromMessageJson(json: unknown): Usage | null {
  const u = asRecord(asRecord(json)?.['usage']);
  return u ? usageFromAnthropic(u) : null;
}
