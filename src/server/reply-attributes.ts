/**
 * [[reply]] rules → encoded attributes for Access-Accept. Compiled once at start (and on
 * SIGHUP): an unknown attribute name or a bad value stops the server, naming the rule's line.
 */
import { compileReplyRules } from '../auth/reply-rules.js';
import { configErrorAt } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { AttributeError, loadDictionaries } from '../radius/attributes.js';

export interface ReplyAttributes {
  for(user: string, groups: readonly string[]): readonly Buffer[];
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
    // The message names the attribute already ("Foo: no such attribute …").
    throw configErrorAt(configFile, ['reply', compiled.index, 'attributes'], compiled.message);
  }
  return { for: (user, groups) => compiled.rules.attributesFor(user, groups) };
}
