/**
 * Small programs run with `node -e` inside the images (they hold no shell): each prints one JSON
 * line of facts observed from the inside, for the tests to assert on. Plain JavaScript strings,
 * so no transpiler touches what runs in the container.
 */

export interface ProcessFacts {
  processes: { pid: number; name: string; uid: string[]; gid: string[]; capEff: string; capPrm: string; capBnd: string; noNewPrivs: string; seccomp: string }[];
  /** Result of writing a file there: "ok" or the error code (EROFS, EACCES, ...). */
  writes: Record<'root' | 'app' | 'tmp', string>;
}

/** Every process of the container (from /proc) with its ids, capabilities and restrictions, and where it may write. */
export const PROCESS_FACTS = String.raw`
const fs = require('fs');
const field = (text, name) => (text.split('\n').find((line) => line.startsWith(name + ':')) || '').slice(name.length + 1).trim();
const processes = fs.readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).flatMap((pid) => {
  let status;
  try { status = fs.readFileSync('/proc/' + pid + '/status', 'utf8'); } catch { return []; }
  return [{
    pid: Number(pid), name: field(status, 'Name'),
    uid: field(status, 'Uid').split(/\s+/), gid: field(status, 'Gid').split(/\s+/),
    capEff: field(status, 'CapEff'), capPrm: field(status, 'CapPrm'), capBnd: field(status, 'CapBnd'),
    noNewPrivs: field(status, 'NoNewPrivs'), seccomp: field(status, 'Seccomp'),
  }];
});
const tryWrite = (path) => { try { fs.writeFileSync(path, 'x'); fs.unlinkSync(path); return 'ok'; } catch (error) { return error.code; } };
console.log(JSON.stringify({ processes, writes: { root: tryWrite('/probe'), app: tryWrite('/app/probe'), tmp: tryWrite('/tmp/probe') } }));
`;

export interface ImageFacts {
  uid: number;
  gid: number;
  node: string;
  /** Command -> the error of running it (ENOENT when there is no such program) or its exit status. */
  commands: Record<string, string>;
  /** Module -> "libvips <version>" / "loaded", or the error code of require(). */
  modules: Record<'sharp' | '@napi-rs/image', string>;
  /** Files of image libraries (libvips, libpng, ..., the addons of sharp and @napi-rs/image) anywhere in the image. */
  imageLibraryFiles: string[];
}

export const SHELLS_AND_PACKAGE_MANAGERS = [
  'sh', 'bash', 'dash', 'ash', 'busybox', '/bin/sh', '/usr/bin/sh', '/bin/bash',
  'apt', 'apt-get', 'dpkg', 'rpm', 'apk', 'npm', 'npx', 'yarn', 'pnpm', 'corepack',
];

/** Who the image runs as by default, its node, what programs exist, which image libraries load. */
export const IMAGE_FACTS = String.raw`
const { spawnSync } = require('child_process');
const fs = require('fs');
const commands = Object.fromEntries(${JSON.stringify(SHELLS_AND_PACKAGE_MANAGERS)}.map((command) => {
  const result = spawnSync(command, ['--version']);
  return [command, result.error ? result.error.code : 'exit ' + result.status];
}));
const load = (name) => {
  try { const module = require(name); return name === 'sharp' ? 'libvips ' + module.versions.vips : 'loaded'; }
  catch (error) { return error.code || String(error); }
};
const find = (dir, pattern, found) => {
  let entries;
  try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch { return found; }
  for (const entry of entries) {
    const path = dir + '/' + entry.name;
    if (entry.isDirectory()) find(path, pattern, found);
    else if (pattern.test(entry.name)) found.push(path);
  }
  return found;
};
// C image libraries, sharp's addon (sharp-<platform>.node) and @napi-rs/image's (image.<platform>.node).
const imageLibraryFiles = ['/app', '/usr', '/lib', '/lib64', '/opt']
  .flatMap((dir) => find(dir, /^(lib(vips|png|jpeg|turbojpeg|webp|tiff|gif|heif|spng|Magick)|sharp-.*\.node$|image\..*\.node$)/, []));
console.log(JSON.stringify({
  uid: process.getuid(), gid: process.getgid(), node: process.version, commands,
  modules: { sharp: load('sharp'), '@napi-rs/image': load('@napi-rs/image') }, imageLibraryFiles,
}));
`;

/** The last line of a fact program's output, parsed. */
export function readFacts<T>(stdout: string): T {
  const line = stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as T;
}
