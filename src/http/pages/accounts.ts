// Pages: accounts. (Routes added as the pages are built.)
import type { PageRoute } from './routes.ts';

export const accountsPages: readonly PageRoute[] = [];
