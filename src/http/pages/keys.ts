// Pages: keys. (Routes added as the pages are built.)
import type { PageRoute } from './routes.ts';

export const keysPages: readonly PageRoute[] = [];
