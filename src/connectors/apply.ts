// The I/O of every connector, done once: read the files, back each up byte for byte before the
// first write, write the new text atomically (owner-only: it holds a token), and put the old
// bytes back on disconnect.
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { ConnectedFile } from '../store/index.js';
import type { AgentConnector, AgentHome, ConnectTarget } from './types.js';

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

export function readTexts(paths: readonly string[]): Map<string, string | null> {
  return new Map(paths.map((p) => [p, existsSync(p) ? readFileSync(p, 'utf8') : null]));
}

function writeAtomic(path: string, text: string, mode: number): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.spendcap-${process.pid}.tmp`);
  writeFileSync(tmp, text, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}

export interface ConnectResult {
  files: ConnectedFile[];
}

/** Writes the agent's config for `target`; each file it changes is backed up first into `backupDir`. */
export function connectFiles(connector: AgentConnector, h: AgentHome, target: ConnectTarget, backupDir: string): ConnectResult {
  const current = readTexts(connector.files(h));
  const next = connector.connect(current, target, h);
  const files: ConnectedFile[] = [];
  mkdirSync(backupDir, { recursive: true, mode: 0o700 });
  let n = 0;
  for (const [path, text] of next) {
    const before = current.get(path) ?? null;
    let backup: string | null = null;
    // Owner-only: the file now holds a token (the backup keeps the old mode for disconnect).
    let mode = 0o600;
    if (before !== null) {
      backup = join(backupDir, `${n++}-${basename(path)}`);
      copyFileSync(path, backup);
      mode = statSync(path).mode & 0o700 || 0o600;
    }
    writeAtomic(path, text, mode);
    files.push({ path, backup, writtenSha256: sha256(text) });
  }
  return { files };
}

export interface RestoredFile {
  path: string;
  /** The file was edited after connect; its edited text was kept at this path before the restore. */
  editedSavedAt: string | null;
  removed: boolean;
}

/** Puts back each file's bytes from before connect (or removes a file connect created). */
export function restoreFiles(files: readonly ConnectedFile[]): RestoredFile[] {
  const out: RestoredFile[] = [];
  for (const f of files) {
    let editedSavedAt: string | null = null;
    if (existsSync(f.path) && sha256(readFileSync(f.path)) !== f.writtenSha256) {
      editedSavedAt = `${f.backup ?? f.path}.edited-after-connect`;
      copyFileSync(f.path, editedSavedAt);
    }
    if (f.backup === null) {
      if (existsSync(f.path)) unlinkSync(f.path);
      out.push({ path: f.path, editedSavedAt, removed: true });
    } else {
      // copyFile keeps the bytes exactly; the mode of the backup is the original's.
      copyFileSync(f.backup, f.path);
      out.push({ path: f.path, editedSavedAt, removed: false });
    }
  }
  return out;
}
