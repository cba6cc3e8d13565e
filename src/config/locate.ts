/**
 * Finds the line of a key path in TOML source, so that a schema error can name it. The source has
 * already parsed (smol-toml), so this only follows its structure: table headers ([a."b"], [[a]] by
 * index), dotted and quoted keys (a.b = 1, "a" = 1), inline tables ({ b = 1 }, on one line or
 * more), arrays (an element's line, by index) and strings of every kind (a multi-line string's
 * lines are no keys).
 */
import { parse } from 'smol-toml';

export type KeyPath = ReadonlyArray<string | number>;

export function locateKey(source: string, path: KeyPath): number {
  let best = { line: 0, depth: -1 };
  // The first line that defines the longest part of path (the key itself, else its table).
  scanKeys(source, (candidate, line) => {
    let depth = 0;
    while (depth < candidate.length && depth < path.length && candidate[depth] === path[depth]) depth++;
    if (depth === candidate.length && depth > best.depth) best = { line, depth };
  });
  return best.line;
}

/** Calls found(path, line) for every key, table, array element and (for a.b.c) each of a, a.b, a.b.c. */
function scanKeys(source: string, found: (path: KeyPath, line: number) => void): void {
  let i = 0;
  let line = 1;
  /** Entries so far of each array of tables ([[a]]), by its path. */
  const arrays = new Map<string, number>();
  const at = (s: string): boolean => source.startsWith(s, i);
  const advance = (n: number): void => {
    for (const end = i + n; i < end; i++) if (source[i] === '\n') line++;
  };
  const skipSpace = (newlines: boolean): void => {
    for (;;) {
      const c = source[i];
      if (c === ' ' || c === '\t' || c === '\r' || (newlines && c === '\n')) advance(1);
      else if (c === '#') while (i < source.length && source[i] !== '\n') i++;
      else return;
    }
  };
  /** Past a string starting at i; a backslash escapes the next character in "…" and """…""". */
  const skipString = (): void => {
    const quote = source[i] as string;
    const delimiter = at(quote.repeat(3)) ? quote.repeat(3) : quote;
    advance(delimiter.length);
    while (i < source.length && !at(delimiter)) advance(quote === '"' && source[i] === '\\' ? 2 : 1);
    advance(delimiter.length);
    // """a""""" ends in two quotes of the string's own.
    if (delimiter.length === 3) for (let n = 0; n < 2 && source[i] === quote; n++) advance(1);
  };
  /** a . "b" . 'c' → ['a', 'b', 'c']; a quoted part unescaped by smol-toml itself. */
  const readKey = (): string[] => {
    const parts: string[] = [];
    for (;;) {
      skipSpace(false);
      const start = i;
      if (at('"') || at("'")) {
        skipString();
        parts.push(unquote(source.slice(start, i)));
      } else {
        while (i < source.length && !/[\s.=\]"'#]/.test(source[i] as string)) i++;
        parts.push(source.slice(start, i));
      }
      skipSpace(false);
      if (!at('.')) return parts;
      i++;
    }
  };
  /** Each of a, a.b, a.b.c at this line. */
  const define = (path: KeyPath): void => {
    for (let n = 1; n <= path.length; n++) found(path.slice(0, n), line);
  };
  const skipValue = (path: KeyPath): void => {
    skipSpace(false);
    if (at('"') || at("'")) {
      skipString();
    } else if (at('[') || at('{')) {
      const table = at('{');
      advance(1);
      for (let index = 0; ; index++) {
        skipSpace(true);
        if (i >= source.length || at(table ? '}' : ']')) break;
        const start = i;
        if (table) {
          const key = [...path, ...readKey()];
          define(key);
          advance(1); // =
          skipValue(key);
        } else {
          found([...path, index], line);
          skipValue([...path, index]);
        }
        skipSpace(true);
        // A file changed since it parsed may hold anything: every turn moves on.
        if (at(',') || i === start) advance(1);
      }
      advance(1);
    } else {
      while (i < source.length && !/[,\]}#\n]/.test(source[i] as string)) i++;
    }
  };
  /** A header's path: a part naming an array of tables is its latest entry ([[a]] then [a.b] is a[n].b). */
  const resolve = (key: readonly string[]): Array<string | number> => {
    const out: Array<string | number> = [];
    for (const part of key) {
      out.push(part);
      const entries = arrays.get(JSON.stringify(out));
      if (entries !== undefined) out.push(entries - 1);
    }
    return out;
  };

  let table: KeyPath = [];
  for (skipSpace(true); i < source.length; skipSpace(true)) {
    if (at('[[')) {
      advance(2);
      const key = readKey();
      const name = [...resolve(key.slice(0, -1)), key[key.length - 1] as string];
      const index = arrays.get(JSON.stringify(name)) ?? 0;
      arrays.set(JSON.stringify(name), index + 1);
      table = [...name, index];
      define(table);
      advance(2);
    } else if (at('[')) {
      advance(1);
      table = resolve(readKey());
      define(table);
      advance(1);
    } else {
      const key = [...table, ...readKey()];
      define(key);
      advance(1); // =
      skipValue(key);
    }
  }
}

/** A quoted key's text, its escapes read by smol-toml; as written when it does not parse (an unclosed quote). */
function unquote(quoted: string): string {
  try {
    return parse(`k = ${quoted}`).k as string;
  } catch {
    return quoted;
  }
}

/** "client[2].secret" from ['client', 2, 'secret']. */
export function formatKey(path: KeyPath): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out ? `.${part}` : part;
  return out;
}
