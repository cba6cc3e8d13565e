import type { Database } from 'better-sqlite3';
import type { StoredUser, UserStore } from '../types.js';

interface UserRow {
  name: string;
  password_hash: string | null;
  enabled: number;
  created_at: number;
}

/** A user's enabled flag (1 or 0; no row for a user the table does not know). tokens.ts reads it too. */
export const USER_ENABLED_SQL = 'SELECT enabled FROM users WHERE name = ?';

/** The flag as read: only an explicit 0 disables (an unknown user is not a disabled one). */
export const isDisabledFlag = (enabled: unknown): boolean => enabled === 0;

const toUser = (r: UserRow): StoredUser => ({
  name: r.name,
  hasPassword: r.password_hash !== null,
  enabled: r.enabled === 1,
  createdAt: r.created_at,
});

export class SqliteUsers implements UserStore {
  private readonly q;

  constructor(
    db: Database,
    private readonly now: () => number,
    /** A user was added, removed, enabled or disabled: the token mirror forgets what it holds. */
    private readonly changed: () => void,
  ) {
    this.q = {
      add: db.prepare('INSERT OR IGNORE INTO users (name, password_hash, created_at) VALUES (?, ?, ?)'),
      setPassword: db.prepare('UPDATE users SET password_hash = ? WHERE name = ?'),
      delete: db.prepare('DELETE FROM users WHERE name = ?'),
      get: db.prepare<[string], UserRow>('SELECT * FROM users WHERE name = ?'),
      enabled: db.prepare<[string], number>(USER_ENABLED_SQL).pluck(),
      list: db.prepare<[], UserRow>('SELECT * FROM users ORDER BY name'),
      setEnabled: db.prepare('UPDATE users SET enabled = ? WHERE name = ?'),
      groups: db.prepare<[string], { grp: string }>('SELECT grp FROM user_groups WHERE user = ? ORDER BY grp'),
      addGroup: db.prepare('INSERT OR IGNORE INTO user_groups (user, grp) VALUES (?, ?)'),
      removeGroup: db.prepare('DELETE FROM user_groups WHERE user = ? AND grp = ?'),
    };
  }

  add(name: string, passwordHash: string | null): boolean {
    this.changed();
    return this.q.add.run(name, passwordHash, this.now()).changes === 1;
  }
  setPassword(name: string, passwordHash: string): boolean {
    return this.q.setPassword.run(passwordHash, name).changes === 1;
  }
  delete(name: string): boolean {
    this.changed();
    return this.q.delete.run(name).changes === 1;
  }
  get(name: string): StoredUser | undefined {
    const r = this.q.get.get(name);
    return r && toUser(r);
  }
  isDisabled(name: string): boolean {
    return isDisabledFlag(this.q.enabled.get(name));
  }
  passwordHash(name: string): string | null {
    return this.q.get.get(name)?.password_hash ?? null;
  }
  list(): StoredUser[] {
    return this.q.list.all().map(toUser);
  }
  ensure(name: string): boolean {
    return this.add(name, null);
  }
  setEnabled(name: string, enabled: boolean): boolean {
    this.changed();
    return this.q.setEnabled.run(enabled ? 1 : 0, name).changes === 1;
  }
  groups(name: string): string[] {
    return this.q.groups.all(name).map((r) => r.grp);
  }
  addToGroup(name: string, group: string): boolean {
    return this.q.addGroup.run(name, group).changes === 1;
  }
  removeFromGroup(name: string, group: string): boolean {
    return this.q.removeGroup.run(name, group).changes === 1;
  }
}
