// A quick loop while tuning the metered path: CPU µs per request of spendcap (caps + metering) and of
// the floor, interleaved, under issue 12's closed loop (OpenAI chat, 32 clients, 0 ms upstream).
// `node dist/bench/cpu-per-req.js [rounds]` (~25 s). CPU per request moves less with machine load than req/s.

import { mkdtempSync, rmSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, median, round, sampleProcs } from './common.js';
import { LoadGen } from './loadgen-client.js';
import { chatEndpoint, FloorTarget, forkHelper, PROVIDER_KEY, SpendcapTarget, stopChild } from './targets.js';
import type { Endpoint } from './common.js';
import type { Env, Target } from './targets.js';

const CHAT_BODY = JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 16, messages: [{ role: 'user', content: 'Say five words, please.' }] });

async function main(): Promise<void> {
  const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const rounds = Number(process.argv[2] ?? 5);
  const workDir = mkdtempSync(join(tmpdir(), 'spendcap-cpureq-'));
  const mockPort = await freePort();
  const env: Env = { repo, workDir, mockPort, spendcapNodeArgs: [] };
  let mock: ChildProcess | null = null;
  let gen: LoadGen | null = null;
  const sc = new SpendcapTarget(env, 'spendcap-data');
  const floor = new FloorTarget(env);
  const targets: { name: string; t: Target; ep: () => Endpoint }[] = [
    { name: 'spendcap', t: sc, ep: () => sc.chatEndpoint() },
    { name: 'floor', t: floor, ep: () => chatEndpoint(floor.endpoint().origin, PROVIDER_KEY) },
  ];
  try {
    mock = await forkHelper(env, 'mock.js', [String(mockPort)], 'mock');
    gen = await LoadGen.start(env);
    await fetch(`http://127.0.0.1:${mockPort}/__config`, { method: 'POST', body: JSON.stringify({ delayMs: 0, chunks: 5, intervalMs: 0 }) }).then((r) => r.text());
    for (const n of targets) await n.t.start();
    for (const n of targets) await gen.run({ kind: 'closed', ep: n.ep(), body: CHAT_BODY, concurrency: 8, durationMs: 1500, warmupMs: 200, timeoutMs: 5000 });
    const cpu: Record<string, number[]> = { spendcap: [], floor: [] };
    for (let r = 0; r < rounds; r++) {
      for (const n of targets) {
        const c0 = sampleProcs(n.t.pids()).cpuSec;
        const res = await gen.run({ kind: 'closed', ep: n.ep(), body: CHAT_BODY, concurrency: 32, durationMs: 2000, warmupMs: 300, timeoutMs: 10_000 });
        const used = sampleProcs(n.t.pids()).cpuSec - c0;
        cpu[n.name]!.push((used * 1e6) / (res.rps * (res.seconds + 0.3)));
      }
    }
    const s = median(cpu.spendcap!);
    const f = median(cpu.floor!);
    process.stdout.write(`CPU/req median of ${rounds}: spendcap ${round(s, 1)} µs, floor ${round(f, 1)} µs, added ${round(s - f, 1)} µs  [spendcap ${cpu.spendcap!.map((x) => round(x, 0)).join(' ')}]\n`);
  } finally {
    for (const n of targets) await n.t.stop().catch(() => undefined);
    if (gen) await stopChild(gen.child);
    if (mock) await stopChild(mock);
    rmSync(workDir, { recursive: true, force: true });
  }
}

await main();
