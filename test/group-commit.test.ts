// Group commit through a real server: a burst of requests shares transactions (holds and settles of
// one event-loop turn in one commit), and still every answered request has its ledger row on disk
// the moment its response ends. Prints commits per request, one at a time and in a burst.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startMockOpenAI } from './helpers/mock-openai.js';
import { addKey, startSpendcap } from './helpers/spendcap.js';
import { SqliteStore } from '../src/store/index.js';

const N = 64;

test('group commit: a burst shares commits, and each answered request is already in the ledger', async () => {
  const mock = await startMockOpenAI({ outputTokens: 5, tokenIntervalMs: 0 });
  const sc = await startSpendcap(null, { baseUrls: { openai: `${mock.url}/v1` } });
  const other = new SqliteStore(sc.dataDir);
  try {
    const token = await addKey(sc.dataDir, 'work', 10, [], 'openai');
    const store = sc.server.store as SqliteStore;
    const ask = async (i: number): Promise<void> => {
      const r = await fetch(`${sc.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: `hi ${i}` }], max_completion_tokens: 16 }),
      });
      assert.equal(r.status, 200);
      await r.text();
    };
    await ask(-1); // warm: the key is loaded, the connection pool is open

    const seq0 = store.commitStats;
    for (let i = 0; i < N; i++) {
      await ask(i);
      // Read by another connection, right after the last byte: the row is on disk already.
      assert.equal((await other.ledger.page(1))[0]?.outcome, 'ok');
    }
    const seq1 = store.commitStats;
    const rowsBefore = (await other.ledger.search({ limit: 1, offset: 0 })).total;
    await Promise.all(Array.from({ length: N }, (_, i) => ask(1000 + i)));
    const burst1 = store.commitStats;
    assert.equal((await other.ledger.search({ limit: 1, offset: 0 })).total, rowsBefore + N, 'every answered request of the burst is in the ledger');

    const seqCommits = (seq1.commits - seq0.commits) / N;
    const burstCommits = (burst1.commits - seq1.commits) / N;
    console.log(`commits per request: ${seqCommits.toFixed(2)} one at a time, ${burstCommits.toFixed(2)} in a burst of ${N} (before: 2 each, a hold insert and a settle transaction)`);
    // One at a time there is nothing to share: the hold's commit and the settle's commit.
    assert.ok(seqCommits <= 2);
    assert.ok(burstCommits < 1.5, `a burst shares commits (${burstCommits.toFixed(2)} per request)`);
  } finally {
    await other.close();
    await sc.close();
    await mock.close();
  }
});
