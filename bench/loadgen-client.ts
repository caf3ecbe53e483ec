// The harness's side of the load generator (loadgen.ts): jobs sent over IPC, results awaited.

import type { ChildProcess } from 'node:child_process';
import type { ClosedJob, ClosedResult, Job, RateJob, RateResult, ResultMessage, SeqJob, SeqResult, StreamsResult } from './common.js';
import { forkHelper } from './targets.js';
import type { Env } from './targets.js';

type ResultOf<J extends Job> = J extends SeqJob ? SeqResult : J extends RateJob ? RateResult : J extends ClosedJob ? ClosedResult : StreamsResult;

export class LoadGen {
  #next = 1;
  readonly #pending = new Map<number, { resolve: (r: ResultMessage) => void }>();
  private constructor(readonly child: ChildProcess) {
    child.on('message', (m: unknown) => {
      const msg = m as ResultMessage;
      if (typeof msg.id !== 'number') return;
      const p = this.#pending.get(msg.id);
      this.#pending.delete(msg.id);
      p?.resolve(msg);
    });
    child.once('exit', () => {
      for (const p of this.#pending.values()) p.resolve({ id: -1, error: 'load generator exited' });
      this.#pending.clear();
    });
  }
  static async start(env: Env): Promise<LoadGen> {
    return new LoadGen(await forkHelper(env, 'loadgen.js', [], 'loadgen'));
  }
  async run<J extends Job>(job: J): Promise<ResultOf<J>> {
    const id = this.#next++;
    const msg = await new Promise<ResultMessage>((resolve) => {
      this.#pending.set(id, { resolve });
      this.child.send({ id, job });
    });
    if (msg.error !== undefined || !msg.result) throw new Error(`load generator: ${msg.error ?? 'no result'}`);
    return msg.result as ResultOf<J>;
  }
}
