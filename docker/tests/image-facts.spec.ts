import { podman } from '@thumbnail/testing';
import { builtImage, pinnedNodeVersion, skipWithoutImages, type ImageName } from './support/built-images';
import { IMAGE_FACTS, readFacts, SHELLS_AND_PACKAGE_MANAGERS, type ImageFacts } from './support/container-facts';

/** Runs the facts program in a fresh container of the image, as the image runs by default (its own user). */
async function factsOf(image: ImageName): Promise<ImageFacts> {
  const result = await podman(['run', '--rm', '--network', 'none', '--entrypoint', 'node', builtImage(image), '-e', IMAGE_FACTS]);
  if (result.code !== 0) throw new Error(`the facts program failed in the ${image} image (${result.code}):\n${result.stdout}${result.stderr}`);
  return readFacts<ImageFacts>(result.stdout);
}

describe.skipIf(skipWithoutImages())('what the images hold, seen from inside', () => {
  const facts: Partial<Record<ImageName, ImageFacts>> = {};
  beforeAll(async () => {
    facts.api = await factsOf('api');
    facts.worker = await factsOf('worker');
  });

  it.each(['api', 'worker'] as const)('%s: runs as uid and gid 10001 unless told otherwise', (image) => {
    expect(facts[image]).toMatchObject({ uid: 10001, gid: 10001 });
  });

  it.each(['api', 'worker'] as const)('%s: runs the pinned Node 24 release', (image) => {
    const pinned = pinnedNodeVersion();
    expect(pinned.split('.')[0]).toBe('24');
    expect(facts[image]?.node).toBe(`v${pinned}`);
  });

  it.each(['api', 'worker'] as const)('%s: holds no shell and no package manager', (image) => {
    const missing = Object.fromEntries(SHELLS_AND_PACKAGE_MANAGERS.map((command) => [command, 'ENOENT']));
    expect(facts[image]?.commands).toEqual(missing);
  });

  it('api: holds no image library, and neither sharp nor @napi-rs/image loads', () => {
    expect(facts.api?.imageLibraryFiles).toEqual([]);
    expect(facts.api?.modules).toEqual({ sharp: 'MODULE_NOT_FOUND', '@napi-rs/image': 'MODULE_NOT_FOUND' });
  });

  it("worker: loads sharp with its own libvips, and @napi-rs/image", () => {
    expect(facts.worker?.modules.sharp).toMatch(/^libvips \d+\.\d+\.\d+$/);
    expect(facts.worker?.modules['@napi-rs/image']).toBe('loaded');
    expect(facts.worker?.imageLibraryFiles.some((file) => /\/libvips-cpp\.so/.test(file))).toBe(true);
  });
});
