/**
 * Boot menu configurations, read the way pygrub did: find the entry a bootloader would boot
 * unattended, and return its kernel, initrd(s) and command line as paths inside the
 * filesystem that holds the configuration. Nothing is executed; GRUB scripts are interpreted
 * just far enough to follow `set default` and the usual generated conditionals.
 */
import { UsageError } from '../cli/errors.js';
import { dirname, joinPath } from '../disk/fs/types.js';

export type BootConfigFormat = 'syslinux' | 'grub' | 'bls';

export interface BootConfig {
  format: BootConfigFormat;
  /** Label (syslinux) or title (GRUB, BLS) of the chosen entry. */
  label: string;
  /** Absolute path inside the configuration's filesystem. */
  kernel: string;
  /** Absolute paths; more than one are concatenated in order, as syslinux and GRUB do. */
  initrds: string[];
  append: string;
}

/** Lets INCLUDE, grubenv and BLS entries be read from the same filesystem. */
export interface ConfigFiles {
  /** File contents as text, or null when it does not exist. */
  read(path: string): string | null;
  /** Names in a directory, or null when it does not exist. */
  list?(path: string): string[] | null;
}

/** The search order: extlinux first, then syslinux, then GRUB (both /boot and a separate /boot). */
export const CONFIG_PATHS = [
  '/boot/extlinux/extlinux.conf',
  '/extlinux/extlinux.conf',
  '/boot/extlinux.conf',
  '/extlinux.conf',
  '/boot/syslinux/syslinux.cfg',
  '/syslinux/syslinux.cfg',
  '/syslinux.cfg',
  '/boot/grub/grub.cfg',
  '/grub/grub.cfg',
  '/boot/grub2/grub.cfg',
  '/grub2/grub.cfg',
];

const noFiles: ConfigFiles = { read: () => null };

/** Parses the configuration at PATH with the parser its name calls for. */
export function parseBootConfig(text: string, path: string, files: ConfigFiles = noFiles): BootConfig {
  return /(^|\/)grub\.cfg$/.test(path) ? parseGrubCfg(text, path, files) : parseSyslinuxCfg(text, path, files);
}

// ---------------------------------------------------------------- SYSLINUX / EXTLINUX

interface SysLabel {
  name: string;
  kernel?: string;
  /** KERNEL with a .c32/.bss/.0/.com... extension, LOCALBOOT, CONFIG: nothing vmrun can boot. */
  other?: string;
  initrd?: string;
  append?: string;
}

const NON_LINUX_EXT = /\.(c32|cbt|com|bs|bss|bin|0|img)$/i;
const MAX_INCLUDE_DEPTH = 16;

/**
 * SYSLINUX's rules: keywords are case-insensitive; relative paths are relative to the
 * configuration file's directory (the working directory SYSLINUX 4+ starts in); a global
 * APPEND applies to labels without their own; "APPEND -" means no options. The entry booted
 * unattended is ONTIMEOUT, else MENU DEFAULT, else DEFAULT, else the first LABEL. A DEFAULT
 * naming no label is a command line of its own ("DEFAULT vmlinuz root=/dev/sda1").
 * INITRD a,b loads both and concatenates them, which Linux unpacks as successive archives.
 */
export function parseSyslinuxCfg(text: string, path: string, files: ConfigFiles = noFiles): BootConfig {
  const dir = dirname(path);
  const labels: SysLabel[] = [];
  let cur: SysLabel | null = null;
  let globalAppend = '';
  let deflt: string | undefined;
  let onTimeout: string | undefined;
  let menuDefault: string | undefined;

  const feed = (src: string, from: string, depth: number): void => {
    let inText = false;
    for (const rawLine of src.split(/\r?\n/)) {
      const line = rawLine.trim();
      if (inText) {
        if (/^endtext\b/i.test(line)) inText = false;
        continue;
      }
      if (line === '' || line.startsWith('#')) continue;
      const m = /^(\S+)\s*(.*)$/.exec(line)!;
      let kw = m[1]!.toLowerCase();
      let arg = m[2]!.trim();
      if (kw === 'menu') {
        const mm = /^(\S+)\s*(.*)$/.exec(arg);
        if (!mm) continue;
        kw = `menu ${mm[1]!.toLowerCase()}`;
        arg = mm[2]!.trim();
      }
      switch (kw) {
        case 'label':
          cur = { name: arg };
          labels.push(cur);
          break;
        case 'kernel':
        case 'linux':
          if (!cur) break;
          if (kw === 'kernel' && NON_LINUX_EXT.test(arg.split(/\s+/)[0]!)) cur.other = `KERNEL ${arg}`;
          else cur.kernel = arg.split(/\s+/)[0];
          break;
        case 'com32':
        case 'boot':
        case 'bss':
        case 'pxe':
        case 'fdimage':
        case 'comboot':
        case 'config':
        case 'localboot':
          if (cur) cur.other = `${kw.toUpperCase()} ${arg}`.trim();
          break;
        case 'initrd':
          if (cur) cur.initrd = arg;
          break;
        case 'append':
          if (cur) cur.append = arg;
          else globalAppend = arg;
          break;
        case 'default':
          deflt = arg;
          break;
        case 'ontimeout':
          onTimeout = arg;
          break;
        case 'menu default':
          if (cur) menuDefault = cur.name;
          break;
        case 'text':
          if (/^help\b/i.test(arg)) inText = true;
          break;
        case 'include':
        case 'menu include': {
          const file = arg.split(/\s+/)[0];
          if (!file) break;
          if (depth >= MAX_INCLUDE_DEPTH) throw new UsageError(`${from}: INCLUDE nested more than ${MAX_INCLUDE_DEPTH} deep`);
          const p = joinPath(dir, file);
          const t = files.read(p);
          // SYSLINUX skips a missing include silently, and so do we.
          if (t !== null) feed(t, p, depth + 1);
          break;
        }
        default:
          break;
      }
    }
  };
  feed(text, path, 0);

  const find = (name: string): SysLabel | undefined => labels.find((l) => l.name === name) ?? labels.find((l) => l.name.toLowerCase() === name.toLowerCase());
  const wanted = onTimeout ?? menuDefault ?? deflt;
  let chosen: SysLabel | undefined;
  if (wanted !== undefined) {
    chosen = find(wanted);
    if (!chosen && !NON_LINUX_EXT.test(wanted.split(/\s+/)[0]!)) {
      // DEFAULT as a bare command line: first word the kernel, the rest its options.
      const [k, ...rest] = wanted.split(/\s+/);
      chosen = { name: wanted, kernel: k, append: [rest.join(' '), globalAppend].filter(Boolean).join(' ') };
    }
  }
  chosen ??= labels.find((l) => l.kernel) ?? labels[0];
  if (!chosen) throw new UsageError(`${path}: no LABEL with a kernel`);
  if (!chosen.kernel) throw new UsageError(`${path}: default entry '${chosen.name}' is ${chosen.other ?? 'not a Linux kernel (no KERNEL/LINUX line)'}, which vmrun cannot boot`);
  let append = chosen.append ?? globalAppend;
  if (append === '-') append = '';
  let initrdSpec = chosen.initrd;
  if (initrdSpec === undefined) {
    const m = /(?:^|\s)initrd=(\S+)/.exec(append);
    if (m) initrdSpec = m[1];
  }
  const initrds = (initrdSpec ?? '').split(',').map((s) => s.trim()).filter(Boolean).map((p) => joinPath(dir, p));
  return { format: 'syslinux', label: chosen.name, kernel: joinPath(dir, chosen.kernel), initrds, append };
}

// ---------------------------------------------------------------- GRUB 2

type Part = { s: string; q: 'none' | 'single' | 'double' };
type Tok = { t: 'word'; parts: Part[] } | { t: 'nl' } | { t: '{' } | { t: '}' };

type Cmd =
  | { k: 'simple'; words: Part[][] }
  | { k: 'if'; clauses: Array<{ cond: Cmd[]; body: Cmd[] }>; otherwise: Cmd[] | null }
  | { k: 'block'; kind: 'menuentry' | 'submenu'; words: Part[][]; body: Cmd[] }
  | { k: 'skip' };

function lexGrub(src: string, path: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  const n = src.length;
  while (i < n) {
    const c = src[i]!;
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
      continue;
    }
    if (c === '\\' && src[i + 1] === '\n') {
      i += 2;
      continue;
    }
    if (c === '\n' || c === ';') {
      out.push({ t: 'nl' });
      i++;
      continue;
    }
    if (c === '#') {
      while (i < n && src[i] !== '\n') i++;
      continue;
    }
    const parts: Part[] = [];
    let plain = '';
    const flush = () => {
      if (plain) parts.push({ s: plain, q: 'none' });
      plain = '';
    };
    while (i < n) {
      const ch = src[i]!;
      if (ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n' || ch === ';') break;
      if (ch === '\\') {
        if (src[i + 1] === '\n') {
          i += 2;
          continue;
        }
        flush();
        parts.push({ s: src[i + 1] ?? '', q: 'single' });
        i += 2;
      } else if (ch === "'") {
        const end = src.indexOf("'", i + 1);
        if (end < 0) throw new UsageError(`${path}: unterminated ' quote`);
        flush();
        parts.push({ s: src.slice(i + 1, end), q: 'single' });
        i = end + 1;
      } else if (ch === '"') {
        flush();
        let s = '';
        i++;
        while (i < n && src[i] !== '"') {
          if (src[i] === '\\' && i + 1 < n && '"\\$\n'.includes(src[i + 1]!)) {
            if (src[i + 1] !== '\n') s += src[i + 1] === '$' ? '\\$' : src[i + 1];
            i += 2;
          } else s += src[i++];
        }
        if (i >= n) throw new UsageError(`${path}: unterminated " quote`);
        i++;
        parts.push({ s, q: 'double' });
      } else {
        plain += ch;
        i++;
      }
    }
    flush();
    if (parts.length === 1 && parts[0]!.q === 'none' && (parts[0]!.s === '{' || parts[0]!.s === '}')) out.push({ t: parts[0]!.s as '{' | '}' });
    else out.push({ t: 'word', parts });
  }
  return out;
}

const bare = (w: Part[] | undefined): string | null => (w && w.length === 1 && w[0]!.q === 'none' ? w[0]!.s : null);

class GrubParser {
  private i = 0;
  constructor(
    private readonly toks: Tok[],
    private readonly path: string,
  ) {}

  list(stops: string[]): Cmd[] {
    const out: Cmd[] = [];
    for (;;) {
      while (this.peek()?.t === 'nl') this.i++;
      const t = this.peek();
      if (!t) {
        if (stops.length) throw new UsageError(`${this.path}: missing '${stops[0]}'`);
        return out;
      }
      if (t.t === '}') {
        if (stops.includes('}')) return out;
        throw new UsageError(`${this.path}: unexpected '}'`);
      }
      if (t.t === '{') {
        this.i++;
        out.push({ k: 'simple', words: [] }, ...this.list(['}']));
        this.i++;
        continue;
      }
      const w = t.t === 'word' ? bare(t.parts) : null;
      if (w !== null && stops.includes(w)) return out;
      out.push(this.command());
    }
  }

  private peek(): Tok | undefined {
    return this.toks[this.i];
  }

  private words(): Part[][] {
    const ws: Part[][] = [];
    for (let t = this.peek(); t && t.t === 'word'; t = this.peek()) {
      ws.push(t.parts);
      this.i++;
    }
    return ws;
  }

  private expectWord(w: string): void {
    while (this.peek()?.t === 'nl') this.i++;
    const t = this.peek();
    if (!t || t.t !== 'word' || bare(t.parts) !== w) throw new UsageError(`${this.path}: expected '${w}'`);
    this.i++;
  }

  private block(): Cmd[] {
    const t = this.peek();
    if (!t || t.t !== '{') throw new UsageError(`${this.path}: expected '{'`);
    this.i++;
    const body = this.list(['}']);
    this.i++;
    return body;
  }

  private command(): Cmd {
    const first = bare((this.peek() as { parts: Part[] }).parts);
    if (first === 'if') {
      this.i++;
      const clauses: Array<{ cond: Cmd[]; body: Cmd[] }> = [];
      let otherwise: Cmd[] | null = null;
      for (;;) {
        const cond = this.list(['then']);
        this.expectWord('then');
        const body = this.list(['elif', 'else', 'fi']);
        clauses.push({ cond, body });
        const kw = bare((this.peek() as { parts: Part[] }).parts);
        this.i++;
        if (kw === 'elif') continue;
        if (kw === 'else') {
          otherwise = this.list(['fi']);
          this.expectWord('fi');
        }
        return { k: 'if', clauses, otherwise };
      }
    }
    if (first === 'while' || first === 'until' || first === 'for') {
      // Loops only appear around things a menu reader has no use for; parse and drop them.
      this.i++;
      this.list(['do']);
      this.expectWord('do');
      this.list(['done']);
      this.expectWord('done');
      return { k: 'skip' };
    }
    if (first === 'function') {
      this.i++;
      this.words();
      this.block();
      return { k: 'skip' };
    }
    if (first === 'menuentry' || first === 'submenu') {
      this.i++;
      const words = this.words();
      return { k: 'block', kind: first, words, body: this.block() };
    }
    return { k: 'simple', words: this.words() };
  }
}

interface Entry {
  kind: 'menuentry' | 'submenu';
  title: string;
  id: string;
  body: Cmd[];
}

/** Variables GRUB itself defines on a BIOS PC, so generated feature tests take their usual branch. */
const GRUB_BUILTINS: Record<string, string> = {
  grub_platform: 'pc',
  grub_cpu: 'i386',
  feature_menuentry_id: 'y',
  feature_default_font_path: 'y',
  feature_all_video_module: 'y',
  feature_timeout_style: 'y',
  feature_platform_search_hint: 'y',
  feature_200_final: 'y',
  feature_nativedisk_cmd: 'y',
  feature_chainloader_bpb: 'y',
  feature_ntldr: 'y',
};

const MAX_STEPS = 100_000;

class GrubRunner {
  vars = new Map<string, string>(Object.entries(GRUB_BUILTINS));
  entries: Entry[] = [];
  linux: string[] | null = null;
  initrd: string[] | null = null;
  blscfg = false;
  private steps = 0;

  constructor(
    private readonly path: string,
    private readonly files: ConfigFiles,
  ) {
    this.vars.set('prefix', dirname(path));
    this.vars.set('config_directory', dirname(path));
  }

  expand(w: Part[]): { text: string; quoted: boolean } {
    let text = '';
    let quoted = false;
    for (const p of w) {
      if (p.q === 'single') {
        text += p.s;
        quoted = true;
        continue;
      }
      if (p.q === 'double') quoted = true;
      text += p.s.replace(/\\\$|\$\{([^}]*)\}|\$([A-Za-z_][A-Za-z0-9_]*|[0-9?#@*])/g, (m, a?: string, b?: string) => (m === '\\$' ? '$' : this.vars.get(a ?? b ?? '') ?? ''));
    }
    return { text, quoted };
  }

  /** Expanded words; an unquoted word that expands to nothing disappears, as in GRUB. */
  argv(words: Part[][]): string[] {
    const out: string[] = [];
    for (const w of words) {
      const { text, quoted } = this.expand(w);
      if (text === '' && !quoted) continue;
      // Unquoted expansions split on blanks ("$menuentry_id_option" → --id, "$vt_handoff" → nothing).
      if (!quoted && w.some((p) => p.q === 'none' && p.s.includes('$'))) out.push(...text.split(/[ \t]+/).filter(Boolean));
      else out.push(text);
    }
    return out;
  }

  run(cmds: Cmd[], collect: Entry[]): void {
    for (const c of cmds) {
      if (++this.steps > MAX_STEPS) throw new UsageError(`${this.path}: script too large`);
      switch (c.k) {
        case 'skip':
          break;
        case 'simple':
          this.simple(c.words);
          break;
        case 'block': {
          const argv = this.argv(c.words);
          let title = '';
          let id = '';
          for (let i = 0; i < argv.length; i++) {
            const a = argv[i]!;
            if (a === '--id') id = argv[++i] ?? '';
            else if (/^--(class|users|hotkey|source)$/.test(a)) i++;
            else if (a.startsWith('--')) continue;
            else if (!title) title = a;
          }
          collect.push({ kind: c.kind, title, id, body: c.body });
          break;
        }
        case 'if': {
          let done = false;
          for (const cl of c.clauses) {
            const v = this.evalCond(cl.cond);
            if (v === false) continue;
            this.run(cl.body, collect);
            // An unknown condition runs the branch and falls through to the rest, so that
            // generated "if A; then set default=X; else set default=0; fi" ends on the fallback.
            if (v === true) {
              done = true;
              break;
            }
          }
          if (!done && c.otherwise) this.run(c.otherwise, collect);
          break;
        }
      }
    }
  }

  private simple(words: Part[][]): void {
    if (words.length === 0) return;
    const raw0 = words[0]!;
    const m = raw0[0]?.q === 'none' ? /^([A-Za-z_][A-Za-z0-9_]*)=/.exec(raw0[0].s) : null;
    if (m && words.length === 1) {
      const value = this.expand([{ s: raw0[0]!.s.slice(m[0].length), q: 'none' }, ...raw0.slice(1)]).text;
      this.vars.set(m[1]!, value);
      return;
    }
    const argv = this.argv(words);
    const [cmd, ...args] = argv;
    switch (cmd) {
      case 'set': {
        const a = args[0];
        if (!a) return;
        const eq = a.indexOf('=');
        if (eq > 0) this.vars.set(a.slice(0, eq), a.slice(eq + 1));
        return;
      }
      case 'unset':
        for (const a of args) this.vars.delete(a);
        return;
      case 'load_env':
        this.loadEnv(args);
        return;
      case 'linux':
      case 'linuxefi':
      case 'linux16':
        this.linux = args.filter((a, i) => !(i === 0 && a.startsWith('--')));
        return;
      case 'initrd':
      case 'initrdefi':
      case 'initrd16':
        this.initrd = args.filter((a) => !a.startsWith('--'));
        return;
      case 'blscfg':
        this.blscfg = true;
        return;
      default:
        return;
    }
  }

  private loadEnv(args: string[]): void {
    let file = `${dirname(this.path)}/grubenv`;
    let whitelist: string[] = [];
    for (let i = 0; i < args.length; i++) {
      if (args[i] === '-f' || args[i] === '--file') file = args[++i] ?? file;
      else if (!args[i]!.startsWith('-')) whitelist.push(args[i]!);
    }
    const text = this.files.read(stripDevice(file));
    if (text === null) return;
    for (const line of text.split('\n')) {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
      if (m && (whitelist.length === 0 || whitelist.includes(m[1]!))) this.vars.set(m[1]!, m[2]!);
    }
    whitelist = [];
  }

  /** true/false when the test is one we can decide, null otherwise. */
  private evalCond(cond: Cmd[]): boolean | null {
    const last = cond[cond.length - 1];
    if (!last || last.k !== 'simple') return null;
    let argv = this.argv(last.words);
    let negate = false;
    if (argv[0] === '!') {
      negate = true;
      argv = argv.slice(1);
    }
    const v = this.test(argv);
    return v === null ? null : v !== negate;
  }

  private test(argv: string[]): boolean | null {
    const [cmd] = argv;
    if (cmd === 'true') return true;
    if (cmd === 'false') return false;
    let a: string[];
    if (cmd === '[') {
      if (argv[argv.length - 1] !== ']') return null;
      a = argv.slice(1, -1);
    } else if (cmd === 'test') a = argv.slice(1);
    else return null;
    // Unquoted empty expansions vanish, so "[ $x = y ]" with x unset reads as "[ = y ]".
    if (a.length === 0) return false;
    if (a.length === 1) return a[0] !== '';
    if (a.length === 2 && a[0] === '-n') return a[1] !== '';
    if (a.length === 2 && a[0] === '-z') return a[1] === '';
    if (a.length === 3 && (a[1] === '=' || a[1] === '==')) return a[0] === a[2];
    if (a.length === 3 && a[1] === '!=') return a[0] !== a[2];
    return null;
  }
}

function stripDevice(p: string): string {
  const m = /^\([^)]*\)(.*)$/.exec(p);
  const rest = m ? m[1]! : p;
  return rest.startsWith('/') ? rest : `/${rest}`;
}

/**
 * GRUB 2's grub.cfg: the entry named by `set default=` (an index, "N>M" into a submenu, a
 * title or a --id), else the first; its `linux`/`linuxefi`/`linux16` and `initrd` lines.
 * Device prefixes like "($root)" or "(hd0,msdos1)" are dropped: paths are taken on the
 * filesystem holding grub.cfg. Tests GRUB itself would decide from the platform or from
 * variables are evaluated; others (`if loadfont …`) run both ways in order.
 */
export function parseGrubCfg(text: string, path: string, files: ConfigFiles = noFiles, env: Record<string, string> = {}): BootConfig {
  const toks = lexGrub(text, path);
  const cmds = new GrubParser(toks, path).list([]);
  const r = new GrubRunner(path, files);
  for (const [k, v] of Object.entries(env)) r.vars.set(k, v);
  r.run(cmds, r.entries);
  let entries: Entry[] = r.entries;
  let format: BootConfigFormat = 'grub';
  if (entries.length === 0 && r.blscfg) {
    entries = blsEntries(files);
    format = 'bls';
  }
  if (entries.length === 0) throw new UsageError(`${path}: no menuentry`);
  const deflt = (r.vars.get('default') ?? '').trim();
  let entry = pick(entries, deflt, r) ?? entries[0]!;
  // A submenu chosen without a path below it boots its own first entry.
  for (let depth = 0; entry.kind === 'submenu' && depth < 8; depth++) {
    const inner: Entry[] = [];
    r.run(entry.body, inner);
    if (inner.length === 0) throw new UsageError(`${path}: submenu '${entry.title}' is empty`);
    entry = inner[0]!;
  }
  if (entry.kind === 'submenu') throw new UsageError(`${path}: submenus nested too deep`);
  r.linux = null;
  r.initrd = null;
  if (format === 'bls') {
    const b = entry as BlsEntry;
    r.linux = [b.linux, ...r.argv([[{ s: b.options, q: 'none' }]])];
    r.initrd = b.initrds;
  } else {
    r.run(entry.body, []);
  }
  if (!r.linux || r.linux.length === 0) throw new UsageError(`${path}: entry '${entry.title}' has no linux line`);
  const [kernel, ...args] = r.linux;
  return {
    format,
    label: entry.title,
    kernel: stripDevice(kernel!),
    initrds: (r.initrd ?? []).map(stripDevice),
    append: args.join(' '),
  };
}

function pick(entries: Entry[], spec: string, r: GrubRunner): Entry | null {
  if (spec === '') return entries[0] ?? null;
  const [head, ...rest] = spec.split('>');
  const h = head!;
  const e = /^\d+$/.test(h) ? entries[Number(h)] : entries.find((x) => x.title === h || x.id === h);
  if (!e) return null;
  if (rest.length === 0 || e.kind !== 'submenu') return e;
  const inner: Entry[] = [];
  r.run(e.body, inner);
  return pick(inner, rest.join('>'), r) ?? inner[0] ?? e;
}

interface BlsEntry extends Entry {
  linux: string;
  initrds: string[];
  options: string;
}

/**
 * Boot Loader Specification snippets (Fedora, RHEL): /loader/entries/*.conf beside or under
 * /boot, newest version first as GRUB's blscfg sorts them.
 */
function blsEntries(files: ConfigFiles): Entry[] {
  const out: BlsEntry[] = [];
  for (const dir of ['/boot/loader/entries', '/loader/entries']) {
    const names = files.list?.(dir);
    if (!names) continue;
    for (const name of names.filter((n) => n.endsWith('.conf')).sort((a, b) => b.localeCompare(a, 'en', { numeric: true }))) {
      const text = files.read(`${dir}/${name}`);
      if (text === null) continue;
      const e: BlsEntry = { kind: 'menuentry', title: name, id: name.slice(0, -5), body: [], linux: '', initrds: [], options: '' };
      for (const line of text.split(/\r?\n/)) {
        const m = /^\s*(\S+)\s+(.*?)\s*$/.exec(line);
        if (!m || m[1]!.startsWith('#')) continue;
        const [, k, v] = m as unknown as [string, string, string];
        if (k === 'title') e.title = v;
        else if (k === 'linux') e.linux = v;
        else if (k === 'initrd') e.initrds.push(...v.split(/\s+/));
        else if (k === 'options') e.options = e.options ? `${e.options} ${v}` : v;
      }
      if (e.linux) out.push(e);
    }
    if (out.length) break;
  }
  return out;
}
