import { test } from 'node:test';
import assert from 'node:assert/strict';
import { admitLocal, applyFlush, applyGrant, beginReturn, fairShare, leaseFree, newLease, planFlush, refill, settleLocal, topUp } from './lease.js';
import type { LeasePolicy, LocalLease, RoomView } from './lease.js';

const policy: LeasePolicy = { minChunkNanos: 1_000, maxChunkNanos: 1_000_000, ttlMs: 10_000 };

test('far from the cap an instance takes the largest slice; near it, a fair share of what others have not leased', () => {
  assert.equal(fairShare({ capNanos: 100_000_000, spentNanos: 0, leasedNanos: 0, activeInstances: 3 }, 0, policy), 1_000_000);
  // 90_000 of room left, 30_000 leased to others, 3 instances: (90_000 - 30_000) / 3.
  assert.equal(fairShare({ capNanos: 100_000, spentNanos: 10_000, leasedNanos: 40_000, activeInstances: 3 }, 10_000, policy), 20_000);
  // Never more than there is, even when the minimum chunk is larger.
  assert.equal(fairShare({ capNanos: 100_000, spentNanos: 99_500, leasedNanos: 0, activeInstances: 1 }, 0, policy), 500);
  assert.equal(fairShare({ capNanos: 100_000, spentNanos: 100_000, leasedNanos: 0, activeInstances: 2 }, 0, policy), 0);
});

test('a top-up asks for at least the shortfall, and up to the fair share left over after the request', () => {
  const l: LocalLease = { grantedNanos: 5_000, heldNanos: 4_000, usedNanos: 0 };
  const view: RoomView = { capNanos: 1_000_000, spentNanos: 0, leasedNanos: 5_000, activeInstances: 2 };
  const t = topUp(l, 3_000, view, policy);
  assert.equal(t.needNanos, 2_000);
  // Fair share of (1_000_000 - 0) / 2 = 500_000 to keep free after this request.
  assert.equal(t.wantNanos, 2_000 + 500_000);
  // A request that fits needs nothing.
  assert.equal(topUp({ grantedNanos: 10_000, heldNanos: 0, usedNanos: 0 }, 3_000, null, policy).needNanos, 0);
});

test('a refill asks for its level at least and the fair share free at most: nothing is taken, so nothing is added on top', () => {
  const view: RoomView = { capNanos: 1_000_000, spentNanos: 0, leasedNanos: 10_000, activeInstances: 2 };
  const l: LocalLease = { grantedNanos: 10_000, heldNanos: 8_000, usedNanos: 0 };
  // 2_000 free; the fair share is (1_000_000 - 0) / 2 = 500_000: the refill tops the free slice up to it.
  assert.deepEqual(refill(l, 250_000, view, policy), { needNanos: 248_000, wantNanos: 498_000 });
  // A top-up for a need of the same size takes it at once and keeps the fair share free beside it.
  assert.equal(topUp(l, 250_000, view, policy).wantNanos, 248_000 + 500_000);
  // Free beyond the level already: nothing needed, at most up to the fair share.
  assert.deepEqual(refill({ grantedNanos: 600_000, heldNanos: 0, usedNanos: 0 }, 250_000, { ...view, leasedNanos: 600_000 }, policy), { needNanos: 0, wantNanos: 0 });
});

test('admission is all or nothing against the slice, and settling moves a hold into used', () => {
  const l = newLease();
  applyGrant(l, 10_000);
  assert.equal(admitLocal(l, 6_000), true);
  assert.equal(admitLocal(l, 5_000), false);
  assert.equal(l.heldNanos, 6_000);
  settleLocal(l, 6_000, 4_500);
  assert.deepEqual(l, { grantedNanos: 10_000, heldNanos: 0, usedNanos: 4_500 });
  assert.equal(leaseFree(l), 5_500);
});

test('a flush writes what was used and gives back the free slice beyond the fair share (all of it when idle)', () => {
  const l: LocalLease = { grantedNanos: 50_000, heldNanos: 10_000, usedNanos: 20_000 };
  const view: RoomView = { capNanos: 100_000, spentNanos: 50_000, leasedNanos: 50_000, activeInstances: 2 };
  // Not leased to others: 100_000 - 50_000 - 0 = 50_000; half of it is the fair share; the free 20_000 is under it.
  const busy = planFlush(l, view, policy, false);
  assert.deepEqual(busy, { spendNanos: 20_000, returnNanos: 0 });
  const crowded: RoomView = { ...view, leasedNanos: 90_000, activeInstances: 4 };
  // Others lease 40_000: (100_000 - 50_000 - 40_000) / 4 = 2_500 kept, 17_500 given back.
  assert.deepEqual(planFlush(l, crowded, policy, false), { spendNanos: 20_000, returnNanos: 17_500 });
  const idle = { grantedNanos: 30_000, heldNanos: 0, usedNanos: 5_000 };
  const plan = planFlush(idle, view, policy, true);
  assert.deepEqual(plan, { spendNanos: 5_000, returnNanos: 25_000 });
  applyFlush(idle, plan);
  assert.deepEqual(idle, { grantedNanos: 0, heldNanos: 0, usedNanos: 0 });
});

test('room a flush gives back cannot be admitted while the flush is being written', () => {
  const l: LocalLease = { grantedNanos: 100_000, heldNanos: 0, usedNanos: 0 };
  const view: RoomView = { capNanos: 1_000_000, spentNanos: 0, leasedNanos: 1_000_000, activeInstances: 3 };
  // Idle: the whole free slice goes back.
  const plan = planFlush(l, view, policy, true);
  assert.equal(plan.returnNanos, 100_000);
  const rest = beginReturn(l, plan);
  // A request arriving before the database answers finds nothing: the database no longer counts it as this instance's.
  assert.equal(admitLocal(l, 1_000), false);
  applyFlush(l, rest);
  assert.deepEqual(l, { grantedNanos: 0, heldNanos: 0, usedNanos: 0 });
});

test('three instances drawing on one room in random order never pass the cap', () => {
  // The database row, simulated with the same conditional update the SQL does.
  const room = { cap: 1_000_000, spent: 0, leased: 0 };
  const grant = (need: number, want: number): number => {
    const left = room.cap - room.spent - room.leased;
    if (left < need) return 0;
    const g = Math.min(want, left);
    room.leased += g;
    return g;
  };
  const leases = [newLease(), newLease(), newLease()];
  const holds: { i: number; held: number }[] = [];
  let seed = 7;
  const rnd = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  let refused = 0;
  for (let step = 0; step < 5_000; step++) {
    const i = Math.floor(rnd() * 3);
    const l = leases[i]!;
    const view: RoomView = { capNanos: room.cap, spentNanos: room.spent, leasedNanos: room.leased, activeInstances: 3 };
    if (rnd() < 0.5) {
      const need = 1_000 + Math.floor(rnd() * 9_000);
      if (!admitLocal(l, need)) {
        const t = topUp(l, need, view, { ...policy, maxChunkNanos: 50_000 });
        const g = grant(t.needNanos, t.wantNanos);
        if (g > 0) applyGrant(l, g);
        if (!admitLocal(l, need)) {
          refused++;
          continue;
        }
      }
      holds.push({ i, held: need });
    } else if (holds.length > 0) {
      const h = holds.splice(Math.floor(rnd() * holds.length), 1)[0]!;
      settleLocal(leases[h.i]!, h.held, Math.floor(h.held * rnd()));
    }
    if (step % 10 === 0) {
      const plan = planFlush(l, view, policy, false);
      room.spent += plan.spendNanos;
      room.leased -= plan.spendNanos + plan.returnNanos;
      applyFlush(l, plan);
    }
    assert.ok(room.spent + room.leased <= room.cap, `step ${step}: ${room.spent} + ${room.leased} > ${room.cap}`);
    for (const x of leases) assert.ok(x.heldNanos + x.usedNanos <= x.grantedNanos);
  }
  assert.ok(refused > 0, 'the run reached the cap');
  for (const l of leases) {
    const plan = planFlush(l, null, policy, false);
    room.spent += plan.spendNanos;
    room.leased -= plan.spendNanos + plan.returnNanos;
    applyFlush(l, plan);
  }
  assert.ok(room.spent <= room.cap);
});
