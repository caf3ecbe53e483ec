/**
 * Follows the streamed JSON of a tool_use block (input_json_delta fragments) so a cut can close it.
 *
 * Why: a client that runs tool calls as soon as their block stops (Claude Code does) would run a
 * half-written call: the SDK's partial-JSON parser keeps every complete field, so a cut after
 * `{"command":"rm -rf build"` yields a runnable command whose later fields (flags, a second path,
 * the rest of an edit list) never arrived. The closer turns the input into valid JSON in which every
 * top-level field seen is overridden by null (JSON.parse keeps the last duplicate key) and a marker
 * field is added, so schema validation rejects the call instead of running it.
 *
 * A character state machine with O(depth) memory plus the top-level key names; no buffering of
 * the input itself.
 */

/** The marker field added to a cut tool input. */
export const CUT_INPUT_MARKER = 'spendcap_truncated';

const MAX_KEYS = 64;
const MAX_KEY_CHARS = 256;

// Where the parser is, relative to the innermost open container.
const S_TOP = 0; // before the top-level value
const S_DONE = 1; // the top-level value is complete
const S_OBJ_FIRST = 2; // after '{': a key or '}'
const S_OBJ_KEY = 3; // after ',': a key
const S_OBJ_COLON = 4; // after a key: ':'
const S_OBJ_VALUE = 5; // after ':': a value
const S_OBJ_NEXT = 6; // after a value: ',' or '}'
const S_ARR_FIRST = 7; // after '[': a value or ']'
const S_ARR_VALUE = 8; // after ',': a value
const S_ARR_NEXT = 9; // after a value: ',' or ']'
const S_INVALID = 10;

const OBJ = 0;
const ARR = 1;

export class ToolInputTracker {
  private state = S_TOP;
  /** Open containers, outermost first. */
  private readonly stack: number[] = [];
  private inString = false;
  private stringIsKey = false;
  /** After a backslash inside a string. */
  private escape = false;
  /** Hex digits of a \uXXXX escape still expected. */
  private hex = 0;
  private inNumber = false;
  private lastNumberChar = 0;
  /** Rest of a literal (true/false/null) still expected. */
  private literalRest = '';
  /** Raw (still JSON-escaped) text of the top-level key being read, and the keys seen. */
  private key = '';
  private readonly keys: string[] = [];

  feed(s: string): void {
    for (let i = 0; i < s.length; i++) {
      if (this.state === S_INVALID) return;
      this.step(s.charCodeAt(i));
    }
  }

  private step(c: number): void {
    if (this.inString) {
      const collect = this.stringIsKey && this.stack.length === 1;
      if (this.hex > 0) this.hex--;
      else if (this.escape) {
        this.escape = false;
        if (c === 0x75 /* u */) this.hex = 4;
      } else if (c === 0x5c /* \ */) this.escape = true;
      else if (c === 0x22 /* " */) {
        this.inString = false;
        if (this.stringIsKey) {
          if (this.stack.length === 1 && this.keys.length < MAX_KEYS && this.key.length <= MAX_KEY_CHARS && !this.keys.includes(this.key)) {
            this.keys.push(this.key);
          }
          this.state = S_OBJ_COLON;
        } else this.afterValue();
        return;
      }
      if (collect && this.key.length <= MAX_KEY_CHARS) this.key += String.fromCharCode(c);
      return;
    }
    if (this.inNumber) {
      if ((c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b || c === 0x2d) {
        this.lastNumberChar = c;
        return;
      }
      this.inNumber = false;
      this.afterValue();
    }
    if (this.literalRest !== '') {
      if (c !== this.literalRest.charCodeAt(0)) {
        this.state = S_INVALID;
        return;
      }
      this.literalRest = this.literalRest.slice(1);
      if (this.literalRest === '') this.afterValue();
      return;
    }
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) return;

    switch (this.state) {
      case S_TOP:
      case S_OBJ_VALUE:
      case S_ARR_VALUE:
      case S_ARR_FIRST:
        if (c === 0x5d /* ] */ && this.state === S_ARR_FIRST) return this.pop();
        return this.startValue(c);
      case S_OBJ_FIRST:
      case S_OBJ_KEY:
        if (c === 0x22) {
          this.inString = true;
          this.stringIsKey = true;
          this.key = '';
          return;
        }
        if (c === 0x7d /* } */ && this.state === S_OBJ_FIRST) return this.pop();
        break;
      case S_OBJ_COLON:
        if (c === 0x3a) {
          this.state = S_OBJ_VALUE;
          return;
        }
        break;
      case S_OBJ_NEXT:
        if (c === 0x2c) {
          this.state = S_OBJ_KEY;
          return;
        }
        if (c === 0x7d) return this.pop();
        break;
      case S_ARR_NEXT:
        if (c === 0x2c) {
          this.state = S_ARR_VALUE;
          return;
        }
        if (c === 0x5d) return this.pop();
        break;
    }
    this.state = S_INVALID;
  }

  private startValue(c: number): void {
    if (c === 0x7b /* { */) {
      this.stack.push(OBJ);
      this.state = S_OBJ_FIRST;
    } else if (c === 0x5b /* [ */) {
      this.stack.push(ARR);
      this.state = S_ARR_FIRST;
    } else if (c === 0x22) {
      this.inString = true;
      this.stringIsKey = false;
    } else if ((c >= 0x30 && c <= 0x39) || c === 0x2d) {
      this.inNumber = true;
      this.lastNumberChar = c;
    } else if (c === 0x74) this.literalRest = 'rue';
    else if (c === 0x66) this.literalRest = 'alse';
    else if (c === 0x6e) this.literalRest = 'ull';
    else this.state = S_INVALID;
  }

  private pop(): void {
    this.stack.pop();
    this.afterValue();
  }

  private afterValue(): void {
    const top = this.stack[this.stack.length - 1];
    this.state = top === undefined ? S_DONE : top === OBJ ? S_OBJ_NEXT : S_ARR_NEXT;
  }

  /**
   * JSON text that, appended to what was fed, makes a valid object whose top-level fields seen so
   * far are all null, plus `"spendcap_truncated": true`. Empty when the input is already complete
   * (nothing can be appended to valid JSON; it is the call the model finished writing) or when the
   * fragments were not JSON.
   */
  closer(): string {
    if (this.state === S_INVALID || this.state === S_DONE) return '';
    if (this.state === S_TOP && !this.inNumber && this.literalRest === '' && !this.inString) {
      return `{"${CUT_INPUT_MARKER}":true}`;
    }
    if (this.stack[0] !== OBJ) return ''; // a tool input is always an object
    let out = '';
    // Finish the token in progress; it becomes a value (or a key with a null value).
    let state = this.state;
    if (this.inString) {
      if (this.escape) out += 'n';
      else if (this.hex > 0) out += '0'.repeat(this.hex);
      out += '"';
      if (this.stringIsKey) {
        out += ':null';
        state = S_OBJ_NEXT;
      } else state = -1;
    } else if (this.inNumber) {
      const l = this.lastNumberChar;
      if (l === 0x2d || l === 0x2b || l === 0x2e || l === 0x65 || l === 0x45) out += '0';
      state = -1;
    } else if (this.literalRest !== '') {
      out += this.literalRest;
      state = -1;
    }
    for (let depth = this.stack.length - 1; depth >= 0; depth--) {
      const kind = this.stack[depth];
      if (state === -1) state = kind === OBJ ? S_OBJ_NEXT : S_ARR_NEXT;
      if (state === S_OBJ_COLON) {
        out += ':null';
        state = S_OBJ_NEXT;
      } else if (state === S_OBJ_VALUE || state === S_ARR_VALUE) {
        out += 'null';
        state = kind === OBJ ? S_OBJ_NEXT : S_ARR_NEXT;
      }
      if (depth > 0) {
        if (state === S_OBJ_KEY) out += '"":null';
        out += kind === OBJ ? '}' : ']';
        state = -1;
        continue;
      }
      // The top-level object: null every field seen, then the marker.
      let comma = state === S_OBJ_NEXT;
      for (const k of this.keys) {
        out += `${comma ? ',' : ''}"${k}":null`;
        comma = true;
      }
      out += `${comma ? ',' : ''}"${CUT_INPUT_MARKER}":true}`;
    }
    return out;
  }
}
