// Builds the optional native oracle addon with the compiler directly (no
// node-gyp, no network), so a fresh clone after `npm ci` can run it wherever
// Node's headers and a compiler are present. The node-addon-api binding
// (native/oracle.cc) needs g++ and the optional dependency; hosts with only a
// C compiler get the plain N-API binding (native/oracle_napi.c) over the same
// core. Any missing piece means "no oracle": callers get null plus a reason,
// never an exception.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { arch, platform } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BuildResult {
  /** Path of the built addon, or null when it is unavailable. */
  path: string | null;
  /** Why the addon is unavailable (one line), or a note about the build. */
  message: string;
}

const NATIVE_REL = join('test', 'oracle', 'native');
const SOURCE_REL = join(NATIVE_REL, 'oracle.cc');

/** The repository root, found from this file whether it runs from test/ or dist/test/. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, SOURCE_REL))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('oracle: cannot locate the repository root');
    dir = up;
  }
}

function nodeIncludeDir(): string | null {
  const candidates = [
    // Official tarballs and actions/setup-node: <prefix>/bin/node, <prefix>/include/node.
    resolve(dirname(process.execPath), '..', 'include', 'node'),
    '/usr/include/node',
    '/usr/local/include/node',
  ];
  const prefix = (process.config.variables as Record<string, unknown>)['node_prefix'];
  if (typeof prefix === 'string') candidates.push(join(prefix, 'include', 'node'));
  return candidates.find((d) => existsSync(join(d, 'node_api.h'))) ?? null;
}

function addonApiDir(root: string): string | null {
  try {
    const req = createRequire(join(root, 'package.json'));
    const dir = dirname(req.resolve('node-addon-api/package.json'));
    return existsSync(join(dir, 'napi.h')) ? dir : null;
  } catch {
    return null;
  }
}

function firstWorking(candidates: Array<string | undefined>): string | null {
  for (const cc of candidates) {
    if (!cc) continue;
    try {
      execFileSync(cc, ['--version'], { stdio: 'ignore', timeout: 10_000 });
      return cc;
    } catch {
      // try the next one
    }
  }
  return null;
}

/** Does `cc` compile this language? (gcc without g++ answers --version but lacks cc1plus.) */
function compiles(cc: string, lang: 'c' | 'c++'): boolean {
  try {
    execFileSync(cc, ['-x', lang, '-fsyntax-only', '-'], { input: 'int main(void) { return 0; }\n', stdio: ['pipe', 'ignore', 'ignore'], timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
}

let cached: BuildResult | undefined;

/**
 * Returns the addon path, building it when the source is newer than the binary.
 * Safe to call from several test files at once: the binary is renamed into place.
 */
export function buildNative(): BuildResult {
  if (cached) return cached;
  cached = buildUncached();
  return cached;
}

function buildUncached(): BuildResult {
  if (arch() !== 'x64' || platform() !== 'linux') {
    return { path: null, message: `native oracle needs x86-64 Linux (host is ${platform()}/${arch()})` };
  }
  let root: string;
  try {
    root = repoRoot();
  } catch (e) {
    return { path: null, message: String((e as Error).message) };
  }
  const nativeDir = join(root, NATIVE_REL);
  const outDir = join(root, 'build', 'oracle');
  const forceC = process.env['ORACLE_BINDING'] === 'c';
  const out = join(outDir, forceC ? 'oracle-napi-c.node' : 'oracle.node');
  const newest = Math.max(...readdirSync(nativeDir).map((f) => statSync(join(nativeDir, f)).mtimeMs));
  if (existsSync(out) && statSync(out).mtimeMs >= newest) {
    return { path: out, message: 'cached' };
  }
  const nodeInc = nodeIncludeDir();
  if (!nodeInc) return { path: null, message: "native oracle skipped: Node's C headers (node_api.h) not found" };

  // ORACLE_BINDING=c forces the fallback, to keep it tested.
  const napiDir = forceC ? null : addonApiDir(root);
  const cxx = napiDir ? firstWorking([process.env['CXX'], 'g++', 'c++', 'clang++']) : null;
  const common = ['-shared', '-fPIC', '-O2', '-Wall', '-DNAPI_VERSION=8', `-I${nodeInc}`];
  let cc: string;
  let args: string[];
  let binding: string;
  if (napiDir && cxx && compiles(cxx, 'c++')) {
    cc = cxx;
    binding = 'node-addon-api';
    args = ['-std=c++17', '-fno-exceptions', ...common, '-DNAPI_DISABLE_CPP_EXCEPTIONS', '-DNODE_ADDON_API_DISABLE_DEPRECATED', `-I${napiDir}`, join(nativeDir, 'oracle.cc')];
  } else {
    const c = firstWorking([process.env['CC'], 'gcc', 'cc', 'clang']);
    if (!c || !compiles(c, 'c')) return { path: null, message: 'native oracle skipped: no C or C++ compiler found' };
    cc = c;
    binding = `plain N-API (${napiDir ? 'no working C++ compiler' : 'node-addon-api unavailable or ORACLE_BINDING=c'})`;
    args = ['-std=gnu11', ...common, '-DNODE_GYP_MODULE_NAME=oracle', join(nativeDir, 'oracle_napi.c')];
  }

  mkdirSync(outDir, { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  try {
    execFileSync(cc, [...args, '-o', tmp], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 120_000 });
    renameSync(tmp, out);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // nothing to clean up
    }
    const stderr = String((e as { stderr?: Buffer }).stderr ?? (e as Error).message);
    const first = stderr.split('\n').find((l) => /error/i.test(l)) ?? stderr.split('\n')[0] ?? '';
    return { path: null, message: `native oracle skipped: build failed: ${first.trim()}` };
  }
  return { path: out, message: `built with ${cc}, ${binding}` };
}
