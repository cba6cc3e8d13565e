/**
 * Fast path for large PSKC files: splits the text into the container (everything but its
 * KeyPackage children, for @xmldom/xmldom) and the KeyPackages, each read on demand into a small
 * element tree with the few DOM members the reader uses (firstChild, nextSibling, namespaceURI,
 * localName, getAttribute, textContent).
 *
 * The scanner here is deliberately narrower than XML: it accepts only what it can read exactly as
 * xmldom would (ASCII names, quoted attribute values without `&`, `<` or line breaks, the five
 * predefined entities and character references, comments without `--`, CDATA; no processing
 * instruction inside the root, no prefixed attribute other than xmlns:…, every prefix declared).
 * On anything else it returns undefined and the caller parses the whole document with xmldom, so
 * the result never depends on which path read the file; only the time and memory do.
 */
import { normalizeLineEndings } from '@xmldom/xmldom';

export interface XNode {
  readonly nodeType: number;
  readonly nextSibling: XNode | null;
}

/** The part of a DOM Element the PSKC reader uses: xmldom's Element and LightElement both fit. */
export interface XElement extends XNode {
  readonly firstChild: XNode | null;
  readonly namespaceURI: string | null;
  readonly localName: string | null;
  readonly textContent: string | null;
  getAttribute(name: string): string | null;
}

class LightText implements XNode {
  readonly nodeType = 3;
  nextSibling: XNode | null = null;
  constructor(readonly data: string) {}
}

export class LightElement implements XElement {
  readonly nodeType = 1;
  nextSibling: XNode | null = null;
  firstChild: XNode | null = null;
  private last: XNode | null = null;
  constructor(
    readonly namespaceURI: string | null,
    readonly localName: string,
    /** Attribute names and values, alternating (qualified names, as getAttribute takes them). */
    private readonly attrs: string[],
  ) {}

  getAttribute(name: string): string | null {
    for (let i = 0; i < this.attrs.length; i += 2) if (this.attrs[i] === name) return this.attrs[i + 1] as string;
    return null;
  }

  /** DOM §4.4: the text of every descendant Text/CDATA node, in order (comments are not kept). */
  get textContent(): string {
    const parts: string[] = [];
    const walk = (el: LightElement): void => {
      for (let n = el.firstChild; n !== null; n = n.nextSibling) {
        if (n instanceof LightText) parts.push(n.data);
        else walk(n as LightElement);
      }
    };
    walk(this);
    return parts.join('');
  }

  append(node: LightText | LightElement): void {
    if (this.last === null) this.firstChild = node;
    else (this.last as LightText | LightElement).nextSibling = node;
    this.last = node;
  }
}

export interface PskcSplit {
  /** The document without the root's KeyPackage children (whitespace between them is kept). */
  header: string;
  /** The KeyPackages in document order; each call reads the text again into a fresh tree. */
  packages(): Generator<LightElement>;
  count: number;
}

type Scope = ReadonlyMap<string, string>;

// XML 1.0 names, ASCII only (a non-ASCII name sends the file to xmldom).
const QNAME = '([A-Za-z_][\\w.-]*)(?::([A-Za-z_][\\w.-]*))?';
const START_TAG = new RegExp(`<${QNAME}`, 'y');
const ATTRIBUTE = new RegExp(`[ \\t\\n]+${QNAME}=(?:"([^"<&\\t\\n]*)"|'([^'<&\\t\\n]*)')`, 'y');
const TAG_END = /[ \t\n]*(\/?)>/y;
const END_TAG = new RegExp(`</${QNAME}[ \\t\\n]*>`, 'y');
const WHITESPACE = /[ \t\n]*/y;
const NAME_START = /[A-Za-z_]/;
/** Characters xmldom warns about or that are not XML Chars: such a file goes to xmldom. */
// eslint-disable-next-line no-control-regex
const ODD_CHARS = /[\u0001-\u0008\u000b\u000c\u000e-\u001f\ufffd\ufffe\uffff]/;
const REFERENCE = /&(?:(lt|gt|amp|quot|apos)|#([0-9]{1,7})|#x([0-9a-fA-F]{1,6}));/g;
const BAD_AMPERSAND = /&(?!(?:lt|gt|amp|quot|apos|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});)/;
const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/** Thrown inside the scanner when the input is outside what it reads exactly. */
class Unsure extends Error {}

function unsure(): never {
  throw new Unsure();
}

/** `prefix:local` or `local` from a match of QNAME. */
function qualified(m: RegExpExecArray): string {
  return m[2] === undefined ? (m[1] as string) : `${m[1]}:${m[2]}`;
}

function isChar(code: number): boolean {
  return code === 0x9 || code === 0xa || (code >= 0x20 && code <= 0xd7ff) || (code >= 0xe000 && code <= 0xfffd) || (code >= 0x10000 && code <= 0x10ffff);
}

/** Character data: the five predefined entities and character references, nothing else. */
function decode(raw: string): string {
  if (raw.includes(']]>')) unsure();
  if (!raw.includes('&')) return raw;
  if (BAD_AMPERSAND.test(raw)) unsure();
  return raw.replace(REFERENCE, (_m, name: string | undefined, dec: string | undefined, hex: string | undefined) => {
    if (name !== undefined) return PREDEFINED[name] as string;
    const code = dec !== undefined ? Number.parseInt(dec, 10) : Number.parseInt(hex as string, 16);
    if (!isChar(code)) unsure();
    return String.fromCodePoint(code);
  });
}

/** `<!--…-->` at pos (no `--` inside, as XML requires); returns the index after it. */
function skipComment(s: string, pos: number): number {
  const end = s.indexOf('-->', pos + 4);
  if (end < 0) unsure();
  const body = s.slice(pos + 4, end);
  if (body.includes('--') || body.endsWith('-')) unsure();
  return end + 3;
}

interface StartTag {
  element: LightElement;
  qname: string;
  scope: Scope;
  selfClosing: boolean;
  end: number;
}

function readStartTag(s: string, pos: number, scope: Scope): StartTag {
  START_TAG.lastIndex = pos;
  // Callers look at the first name character first, so this always matches.
  const m = START_TAG.exec(s) as RegExpExecArray;
  const [, first, second] = m as unknown as [string, string, string | undefined];
  const attrs: string[] = [];
  let declared: Map<string, string> | undefined;
  let at = START_TAG.lastIndex;
  for (;;) {
    ATTRIBUTE.lastIndex = at;
    const a = ATTRIBUTE.exec(s);
    if (a === null) break;
    at = ATTRIBUTE.lastIndex;
    const [, p, l, dq, sq] = a as unknown as [string, string, string | undefined, string | undefined, string | undefined];
    const name = l === undefined ? p : `${p}:${l}`;
    const value = dq ?? (sq as string);
    for (let i = 0; i < attrs.length; i += 2) if (attrs[i] === name) unsure();
    // Namespace declarations: no undeclaring, no xml/xmlns prefixes; no other prefixed attribute.
    if (name === 'xmlns' || p === 'xmlns') {
      const prefix = l ?? '';
      if (value === '' || prefix === 'xml' || prefix === 'xmlns') unsure();
      declared ??= new Map(scope);
      declared.set(prefix, value);
    } else if (l !== undefined) {
      unsure();
    }
    attrs.push(name, value);
  }
  TAG_END.lastIndex = at;
  const close = TAG_END.exec(s) ?? unsure();
  const inScope = declared ?? scope;
  const prefix = second === undefined ? '' : first;
  const local = second ?? first;
  const uri = inScope.get(prefix);
  if (prefix !== '' && uri === undefined) unsure();
  return {
    element: new LightElement(uri ?? null, local, attrs),
    qname: qualified(m),
    scope: inScope,
    selfClosing: close[1] === '/',
    end: TAG_END.lastIndex,
  };
}

/** One element and its content from pos (a start tag); returns it and the index after it. */
export function readElement(s: string, pos: number, scope: Scope): { element: LightElement; end: number } {
  const open: StartTag[] = [];
  let top = readStartTag(s, pos, scope);
  const root = top.element;
  pos = top.end;
  if (top.selfClosing) return { element: root, end: pos };
  open.push(top);
  for (;;) {
    const lt = s.indexOf('<', pos);
    if (lt < 0) unsure();
    if (lt > pos) top.element.append(new LightText(decode(s.slice(pos, lt))));
    if (s.startsWith('</', lt)) {
      END_TAG.lastIndex = lt;
      const m = END_TAG.exec(s);
      if (m === null || qualified(m) !== top.qname) unsure();
      pos = END_TAG.lastIndex;
      open.pop();
      if (open.length === 0) return { element: root, end: pos };
      top = open[open.length - 1] as StartTag;
    } else if (s.startsWith('<!--', lt)) {
      pos = skipComment(s, lt);
    } else if (s.startsWith('<![CDATA[', lt)) {
      const end = s.indexOf(']]>', lt + 9);
      if (end < 0) unsure();
      top.element.append(new LightText(s.slice(lt + 9, end)));
      pos = end + 3;
    } else if (NAME_START.test(s.charAt(lt + 1))) {
      const tag = readStartTag(s, lt, top.scope);
      top.element.append(tag.element);
      pos = tag.end;
      if (!tag.selfClosing) {
        open.push(tag);
        top = tag;
      }
    } else {
      unsure(); // a processing instruction or other markup inside the root
    }
  }
}

/** Whitespace and comments (prolog, epilog and between the root's children). */
function skipMisc(s: string, pos: number): number {
  for (;;) {
    WHITESPACE.lastIndex = pos;
    WHITESPACE.exec(s);
    pos = WHITESPACE.lastIndex;
    if (!s.startsWith('<!--', pos)) return pos;
    pos = skipComment(s, pos);
  }
}

/**
 * Splits a PSKC document (already refused if it has a DOCTYPE) or returns undefined when the
 * scanner is not sure to read it as xmldom would. Every element is read once here, so a file
 * that is not well-formed in its KeyPackages is never split.
 */
export function splitPskc(text: string, onPackage: (pkg: LightElement) => void): PskcSplit | undefined {
  try {
    const s = normalizeLineEndings(text);
    if (ODD_CHARS.test(s)) return undefined;
    let pos = 0;
    if (s.startsWith('<?xml')) {
      const end = s.indexOf('?>');
      if (end < 0) return undefined;
      pos = end + 2; // the declaration stays in the header, where xmldom checks it
    }
    pos = skipMisc(s, pos);
    if (s.charAt(pos) !== '<' || !NAME_START.test(s.charAt(pos + 1))) return undefined;
    const rootTag = readStartTag(s, pos, new Map());
    const pieces: string[] = [];
    const starts: number[] = [];
    pos = rootTag.end;
    let from = 0;
    if (!rootTag.selfClosing) {
      for (;;) {
        pos = skipMisc(s, pos);
        if (s.startsWith('</', pos)) break;
        if (s.charAt(pos) !== '<' || !NAME_START.test(s.charAt(pos + 1))) return undefined; // text, CDATA or a PI between the root's children
        const { element, end } = readElement(s, pos, rootTag.scope);
        if (element.localName === 'KeyPackage') {
          if (element.namespaceURI !== 'urn:ietf:params:xml:ns:keyprov:pskc') return undefined;
          onPackage(element);
          pieces.push(s.slice(from, pos));
          starts.push(pos);
          from = end;
        }
        pos = end;
      }
      END_TAG.lastIndex = pos;
      const m = END_TAG.exec(s);
      if (m === null || qualified(m) !== rootTag.qname) return undefined;
      pos = END_TAG.lastIndex;
    }
    if (skipMisc(s, pos) !== s.length) return undefined;
    pieces.push(s.slice(from));
    return {
      header: pieces.join(''),
      count: starts.length,
      *packages() {
        for (const start of starts) yield readElement(s, start, rootTag.scope).element;
      },
    };
  } catch (e) {
    /* c8 ignore next -- only Unsure is thrown on purpose; anything else is a bug and must surface */
    if (!(e instanceof Unsure)) throw e;
    return undefined;
  }
}
