// Edits of agents' config files with a parser made for each format, so the user's comments,
// ordering and unknown keys survive: jsonc-parser for JSON/JSONC, toml-patch for TOML, yaml's
// Document API for YAML. Never string concatenation of a structured format.
import { patch as patchTomlText, parse as parseTomlText } from '@decimalturn/toml-patch';
import { applyEdits, modify, parse as parseJsoncText } from 'jsonc-parser';
import type { FormattingOptions, ParseError } from 'jsonc-parser';
import { parse as parseDotenv } from 'dotenv';
import { isSeq, parseDocument } from 'yaml';
import { ConnectorError } from './errors.js';

type JsonPath = (string | number)[];

/** The indentation the file already uses (two spaces when it has none). */
function formattingOf(text: string): FormattingOptions {
  const m = /\n([ \t]+)\S/.exec(text);
  const indent = m?.[1] ?? '  ';
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  return indent.startsWith('\t') ? { insertSpaces: false, tabSize: 1, eol } : { insertSpaces: true, tabSize: indent.length, eol };
}

export function parseJsonc(text: string | null, path: string): Record<string, unknown> {
  if (text === null || text.trim() === '') return {};
  const errors: ParseError[] = [];
  const value: unknown = parseJsoncText(text, errors, { allowTrailingComma: true, disallowComments: false });
  if (errors.length > 0 || value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ConnectorError('E_PARSE', `${path} is not a JSON object spendcap can edit (fix it or move it away, then connect again)`);
  }
  return value as Record<string, unknown>;
}

/** Sets each path to its value (undefined removes it), keeping everything else byte for byte. */
export function editJsonc(text: string | null, path: string, changes: Array<[JsonPath, unknown]>): string {
  parseJsonc(text, path);
  let out = text === null || text.trim() === '' ? '{}\n' : text;
  const formattingOptions = formattingOf(out);
  for (const [p, value] of changes) out = applyEdits(out, modify(out, p, value, { formattingOptions }));
  return out;
}

export function parseToml(text: string | null, path: string): Record<string, unknown> {
  if (text === null || text.trim() === '') return {};
  try {
    return parseTomlText(text) as Record<string, unknown>;
  } catch (err) {
    throw new ConnectorError('E_PARSE', `${path} is not valid TOML (${(err as Error).message.split('\n')[0]}); fix it, then connect again`);
  }
}

/** toml-patch rewrites only what changed between the parsed and the updated value; comments stay. */
export function editToml(text: string | null, path: string, mutate: (doc: Record<string, unknown>) => void): string {
  const doc = parseToml(text, path);
  mutate(doc);
  return patchTomlText(text ?? '', doc);
}

export function parseYaml(text: string | null, path: string): Record<string, unknown> {
  if (text === null || text.trim() === '') return {};
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw new ConnectorError('E_PARSE', `${path} is not valid YAML (${doc.errors[0]!.message.split('\n')[0]}); fix it, then connect again`);
  const v: unknown = doc.toJS();
  if (v === null || v === undefined) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new ConnectorError('E_PARSE', `${path} is not a YAML mapping spendcap can edit`);
  return v as Record<string, unknown>;
}

export function editYaml(text: string | null, path: string, changes: Array<[string[], unknown]>): string {
  parseYaml(text, path);
  const doc = parseDocument(text ?? '');
  for (const [p, value] of changes) {
    if (value === undefined) doc.deleteIn(p);
    else doc.setIn(p, doc.createNode(value));
  }
  return doc.toString();
}

/**
 * Makes the sequence at `key` hold exactly one item starting with `prefix`, namely `item`: other
 * items (and their comments) stay; a scalar or missing value becomes a sequence.
 */
export function editYamlSeqItem(text: string | null, path: string, key: string, prefix: string, item: string): string {
  parseYaml(text, path);
  const doc = parseDocument(text ?? '');
  const node = doc.get(key, true);
  if (!isSeq(node)) {
    const existing = doc.get(key);
    doc.set(key, doc.createNode(existing === undefined || existing === null ? [item] : [existing, item]));
    return doc.toString();
  }
  node.items = node.items.filter((n) => !String((n as { value?: unknown }).value ?? n).startsWith(prefix));
  node.items.push(doc.createNode(item));
  return doc.toString();
}

export function parseEnv(text: string | null): Record<string, string> {
  return text === null ? {} : parseDotenv(text);
}

/**
 * A dotenv file is line-based: a line `NAME=…` is replaced in place, a missing one appended; every
 * other line (comments, other variables) stays as it was. Values are quoted when dotenv needs it.
 */
export function editEnv(text: string | null, vars: Record<string, string>): string {
  const eol = text?.includes('\r\n') ? '\r\n' : '\n';
  const lines = text === null || text === '' ? [] : text.replace(/\r?\n$/, '').split(/\r?\n/);
  const quote = (v: string) => (/^[A-Za-z0-9_./:@+-]*$/.test(v) ? v : JSON.stringify(v));
  const pending = new Map(Object.entries(vars));
  const out = lines.map((line) => {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=/.exec(line);
    const name = m?.[1];
    if (name === undefined || !pending.has(name)) return line;
    const v = pending.get(name)!;
    pending.delete(name);
    return `${name}=${quote(v)}`;
  });
  for (const [name, v] of pending) out.push(`${name}=${quote(v)}`);
  const result = out.join(eol) + eol;
  // The file must read back as what was meant, by the same parser the agents use.
  const back = parseDotenv(result);
  for (const [name, v] of Object.entries(vars)) if (back[name] !== v) throw new ConnectorError('E_PARSE', `could not write ${name} so that it reads back unchanged`);
  return result;
}
