// The budget commands of the CLI: budget add/list/rm/autotune, --mode and --clamp on key add and
// cap set, settings (zone, default session cap, thresholds, retention), events with channels.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { cli, tempDataDir } from './helpers/spendcap.js';

interface BudgetJson {
  name: string;
  scope: string;
  capUsd: number;
  mode: string;
  clamp: boolean;
  period: string;
  ceilingUsd: number | null;
  autotune: string;
  resets: string;
  timeZone: string;
  periodEnd: string | null;
  effectiveSessionCapUsd: number | null;
}
interface EventJson {
  kind: string;
  budget: string | null;
  channel: string;
  capBeforeUsd: number | null;
  capAfterUsd: number | null;
  detail: string | null;
}

test('budget add/list/rm, --mode and --clamp on key add and cap set, and the audit trail of each', async () => {
  const dir = tempDataDir();
  try {
    const list = async () => JSON.parse((await cli(dir, ['budget', 'list', '--json'])).out) as BudgetJson[];
    assert.equal((await cli(dir, ['key', 'add', 'work', '--provider', 'anthropic', '--provider-key', 'sk-ant-x', '--cap', '10', '--mode', 'soft', '--clamp'])).code, 0);
    const added = await cli(dir, ['budget', 'add', 'team', '--scope', 'global', '--cap', '50', '--period', 'month', '--mode', 'hard', '--ceiling', '80', '--clamp']);
    assert.equal(added.code, 0, added.err);
    assert.match(added.out, /Every request through this proxy now counts against it/);
    assert.match((await cli(dir, ['budget', 'add', 'proj', '--scope', 'tag', '--cap', '5'])).out, /x-spendcap-budget: proj/);
    assert.deepEqual(
      (await list()).map((b) => [b.name, b.scope, b.capUsd, b.period, b.mode, b.clamp, b.ceilingUsd]),
      [
        ['proj', 'tag', 5, 'day', 'hard', false, null],
        ['team', 'global', 50, 'month', 'hard', true, 80],
        ['work', 'key', 10, 'day', 'soft', true, null],
      ],
    );
    assert.match((await cli(dir, ['budget', 'list'])).out, /team\s+global\s+\$50\.00\s+month\s+hard\s+\$80\.00\s+on/);

    assert.equal((await cli(dir, ['cap', 'set', 'proj', '--mode', 'soft', '--clamp'])).code, 0);
    assert.equal((await cli(dir, ['cap', 'set', 'work', '12', '--no-clamp', '--mode', 'hard'])).code, 0);
    let b = await list();
    assert.deepEqual(b.map((x) => [x.name, x.capUsd, x.mode, x.clamp]), [['proj', 5, 'soft', true], ['team', 50, 'hard', true], ['work', 12, 'hard', false]]);
    assert.equal((await cli(dir, ['lift', 'team', '--to-ceiling'])).code, 0);
    assert.equal((await cli(dir, ['kill', 'proj'])).code, 0);
    assert.equal((await cli(dir, ['unkill', 'proj'])).code, 0);
    assert.equal((await cli(dir, ['lift', 'proj', 'work', '--add', '1'])).code, 0);
    b = await list();
    assert.deepEqual(b.map((x) => x.capUsd), [6, 80, 13]);

    // Errors: clear and with the right exit code.
    const dup = await cli(dir, ['budget', 'add', 'work', '--scope', 'tag', '--cap', '1']);
    assert.deepEqual([dup.code, /already exists/.test(dup.err)], [1, true]);
    assert.equal((await cli(dir, ['budget', 'add', 'x', '--scope', 'key', '--cap', '1'])).code, 2);
    assert.match((await cli(dir, ['budget', 'rm', 'work'])).err, /spendcap key rm work/);
    assert.match((await cli(dir, ['cap', 'set', 'team', '100'])).err, /would pass its ceiling of \$80\.00/);
    assert.match((await cli(dir, ['budget', 'autotune', 'work', 'creep'])).err, /needs a ceiling/);
    assert.equal((await cli(dir, ['budget', 'autotune', 'team', 'suggest'])).code, 0);
    assert.equal((await cli(dir, ['budget', 'rm', 'proj'])).code, 0);
    assert.equal((await cli(dir, ['budget', 'rm', 'proj'])).code, 1);

    const events = JSON.parse((await cli(dir, ['events', '--json', '--limit', '100'])).out) as EventJson[];
    assert.ok(events.every((e) => e.channel === 'cli'));
    assert.deepEqual(
      events.reverse().map((e) => [e.kind, e.budget, e.capBeforeUsd, e.capAfterUsd]),
      [
        ['key-add', 'work', null, 10],
        ['budget-add', 'team', null, 50],
        ['budget-add', 'proj', null, 5],
        ['cap-set', 'proj', 5, 5],
        ['cap-set', 'work', 10, 12],
        ['lift', 'team', 50, 80],
        ['kill', 'proj', 5, 5],
        ['unkill', 'proj', 5, 5],
        ['lift', 'proj', 5, 6],
        ['lift', 'work', 12, 13],
        ['autotune', 'team', 80, 80],
        ['budget-rm', 'proj', 6, null],
      ],
    );
    assert.match((await cli(dir, ['events'])).out, /budget-rm\s+proj\s+cli/);
    assert.equal(((JSON.parse((await cli(dir, ['events', '--json', '--budget', 'team'])).out)) as EventJson[]).length, 3);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('settings persist in the data dir: zone (status shows when each budget resets in it), default session cap, thresholds, retention', async () => {
  const dir = tempDataDir();
  try {
    await cli(dir, ['key', 'add', 'work', '--provider', 'anthropic', '--provider-key', 'sk-ant-x', '--cap', '10']);
    assert.equal((await cli(dir, ['settings', '--tz', 'Asia/Tokyo', '--default-session-cap', '2', '--thresholds', '25,75', '--retain-days', '30'])).code, 0);
    const s = JSON.parse((await cli(dir, ['settings', '--json'])).out) as { timeZone: string; defaultSessionCapUsd: number; thresholds: number[]; retainDays: number };
    assert.deepEqual(s, { timeZone: 'Asia/Tokyo', timeZoneSetting: 'Asia/Tokyo', defaultSessionCapUsd: 2, thresholds: [25, 75], retainDays: 30 });
    const st = (JSON.parse((await cli(dir, ['status', '--json'])).out) as BudgetJson[])[0]!;
    assert.equal(st.timeZone, 'Asia/Tokyo');
    assert.equal(st.effectiveSessionCapUsd, 2);
    // Tokyo midnight is 15:00 UTC.
    assert.match(st.periodEnd!, /T15:00:00\.000Z$/);
    assert.match(st.resets, /^\d{4}-\d\d-\d\d 00:00 Asia\/Tokyo$/);
    assert.match((await cli(dir, ['status'])).out, /Periods roll over at midnight Asia\/Tokyo/);
    assert.match((await cli(dir, ['settings', '--tz', 'Mars/Olympus'])).err, /unknown time zone "Mars\/Olympus"/);
    assert.match((await cli(dir, ['settings', '--retain-days', '3'])).err, /≥ 14/);
    assert.match((await cli(dir, ['settings', '--thresholds', '50,x'])).err, /whole percentages/);
    const ev = JSON.parse((await cli(dir, ['events', '--json'])).out) as EventJson[];
    assert.equal(ev[0]!.kind, 'settings');
    assert.match(ev[0]!.detail!, /tz machine → Asia\/Tokyo; default session cap none → \$2\.00; thresholds 50,80,100 → 25,75; retain days 90 → 30/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
