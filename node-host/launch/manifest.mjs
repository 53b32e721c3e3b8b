// @ts-check
// Where a bundle of the node host lives and how a start-up tells whether it is still fresh.
// Shared by the launcher (node-host/bin/certkeep.mjs), which only reads, and the builder
// (build.mjs), which writes.
//
// Under <root>/node_modules/.cache/certkeep/ (git-ignored with node_modules, and thrown away
// with it on a clean install):
//   <name>-<hash of its bytes>.mjs  a bundle
//   <name>.json                     the manifest: which bundle is current, and every file it was
//                                   built from with that file's mtime and size
// Both are written to a temporary name and renamed into place, so a reader sees either the old
// file or the new one, never half of one.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Bumped whenever the manifest's shape or the build's options change meaning. */
export const FORMAT = 1;

export const cacheDir = (root) => join(root, 'node_modules', '.cache', 'certkeep');
export const manifestPath = (root, name) => join(cacheDir(root), `${name}.json`);

/**
 * @typedef {object} Manifest
 * @property {number} format
 * @property {string} root      the checkout the bundle was built from: it bakes in absolute paths
 * @property {string} bundle    file name of the bundle, inside the cache directory
 * @property {Array<[string, number, number]>} inputs  [path relative to root, mtimeMs, size]
 */

/**
 * The current bundle of `name` when every file it was built from is unchanged (same mtime and
 * size), else undefined. Costs one stat per input (a few milliseconds for ~550 files), far less
 * than reading and hashing their contents.
 * @param {string} root
 * @param {string} name
 * @returns {string | undefined}
 */
export function freshBundle(root, name) {
  /** @type {Manifest} */
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(manifestPath(root, name), 'utf8'));
  } catch {
    return undefined;
  }
  if (manifest.format !== FORMAT || manifest.root !== root) return undefined;
  for (const [file, mtimeMs, size] of manifest.inputs) {
    const stat = statSync(join(root, file), { throwIfNoEntry: false });
    if (!stat || stat.mtimeMs !== mtimeMs || stat.size !== size) return undefined;
  }
  const bundle = join(cacheDir(root), manifest.bundle);
  return statSync(bundle, { throwIfNoEntry: false }) ? bundle : undefined;
}
