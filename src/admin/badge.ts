import { createHmac } from 'node:crypto';
import { formatUsd } from '../pricing/index.js';
import type { Nanos } from '../pricing/index.js';

export interface BadgeInput {
  spentNanos: Nanos;
  heldNanos: Nanos;
  capNanos: Nanos;
  killed: boolean;
}

/** Shields' palette: green under 75 %, yellow to 90 %, orange under the cap, red at it or killed. */
export function badgeColor(b: BadgeInput): string {
  if (b.killed) return '#e05d44';
  if (b.capNanos <= 0) return b.spentNanos + b.heldNanos > 0 ? '#e05d44' : '#4c1';
  const used = (b.spentNanos + b.heldNanos) / b.capNanos;
  if (used >= 1) return '#e05d44';
  if (used >= 0.9) return '#fe7d37';
  if (used >= 0.75) return '#dfb317';
  return '#4c1';
}

/** "$3.20" to the cent (rounded up, so a badge never shows less than was spent), whole dollars without cents. */
export function badgeUsd(nanos: Nanos, wholeDollars: boolean): string {
  if (wholeDollars && nanos % 1_000_000_000 === 0) return `$${nanos / 1_000_000_000}`;
  const cents = Math.ceil(nanos / 10_000_000);
  return formatUsd(cents * 10_000_000);
}

export function badgeValue(b: BadgeInput): string {
  const value = `${badgeUsd(b.spentNanos, false)} / ${badgeUsd(b.capNanos, true)}`;
  return b.killed ? `${value} killed` : value;
}

const escapeXml = (s: string): string => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Verdana 11px averages about 6.5 px per character; shields pads each side by 5 px. */
const textWidth = (s: string): number => Math.round(s.length * 6.5) + 10;

/** A flat shields-style badge: grey label, coloured value. */
export function renderBadge(label: string, b: BadgeInput): string {
  const value = badgeValue(b);
  const lw = textWidth(label);
  const vw = textWidth(value);
  const w = lw + vw;
  const color = badgeColor(b);
  const l = escapeXml(label);
  const v = escapeXml(value);
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="20" role="img" aria-label="${l}: ${v}">` +
    `<title>${l}: ${v}</title>` +
    `<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>` +
    `<clipPath id="r"><rect width="${w}" height="20" rx="3" fill="#fff"/></clipPath>` +
    `<g clip-path="url(#r)"><rect width="${lw}" height="20" fill="#555"/><rect x="${lw}" width="${vw}" height="20" fill="${color}"/><rect width="${w}" height="20" fill="url(#s)"/></g>` +
    `<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">` +
    `<text x="${lw / 2}" y="15" fill="#010101" fill-opacity=".3">${l}</text><text x="${lw / 2}" y="14">${l}</text>` +
    `<text x="${lw + vw / 2}" y="15" fill="#010101" fill-opacity=".3">${v}</text><text x="${lw + vw / 2}" y="14">${v}</text>` +
    `</g></svg>`
  );
}

const BADGE_TOKEN_PREFIX = 'scb-';

/**
 * A budget's badge token: read-only, for that budget's badge only, so a badge URL can sit in a page
 * without handing out the admin token. Derived (HMAC-SHA256 of the budget's id under the admin
 * token), so nothing new is stored, it names no other budget, and it changes with the admin token.
 */
export function badgeToken(adminToken: string, budgetId: number): string {
  return BADGE_TOKEN_PREFIX + createHmac('sha256', adminToken).update(`spendcap-badge:${budgetId}`).digest('base64url').slice(0, 32);
}

/** The path and query of a budget's badge, addressed by id (stable, and safe in a URL whatever the name). */
export function badgePath(adminToken: string, budgetId: number): string {
  return `/api/budgets/${budgetId}/badge.svg?token=${badgeToken(adminToken, budgetId)}`;
}
