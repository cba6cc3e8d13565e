import type { Database } from 'better-sqlite3';
import type { ClientMaDecision, ClientMaStore } from '../types.js';

/**
 * What auto clients' first requests decided (RELIABILITY B8), per server name, for `client list`.
 * The server itself keeps the decision in memory: these rows only show it.
 */
export class SqliteClientMa implements ClientMaStore {
  private readonly db: Database;
  private statements: ReturnType<SqliteClientMa['prepare']> | undefined;

  constructor(db: Database) {
    this.db = db;
  }

  /** Prepared on first use: a store opened read-only without migrating may not have the table. */
  private get q() {
    this.statements ??= this.prepare();
    return this.statements;
  }

  private hasTable(): boolean {
    return this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'client_ma'").get() !== undefined;
  }

  private prepare() {
    const db = this.db;
    return {
      record: db.prepare('INSERT OR REPLACE INTO client_ma (server, client, required, decided_at) VALUES (?, ?, ?, ?)'),
      stale: db.prepare('SELECT 1 FROM client_ma WHERE server = ? AND client NOT IN (SELECT value FROM json_each(?)) LIMIT 1').pluck(),
      retain: db.prepare('DELETE FROM client_ma WHERE server = ? AND client NOT IN (SELECT value FROM json_each(?))'),
      list: db.prepare<[string], { client: string; required: number; decided_at: number }>('SELECT client, required, decided_at FROM client_ma WHERE server = ? ORDER BY client'),
    };
  }

  record(server: string, client: string, ma: 'yes' | 'no', at: number): void {
    this.q.record.run(server, client, ma === 'yes' ? 1 : 0, at);
  }

  retain(server: string, clients: readonly string[]): void {
    const keep = JSON.stringify(clients);
    // A read first: a start with nothing to forget (no auto client ever decided) writes nothing,
    // so it does not wait for the write lock of another server on the same store.
    if (this.q.stale.get(server, keep) !== undefined) this.q.retain.run(server, keep);
  }

  /** None from a store older than the table (read-only, not migrated): no server of it recorded any. */
  list(server: string): ClientMaDecision[] {
    if (this.statements === undefined && !this.hasTable()) return [];
    return this.q.list.all(server).map((r) => ({ client: r.client, ma: r.required === 1 ? 'yes' : 'no', decidedAt: r.decided_at }));
  }
}
