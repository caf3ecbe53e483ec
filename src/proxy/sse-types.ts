/** One Server-Sent Event as dispatched by a blank line. */
export interface SseEvent {
  /** The `event:` field; undefined when the event had none (data-only streams). */
  event: string | undefined;
  /** The `data:` lines joined by "\n" (empty string when there were none). */
  data: string;
  /** Set only for a comment line (`: keep-alive`), and only by a parser asked to keep comments. */
  comment?: string;
}
