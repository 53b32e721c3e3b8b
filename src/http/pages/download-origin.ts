// The address other machines fetch certificates and keys from, as the pages' curl commands show
// it: not the address the admin happens to browse (often localhost, or an SSH tunnel), but the
// site hostname given at setup or in Settings, over HTTPS on the configured port. A Worker without
// one is reached at the address Cloudflare serves it on, which is the one being browsed. A node
// host without one has no address to show: null, and the page says that it must be set.
import type { HandlerContext } from '../context.ts';
import { siteHostnameOf } from '../../domain/setup.ts';

export async function downloadOrigin(request: Request, ctx: HandlerContext): Promise<string | null> {
  const hostname = await siteHostnameOf(ctx.deps);
  if (hostname) {
    const port = ctx.deps.httpsListenPort;
    return `https://${hostname}${port !== undefined && port !== 443 ? `:${port}` : ''}`;
  }
  return ctx.deps.runtime === 'worker' ? new URL(request.url).origin : null;
}
