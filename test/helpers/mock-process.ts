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
import type { MockAnthropic, MockAnthropicOptions, MockBill } from './mock-anthropic.js';

type Question = { op: 'start'; options: MockAnthropicOptions } | { op: 'bills' | 'waitIdle' | 'close' };
type Ask = Question & { id: number };
type Answer = { id: number; url?: string; bills?: MockBill[]; error?: string };

export interface MockAnthropicProcess {
  readonly url: string;
  /** The bills as the child has them now (one per POST /v1/messages, in arrival order). */
  bills(): Promise<MockBill[]>;
  /** Resolves once the child has no response in flight and every bill is final. */
  waitIdle(): Promise<void>;
  close(): Promise<void>;
}

/** Starts the Anthropic mock in a child process. */
export async function startMockAnthropicProcess(options: MockAnthropicOptions): Promise<MockAnthropicProcess> {
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
  const started = await ask({ op: 'start', options });
  return {
    url: started.url!,
    bills: async () => (await ask({ op: 'bills' })).bills!,
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
  let mock: MockAnthropic | null = null;
  const answer = (a: Answer): void => void process.send!(a);
  // The parent is gone (a failed or killed test run): so is the mock.
  process.on('disconnect', () => process.exit(0));
  process.on('message', (q: Ask) => {
    void (async () => {
      try {
        if (q.op === 'start') {
          mock = await startMockAnthropic(q.options);
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
