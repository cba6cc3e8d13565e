/**
 * Every command's --help, reached by walking the command lists from the top (aliases too): its
 * usage line names the command itself, and every positional and option says what it is.
 */
import t from 'tap';
import { cli } from '../helpers/cli.js';

/** The lines of one section ("Commands:", "Positionals:", "Options:") of a help text. */
function section(help: string, title: string): string[] {
  const lines = help.split('\n');
  const start = lines.indexOf(title);
  if (start === -1) return [];
  const end = lines.findIndex((l, i) => i > start && l === '');
  return lines.slice(start + 1, end === -1 ? undefined : end);
}

/** The command words (placeholders left out) of each entry of a Commands section, and of its aliases. */
function subcommands(help: string, parent: readonly string[]): string[][] {
  const entries = section(help, 'Commands:')
    .join('\n')
    .split(/\n(?= {2}radius-otp )/)
    .filter((e) => e.trim() !== '');
  return entries.flatMap((entry) => {
    const words = (/^ {2}radius-otp (.+?)(?: {2}|$)/m.exec(entry)?.[1] ?? '').split(' ').filter((w) => !/^[<[]/.test(w));
    const aliases = /\[aliases: ([^\]]+)\]/.exec(entry.replace(/\s+/g, ' '))?.[1]?.split(', ') ?? [];
    return [words, ...aliases.map((a) => [...parent, a])];
  });
}

t.test('every command’s --help names that command and describes each of its arguments', async (t) => {
  const seen: string[] = [];
  const walk = async (path: readonly string[]): Promise<void> => {
    const help = await cli([...path, '--help']);
    const name = ['radius-otp', ...path].join(' ');
    seen.push(name);
    t.equal(help.code, 0, `${name} --help`);
    t.match(help.stdout.split('\n')[0], new RegExp(`^${name}(?: |$)`), `${name} --help: the usage line names it`);
    for (const title of ['Positionals:', 'Options:']) {
      for (const line of section(help.stdout, title)) {
        const m = /^ {2}(\S+)\s+(.*)$/.exec(line);
        if (m === null) continue; // the wrapped rest of a description
        t.notMatch(m[2], /^\[/, `${name} --help: ${m[1]} has a description`);
      }
    }
    for (const sub of subcommands(help.stdout, path)) await walk(sub);
  };
  await walk([]);
  // The walk reached every command, aliases and all (so a command the parse missed fails here).
  t.ok(seen.length >= 30, `${seen.length} help texts`);
  for (const c of ['user disable', 'user group-remove', 'token assign', 'app-password revoke', 'import csv', 'report']) t.ok(seen.includes(`radius-otp ${c}`), c);
});
