// Builds the optional native oracle addon with g++ directly (no node-gyp, no
// network), so a fresh clone after `npm ci` can run it wherever a C++ compiler,
// Node's headers and node-addon-api are present. Any missing piece means
// "no oracle": callers get null plus a reason, never an exception.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, statSync, unlinkSync } from 'node:fs';
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

const SOURCE_REL = join('test', 'oracle', 'native', 'oracle.cc');

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

function compiler(): string | null {
  for (const cxx of [process.env['CXX'], 'g++', 'c++', 'clang++']) {
    if (!cxx) continue;
    try {
      execFileSync(cxx, ['--version'], { stdio: 'ignore', timeout: 10_000 });
      return cxx;
    } catch {
      // try the next one
    }
  }
  return null;
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
  const source = join(root, SOURCE_REL);
  const outDir = join(root, 'build', 'oracle');
  const out = join(outDir, 'oracle.node');
  if (existsSync(out) && statSync(out).mtimeMs >= statSync(source).mtimeMs) {
    return { path: out, message: 'cached' };
  }
  const napiDir = addonApiDir(root);
  if (!napiDir) return { path: null, message: 'native oracle skipped: node-addon-api is not installed' };
  const nodeInc = nodeIncludeDir();
  if (!nodeInc) return { path: null, message: "native oracle skipped: Node's C headers (node_api.h) not found" };
  const cxx = compiler();
  if (!cxx) return { path: null, message: 'native oracle skipped: no C++ compiler (g++) found' };

  mkdirSync(outDir, { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  const args = [
    '-std=c++17', '-shared', '-fPIC', '-O2', '-fno-exceptions', '-Wall',
    '-DNAPI_VERSION=8', '-DNAPI_DISABLE_CPP_EXCEPTIONS', '-DNODE_ADDON_API_DISABLE_DEPRECATED',
    `-I${napiDir}`, `-I${nodeInc}`,
    '-o', tmp, source,
  ];
  try {
    execFileSync(cxx, args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 120_000 });
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
  return { path: out, message: 'built' };
}
