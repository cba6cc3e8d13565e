/**
 * [[reply]] rules → the attributes an Access-Accept carries for a user.
 *
 * Every matching rule applies, in file order, and within a rule its attributes in the order
 * written (an array value gives one attribute per element). A `user` rule matches the user id
 * exactly (the id the primary stage returned: the directory's spelling for LDAP). A `group` rule
 * matches one of the user's groups case-insensitively, ignoring spaces around the separators of
 * a DN ("CN=VPN-Admins, OU=Groups" = "cn=vpn-admins,ou=groups"). Everything is encoded once,
 * here; attributesFor only picks precomputed buffers.
 *
 * Dictionaries (loadDictionaries in src/radius/attributes.ts) must be loaded before compiling.
 */
import type { Config } from '../config/schema.js';
import { encodeAttribute } from '../radius/attributes.js';

export type CompiledReplyRules = { attributesFor(user: string, groups: readonly string[]): Buffer[] };

export type CompileResult =
  | { ok: true; rules: CompiledReplyRules }
  | { ok: false; /** rule index in file order */ index: number; attribute: string; message: string };

/** Group names and DNs compared: lower case, no spaces around unescaped `,` `=` `+`. */
export function normalizeGroup(group: string): string {
  return group
    .trim()
    .replace(/\s*(?<!\\)([,=+])\s*/g, '$1')
    .toLowerCase();
}

interface Compiled {
  user: string | undefined;
  group: string | undefined;
  attributes: Buffer[];
}

export function compileReplyRules(rules: Config['reply']): CompileResult {
  const compiled: Compiled[] = [];
  for (const [index, rule] of rules.entries()) {
    const attributes: Buffer[] = [];
    for (const [attribute, value] of Object.entries(rule.attributes)) {
      const list = Array.isArray(value) ? value : [value];
      if (list.length === 0) return { ok: false, index, attribute, message: `${attribute}: empty list of values` };
      try {
        for (const v of list) attributes.push(encodeAttribute(attribute, v));
      } catch (err) {
        return { ok: false, index, attribute, message: (err as Error).message };
      }
    }
    compiled.push({
      user: rule.user,
      group: rule.group === undefined ? undefined : normalizeGroup(rule.group),
      attributes,
    });
  }
  return {
    ok: true,
    rules: {
      attributesFor(user, groups) {
        const out: Buffer[] = [];
        if (compiled.length === 0) return out;
        const mine = new Set(groups.map(normalizeGroup));
        for (const r of compiled) {
          if (r.user === user || (r.group !== undefined && mine.has(r.group))) out.push(...r.attributes);
        }
        return out;
      },
    },
  };
}
