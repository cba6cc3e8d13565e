import type { Database } from 'better-sqlite3';
import type { AppPasswordStore, StoredAppPassword } from '../types.js';

interface AppPasswordRow {
  id: number;
  user: string;
  label: string;
  created_at: number;
  last_used_at: number | null;
}

const toAppPassword = (r: AppPasswordRow): StoredAppPassword => ({
  id: r.id,
  user: r.user,
  label: r.label,
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
});

export class SqliteAppPasswords implements AppPasswordStore {
  private readonly q;

  constructor(
    db: Database,
    private readonly now: () => number,
  ) {
    this.q = {
      create: db.prepare<[string, string, string, number], AppPasswordRow>(
        'INSERT INTO app_passwords (user, label, hash, created_at) VALUES (?, ?, ?, ?) RETURNING id, user, label, created_at, last_used_at',
      ),
      list: db.prepare<[string], AppPasswordRow>(
        'SELECT id, user, label, created_at, last_used_at FROM app_passwords WHERE user = ? ORDER BY id',
      ),
      hashes: db.prepare<[string], { id: number; hash: string }>('SELECT id, hash FROM app_passwords WHERE user = ? ORDER BY id'),
      touch: db.prepare('UPDATE app_passwords SET last_used_at = ? WHERE id = ?'),
      revoke: db.prepare('DELETE FROM app_passwords WHERE user = ? AND id = ?'),
      revokeAll: db.prepare('DELETE FROM app_passwords WHERE user = ?'),
    };
  }

  create(user: string, label: string, hash: string): StoredAppPassword {
    return toAppPassword(this.q.create.get(user, label, hash, this.now()) as AppPasswordRow);
  }
  list(user: string): StoredAppPassword[] {
    return this.q.list.all(user).map(toAppPassword);
  }
  hashes(user: string): Array<{ id: number; hash: string }> {
    return this.q.hashes.all(user);
  }
  touch(id: number, now: number): void {
    this.q.touch.run(now, id);
  }
  revoke(user: string, id: number): boolean {
    return this.q.revoke.run(user, id).changes === 1;
  }
  revokeAll(user: string): number {
    return this.q.revokeAll.run(user).changes;
  }
}
