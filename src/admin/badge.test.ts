import { test } from 'node:test';
import assert from 'node:assert/strict';
import { badgeColor, badgeValue, renderBadge } from './badge.js';

const b = (spent: number, cap: number, killed = false, held = 0) => ({ spentNanos: spent * 1e9, heldNanos: held * 1e9, capNanos: cap * 1e9, killed });

test('the value reads "$spent / $cap", cents rounded up, whole-dollar caps without cents', () => {
  assert.equal(badgeValue(b(3.2, 15)), '$3.20 / $15');
  assert.equal(badgeValue({ spentNanos: 1, heldNanos: 0, capNanos: 2_500_000_000, killed: false }), '$0.01 / $2.50');
  assert.equal(badgeValue(b(0, 15, true)), '$0.00 / $15 killed');
});

test('the colour follows how much of the cap is used or held', () => {
  assert.equal(badgeColor(b(1, 10)), '#4c1');
  assert.equal(badgeColor(b(7, 10, false, 1)), '#dfb317');
  assert.equal(badgeColor(b(9.5, 10)), '#fe7d37');
  assert.equal(badgeColor(b(10, 10)), '#e05d44');
  assert.equal(badgeColor(b(0, 10, true)), '#e05d44');
});

test('the SVG escapes its label and carries the value', () => {
  const svg = renderBadge('a<b&"c', b(3.2, 15));
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.ok(svg.includes('a&#60;b&#38;&#34;c'));
  assert.ok(!svg.includes('a<b'));
  assert.ok(svg.includes('>$3.20 / $15</text>'));
  assert.ok(svg.endsWith('</svg>'));
});
