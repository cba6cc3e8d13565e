/**
 * Building the user search filter safely: RFC 4515 value escaping, a sanity check on the
 * name before it goes anywhere near the directory, and the attribute that names the user.
 */

/** Longest user name (UTF-8 bytes) we send to the directory; RADIUS User-Name holds at most 253. */
export const MAX_USER_NAME_BYTES = 256;

/**
 * RFC 4515 §3: in an assertion value, `*` `(` `)` `\` and NUL must be written as `\XX`.
 * Everything else, including non-ASCII, goes as UTF-8 (the `UTFMB` production), which is what
 * ldapts encodes; hex-escaping UTF-8 bytes would be double-encoded by ldapts' filter parser,
 * which decodes each `\XX` to one UTF-16 unit.
 */
export function escapeFilterValue(value: string): string {
  return value.replace(/[\\*()\u0000]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** Why a user name is refused before any directory traffic, or null when it is acceptable. */
export function userNameProblem(name: string): string | null {
  if (name.length === 0) return 'empty user name';
  if (Buffer.byteLength(name, 'utf8') > MAX_USER_NAME_BYTES) return `user name longer than ${MAX_USER_NAME_BYTES} bytes`;
  // C0 controls (NUL included) and DEL: no directory has them in a login name.
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'control character in user name';
  // A lone surrogate cannot be encoded as UTF-8 (it would become U+FFFD and match something else).
  if (/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(name)) return 'user name is not valid Unicode';
  return null;
}

/** `template` with every `{user}` replaced by the escaped name. */
export function userFilter(template: string, user: string): string {
  return template.split('{user}').join(escapeFilterValue(user));
}

/**
 * The attribute in the first equality assertion on `{user}` — `uid` in `(uid={user})`,
 * `sAMAccountName` in `(&(objectClass=user)(sAMAccountName={user}))` — or null when the
 * filter has none (e.g. `(mail={user}@example.com)`).
 */
export function userAttributeOf(template: string): string | null {
  const m = /\(([A-Za-z][A-Za-z0-9-]*)=\{user\}\)/.exec(template);
  return m ? (m[1] as string) : null;
}
