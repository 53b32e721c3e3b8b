// Pages: dns-providers. (Routes added as the pages are built.)
import type { PageRoute } from './routes.ts';

export const dnsProvidersPages: readonly PageRoute[] = [];
