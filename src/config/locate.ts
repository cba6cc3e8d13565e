/**
 * Finds the line of a key path in TOML source, so that a schema error can name it.
 * It reads table headers ([a], [[a]]) and `key =` lines; that covers every shape radius.conf uses.
 */
export type KeyPath = ReadonlyArray<string | number>;

export function locateKey(source: string, path: KeyPath): number {
  const lines = source.split(/\r?\n/);
  const arrayCounts = new Map<string, number>();
  let table: Array<string | number> = [];
  let best = { line: 0, depth: -1 };
  const consider = (candidate: ReadonlyArray<string | number>, line: number): void => {
    let depth = 0;
    while (depth < candidate.length && depth < path.length && candidate[depth] === path[depth]) depth++;
    if (depth === candidate.length && depth > best.depth) best = { line, depth };
  };
  for (let i = 0; i < lines.length; i++) {
    const text = (lines[i] as string).trim();
    const arrayHeader = /^\[\[\s*([A-Za-z0-9_.-]+)\s*\]\]/.exec(text);
    const tableHeader = arrayHeader ? null : /^\[\s*([A-Za-z0-9_.-]+)\s*\]/.exec(text);
    if (arrayHeader) {
      const name = arrayHeader[1] as string;
      const index = arrayCounts.get(name) ?? 0;
      arrayCounts.set(name, index + 1);
      table = [...name.split('.'), index];
      consider(table, i + 1);
      continue;
    }
    if (tableHeader) {
      table = (tableHeader[1] as string).split('.');
      consider(table, i + 1);
      continue;
    }
    const key = /^("[^"]*"|'[^']*'|[A-Za-z0-9_-]+)\s*=/.exec(text);
    if (key) {
      const name = (key[1] as string).replace(/^["']|["']$/g, '');
      consider([...table, name], i + 1);
    }
  }
  return best.line;
}

/** "client[2].secret" from ['client', 2, 'secret']. */
export function formatKey(path: KeyPath): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out ? `.${part}` : part;
  return out;
}
