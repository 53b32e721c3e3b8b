// Where pages link to the embedded static assets (templates/static/, embedded by
// node-host/embed-assets.ts because workerd has no filesystem). URLs carry the content hash
// (/static/app.3e063871200626aa.css), so a new version has a new URL; src/http/static.ts serves
// them under the same names.
import { EMBEDDED_ASSETS, type AssetName, type EmbeddedAsset } from './static/assets.generated.ts';

export type { AssetName, EmbeddedAsset } from './static/assets.generated.ts';
export { EMBEDDED_ASSETS } from './static/assets.generated.ts';

/** The hashed file name: app.css → app.<hash>.css, htmx.min.js → htmx.min.<hash>.js. */
export function hashedName(asset: EmbeddedAsset): string {
  const dot = asset.name.lastIndexOf('.');
  return `${asset.name.slice(0, dot)}.${asset.hash}${asset.name.slice(dot)}`;
}

const BY_NAME = new Map<AssetName, EmbeddedAsset>(EMBEDDED_ASSETS.map((a) => [a.name, a]));

/** The URL templates link to: `assetUrl('app.css')` → '/static/app.<hash>.css'. */
export function assetUrl(name: AssetName): string {
  const asset = BY_NAME.get(name);
  if (!asset) throw new Error(`no embedded asset named ${name}`);
  return `/static/${hashedName(asset)}`;
}
