/**
 * Folds audit lines into the report's aggregates. Memory grows with the number of groups
 * (users, clients, days, reasons, tokens), never with the number of lines.
 */
import type { DecisionResult } from '../event.js';

export type GroupBy = 'user' | 'day' | 'client' | 'result';
export const GROUP_BY: readonly GroupBy[] = ['result', 'user', 'day', 'client'];

export interface Counts {
  accept: number;
  reject: number;
  challenge: number;
  total: number;
}

/** What the report needs of a stored token (StoredToken from src/store/types.ts). */
export interface TokenUsage {
  serial: string;
  user: string | null;
  /** Unix seconds; null when never used. */
  lastUsedAt: number | null;
}

export interface Report {
  period: { since: string; until: string };
  by: GroupBy;
  files: number;
  lines: number;
  /** Lines that are not audit events (bad JSON, missing fields, too long): skipped. */
  malformed: number;
  /** Decisions and dropped packets inside the period (a drop line counts 1 + its `suppressed`). */
  decisions: number;
  drops: number;
  groups: Array<{ key: string } & Counts>;
  totals: Counts;
  denialReasons: Array<{ reason: string; count: number }>;
  lockedUsers: Array<{ user: string; count: number; last: string }>;
  appPasswords: Array<{ user: string; last: string } & Counts>;
  dropReasons: Array<{ reason: string; count: number }>;
  unusedTokens: Array<{ serial: string; user: string | null; lastUsedAt: string | null; status: 'never-used' | 'not-used-in-period' }>;
}

const RESULTS = new Set<string>(['accept', 'reject', 'challenge']);
const RESULT_ORDER = ['accept', 'reject', 'challenge'];

/** Code-point order (not locale order): stable across machines. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Never-used tokens sort first. */
const lastUsed = (t: { lastUsedAt: string | null }): string => t.lastUsedAt ?? '';

function counts(): Counts {
  return { accept: 0, reject: 0, challenge: 0, total: 0 };
}

function bump(c: Counts, result: DecisionResult): void {
  c[result]++;
  c.total++;
}

function inc(map: Map<string, number>, key: string, n = 1): void {
  map.set(key, (map.get(key) ?? 0) + n);
}

const isCount = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= 0;

/** The ISO form Date#toISOString writes, which compares as text in time order. */
const CANONICAL = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

export class ReportBuilder {
  lines = 0;
  malformed = 0;
  private decisions = 0;
  private dropCount = 0;
  private readonly sinceIso: string;
  private readonly untilIso: string;
  private readonly groups = new Map<string, Counts>();
  private readonly totals = counts();
  private readonly reasons = new Map<string, number>();
  private readonly locked = new Map<string, { count: number; last: string }>();
  private readonly appPw = new Map<string, Counts & { last: string }>();
  private readonly drops = new Map<string, number>();
  private readonly tokens: Map<string, { token: TokenUsage; used: boolean }>;

  constructor(
    private readonly since: Date,
    private readonly until: Date,
    private readonly by: GroupBy,
    tokens: readonly TokenUsage[] = [],
  ) {
    this.sinceIso = since.toISOString();
    this.untilIso = until.toISOString();
    this.tokens = new Map(tokens.map((token) => [token.serial, { token, used: false }]));
  }

  /** The time in canonical ISO form (compares as text in time order); null when it is not a time. */
  private static iso(time: string): string | null {
    if (CANONICAL.test(time)) return time;
    const ms = Date.parse(time);
    return Number.isNaN(ms) ? null : new Date(ms).toISOString();
  }

  /** A line over the length limit, skipped unread. */
  tooLong(): void {
    this.lines++;
    this.malformed++;
  }

  /** One audit line. */
  line(text: string): void {
    this.lines++;
    let ev: Record<string, unknown>;
    try {
      ev = JSON.parse(text) as Record<string, unknown>;
    } catch {
      this.malformed++;
      return;
    }
    if (typeof ev !== 'object' || ev === null || typeof ev.time !== 'string') {
      this.malformed++;
      return;
    }
    const time = ReportBuilder.iso(ev.time);
    if (time === null) {
      this.malformed++;
      return;
    }
    const inside = time >= this.sinceIso && time < this.untilIso;
    if (ev.event === 'decision' && typeof ev.result === 'string' && RESULTS.has(ev.result)) {
      if (inside) this.decision(ev, ev.result as DecisionResult, time);
    } else if (ev.event === 'drop' && typeof ev.reason === 'string' && (ev.suppressed === undefined || isCount(ev.suppressed))) {
      if (inside) {
        // A line stands for itself and the drops of its source and reason the server left out of
        // the log before it (`suppressed`, server/drop-log.ts): the totals match the metrics.
        const n = 1 + ((ev.suppressed as number | undefined) ?? 0);
        this.dropCount += n;
        inc(this.drops, ev.reason, n);
      }
    } else {
      this.malformed++;
    }
  }

  private decision(ev: Record<string, unknown>, result: DecisionResult, time: string): void {
    this.decisions++;
    const user = typeof ev.user === 'string' ? ev.user : '';
    const key =
      this.by === 'user'
        ? user
        : this.by === 'client'
          ? String(ev.client || ev.client_ip || '')
          : this.by === 'day'
            ? time.slice(0, 10)
            : result;
    let g = this.groups.get(key);
    if (g === undefined) this.groups.set(key, (g = counts()));
    bump(g, result);
    bump(this.totals, result);
    if (result === 'reject') {
      const reason = typeof ev.reason === 'string' ? ev.reason : '(none)';
      inc(this.reasons, reason);
      if (reason === 'locked') {
        const l = this.locked.get(user);
        if (l === undefined) this.locked.set(user, { count: 1, last: time });
        else {
          l.count++;
          if (time > l.last) l.last = time;
        }
      }
    }
    if (ev.mode === 'app-password') {
      let a = this.appPw.get(user);
      if (a === undefined) this.appPw.set(user, (a = { ...counts(), last: time }));
      bump(a, result);
      if (time > a.last) a.last = time;
    }
    if (result === 'accept' && typeof ev.token_serial === 'string') {
      const t = this.tokens.get(ev.token_serial);
      if (t !== undefined) t.used = true;
    }
  }

  result(files: number): Report {
    const byCount = <T extends { count: number }>(a: T, b: T, ka: string, kb: string): number => b.count - a.count || compareText(ka, kb);
    const groups = [...this.groups].map(([key, c]) => ({ key, ...c }));
    if (this.by === 'day') groups.sort((a, b) => compareText(a.key, b.key));
    else if (this.by === 'result') groups.sort((a, b) => RESULT_ORDER.indexOf(a.key) - RESULT_ORDER.indexOf(b.key));
    else groups.sort((a, b) => b.total - a.total || compareText(a.key, b.key));
    const sinceSec = this.since.getTime() / 1000;
    const untilSec = this.until.getTime() / 1000;
    // Assigned tokens only: tokens in stock (imported, given to nobody yet) are not unused by anyone.
    const unused = [...this.tokens.values()]
      .filter(({ token, used }) => token.user !== null && !used && !(token.lastUsedAt !== null && token.lastUsedAt >= sinceSec && token.lastUsedAt < untilSec))
      .map(({ token }) => ({
        serial: token.serial,
        user: token.user,
        lastUsedAt: token.lastUsedAt === null ? null : new Date(token.lastUsedAt * 1000).toISOString(),
        status: token.lastUsedAt === null ? ('never-used' as const) : ('not-used-in-period' as const),
      }))
      .sort((a, b) => compareText(lastUsed(a), lastUsed(b)) || compareText(a.serial, b.serial));
    return {
      period: { since: this.since.toISOString(), until: this.until.toISOString() },
      by: this.by,
      files,
      lines: this.lines,
      malformed: this.malformed,
      decisions: this.decisions,
      drops: this.dropCount,
      groups,
      totals: { ...this.totals },
      denialReasons: [...this.reasons]
        .map(([reason, count]) => ({ reason, count }))
        .sort((a, b) => byCount(a, b, a.reason, b.reason)),
      lockedUsers: [...this.locked]
        .map(([user, l]) => ({ user, ...l }))
        .sort((a, b) => byCount(a, b, a.user, b.user)),
      appPasswords: [...this.appPw]
        .map(([user, a]) => ({ user, ...a }))
        .sort((a, b) => b.total - a.total || compareText(a.user, b.user)),
      dropReasons: [...this.drops]
        .map(([reason, count]) => ({ reason, count }))
        .sort((a, b) => byCount(a, b, a.reason, b.reason)),
      unusedTokens: unused,
    };
  }
}
