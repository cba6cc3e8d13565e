/**
 * [[reply]] rules → encoded attributes for Access-Accept. Compiled once at start (and on
 * SIGHUP): an unknown attribute name or a bad value stops the server, naming the rule's line.
 */
import { readFileSync } from 'node:fs';
import { compileReplyRules } from '../auth/reply-rules.js';
import { ConfigError } from '../config/errors.js';
import { formatKey, locateKey, type KeyPath } from '../config/locate.js';
import type { Config } from '../config/schema.js';
import { AttributeError, loadDictionaries } from '../radius/attributes.js';

export interface ReplyAttributes {
  for(user: string, groups: readonly string[]): readonly Buffer[];
}

/** A ConfigError for `path`, with its line looked up in the config file. */
export function configErrorAt(configFile: string, path: KeyPath, reason: string): ConfigError {
  let line = 0;
  try {
    line = locateKey(readFileSync(configFile, 'utf8'), path);
  } catch {
    // The file is gone or unreadable since it was loaded: the key alone still says where.
  }
  return new ConfigError('invalid', configFile, formatKey(path), line, reason);
}

export function buildReplyAttributes(config: Config, configFile: string): ReplyAttributes {
  try {
    loadDictionaries(config.dictionaries);
  } catch (err) {
    /* c8 ignore next -- loadDictionaries throws only AttributeError */
    if (!(err instanceof AttributeError)) throw err;
    throw configErrorAt(configFile, ['dictionaries'], err.message);
  }
  const compiled = compileReplyRules(config.reply);
  if (!compiled.ok) {
    throw configErrorAt(configFile, ['reply', compiled.index, 'attributes'], `${compiled.attribute}: ${compiled.message}`);
  }
  return { for: (user, groups) => compiled.rules.attributesFor(user, groups) };
}
