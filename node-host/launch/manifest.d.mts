// Types of manifest.mjs for the TypeScript that imports it (its tests).
export declare const FORMAT: number;
export declare function cacheDir(root: string): string;
export declare function manifestPath(root: string, name: string): string;
export declare function freshBundle(root: string, name: string): string | undefined;
