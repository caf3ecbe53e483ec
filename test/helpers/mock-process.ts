// A provider mock in its own process: it keeps writing (and billing) at its own pace while the
// process under test is starved. Run as a child of the test (fork with IPC): `start` takes plain
// options (no functions cross the process boundary), `bills` answers with the live bills.
//
// Usage (parent):
//   const mock = await startMockAnthropicProcess({ tokenIntervalMs: 1, outputTokens: 2000 });
//   ... mock.url ... await mock.waitIdle(); const bills = await mock.bills(); await mock.close();

import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startMockAnthropic } from './mock-anthropic.js';
import type { MockAnthropicOptions, MockBill } from './mock-anthropic.js';
import { startMockOpenAI } from './mock-openai.js';
import type { MockOpenAIBill, MockOpenAIOptions } from './mock-openai.js';
import { startMockGemini } from './mock-gemini.js';
import type { MockGeminiBill, MockGeminiOptions } from './mock-gemini.js';

/** Which mock runs in the child, with its options. */
type MockSpec = { kind: 'anthropic'; options: MockAnthropicOptions } | { kind: 'openai'; options: MockOpenAIOptions } | { kind: 'gemini'; options: MockGeminiOptions };
type Question = { op: 'start'; spec: MockSpec } | { op: 'bills' | 'waitIdle' | 'close' };
type Ask = Question & { id: number };
type Answer = { id: number; url?: string; bills?: unknown[]; error?: string };

export interface MockProcess<Bill> {
  readonly url: string;
  /** The bills as the child has them now (one per metered request, in arrival order). */
  bills(): Promise<Bill[]>;
  /** Resolves once the child has no response in flight and every bill is final. */
  waitIdle(): Promise<void>;
  close(): Promise<void>;
}
export type MockAnthropicProcess = MockProcess<MockBill>;

/** Starts the Anthropic mock in a child process. */
export function startMockAnthropicProcess(options: MockAnthropicOptions): Promise<MockProcess<MockBill>> {
  return startMockProcess({ kind: 'anthropic', options });
}
/** Starts the OpenAI mock (Chat Completions and Responses) in a child process. */
export function startMockOpenAIProcess(options: MockOpenAIOptions): Promise<MockProcess<MockOpenAIBill>> {
  return startMockProcess({ kind: 'openai', options });
}
/** Starts the Gemini mock in a child process. */
export function startMockGeminiProcess(options: MockGeminiOptions): Promise<MockProcess<MockGeminiBill>> {
  return startMockProcess({ kind: 'gemini', options });
}

async function startMockProcess<Bill>(spec: MockSpec): Promise<MockProcess<Bill>> {
  const child = fork(fileURLToPath(import.meta.url), ['--mock-child'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waiting = new Map<number, (a: Answer) => void>();
  let next = 0;
  child.on('message', (a: Answer) => {
    waiting.get(a.id)?.(a);
    waiting.delete(a.id);
  });
  const ask = (q: Question): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const id = next++;
      waiting.set(id, (a) => (a.error === undefined ? resolve(a) : reject(new Error(a.error))));
      child.send({ ...q, id });
    });
  const started = await ask({ op: 'start', spec });
  return {
    url: started.url!,
    bills: async () => (await ask({ op: 'bills' })).bills as Bill[],
    waitIdle: async () => void (await ask({ op: 'waitIdle' })),
    close: async () => {
      await ask({ op: 'close' });
      await exited(child);
    },
  };
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
  });
}

/** The child side: one mock, answering the parent's questions. */
function serveChild(): void {
  let mock: { url: string; bills: unknown[]; waitIdle(): Promise<void>; close(): Promise<void> } | null = null;
  const answer = (a: Answer): void => void process.send!(a);
  // The parent is gone (a failed or killed test run): so is the mock.
  process.on('disconnect', () => process.exit(0));
  process.on('message', (q: Ask) => {
    void (async () => {
      try {
        if (q.op === 'start') {
          const { spec } = q;
          mock = spec.kind === 'anthropic' ? await startMockAnthropic(spec.options) : spec.kind === 'openai' ? await startMockOpenAI(spec.options) : await startMockGemini(spec.options);
          return answer({ id: q.id, url: mock.url });
        }
        if (mock === null) throw new Error('mock not started');
        if (q.op === 'bills') return answer({ id: q.id, bills: mock.bills });
        if (q.op === 'waitIdle') {
          await mock.waitIdle();
          return answer({ id: q.id });
        }
        await mock.close();
        answer({ id: q.id });
        process.disconnect();
      } catch (err) {
        answer({ id: q.id, error: (err as Error).message });
      }
    })();
  });
}

if (process.argv.includes('--mock-child') && process.send !== undefined) serveChild();
