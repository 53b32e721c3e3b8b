// createApp(deps) → { fetch }: the one app both hosts serve. The router is a table; zones
// (open, download API, admin) are decided by path before any handler runs; errors become
// problem documents in exactly one place.
import { Router } from 'itty-router';
import type { Deps } from './deps.ts';
import type { App, HandlerContext, RequestContext } from './http/context.ts';
import { errorResponse, problemResponse } from './http/problem.ts';
import { acmeChallenge, healthz } from './http/well-known.ts';
import { certeraTest, downloadCertificate, downloadKey } from './http/download-api.ts';
import { auditedDownload } from './http/download-audit.ts';
import * as admin from './http/admin-api.ts';
import * as tracking from './http/tracking-api.ts';
import { isLoopback } from './http/ip.ts';
import { serveStatic } from './http/static.ts';
import * as setup from './http/pages/setup.ts';
import * as auth from './http/pages/auth.ts';
import { dashboard, dashboardApi } from './http/pages/dashboard.ts';
import { certificatesPages } from './http/pages/certificates.ts';
import { keysPages } from './http/pages/keys.ts';
import { accountsPages } from './http/pages/accounts.ts';
import { dnsProvidersPages } from './http/pages/dns-providers.ts';
import { settingsPages } from './http/pages/settings.ts';
import { accountPages } from './http/pages/account.ts';
import { backupsPages } from './http/pages/backups.ts';
import { auditPages } from './http/pages/audit.ts';
import { listAudit } from './http/audit-api.ts';
import { trackingPages } from './http/pages/tracking.ts';
import { downloadBackup, listBackups } from './http/backups-api.ts';
import { withSecurityHeaders } from './http/security-headers.ts';
import { refuseCrossSite, requireJsonBody } from './http/same-origin.ts';
import { problemAsPage } from './http/pages/problem-page.ts';
import { AGENT_REPORT_PATH, AGENT_SCRIPT_PATH, agentReport, agentScript, allConsumers, certificateConsumers } from './http/agent-api.ts';
import { consumersPages } from './http/pages/consumers.ts';
import * as notifications from './http/notifications-api.ts';
import { notificationsPages } from './http/pages/notifications.ts';
import { METRICS_PATH, countDownload, deleteMetricsTokenHandler, getMetricsToken, metricsEndpoint, postMetricsToken } from './http/metrics.ts';
import { OPENAPI_PATH } from './http/openapi-path.ts';

export type { App, RequestContext } from './http/context.ts';

export type Zone = 'open' | 'api' | 'admin' | 'metrics';

/** One row of the router's table (itty-router's): method (`ALL` for any), pattern, handlers, and the path it was registered with, if any. */
export type RouteEntry = readonly [method: string, pattern: RegExp, handlers: readonly unknown[], path?: string];

const ROUTE_TABLES = new WeakMap<App, readonly RouteEntry[]>();

/** The route table of an app createApp made, in the order the router tries it (openapi.test.ts checks the description against it). */
export function routesOf(app: App): readonly RouteEntry[] {
  const routes = ROUTE_TABLES.get(app);
  if (!routes) throw new Error('not an app createApp made');
  return routes;
}

/**
 * The download API's paths match in any case, as Certera's (ASP.NET Core routing) did:
 * `/API/Certificate/www` is `/api/certificate/www`, and so is a trailing slash.
 */
const DOWNLOAD_CERTIFICATE = /^\/api\/certificate\/(?<name>[^/]+?)\/*$/i;
const DOWNLOAD_KEY = /^\/api\/key\/(?<name>[^/]+?)\/*$/i;
const DOWNLOAD_PREFIX = /^\/api\/(?:certificate|key)\//i;
/** Certera's connectivity check, open as it was there (download-api.ts, certeraTest). */
const CERTERA_TEST = /^\/api\/test\/*$/i;

/**
 * Which allow-list guards a path (SPEC §1, §2, §5, §4.8): challenge and health are always open,
 * and so are the agent script (that exact path only) and Certera's `/api/test`; the download API
 * (its paths in any case) and the agent's report follow the download allow-list. /metrics (§4.6)
 * follows the admin list or the metrics token, which its handler checks.
 */
export function zoneOf(pathname: string): Zone {
  if (pathname === METRICS_PATH) return 'metrics';
  if (pathname.startsWith('/.well-known/acme-challenge/') || pathname === '/healthz' || pathname === AGENT_SCRIPT_PATH || CERTERA_TEST.test(pathname)) return 'open';
  if (DOWNLOAD_PREFIX.test(pathname) || pathname === AGENT_REPORT_PATH) return 'api';
  return 'admin';
}

export function createApp(deps: Deps): App {
  const guard = (request: Request, ctx: HandlerContext): Response | undefined => {
    const zone = zoneOf(new URL(request.url).pathname);
    if (zone === 'open' || zone === 'metrics') return undefined;
    const list = zone === 'api' ? deps.allowApi : deps.allowAdmin;
    if (!list.allows(ctx.clientIp)) {
      deps.log.info('refused by allow-list', { zone, clientIp: ctx.clientIp });
      return problemResponse(403, `this address is not allowed to use the ${zone === 'api' ? 'download API' : 'admin interface'}`);
    }
    return undefined;
  };

  /**
   * SPEC §7: once HTTPS serves the site certificate, plain HTTP is only for the challenge path,
   * /healthz and loopback clients; other pages are redirected, and /api/* is refused so that keys
   * and tokens never cross a network in clear.
   */
  const requireHttps = (request: Request, ctx: HandlerContext): Response | undefined => {
    if (ctx.secure) return undefined;
    const httpsPort = deps.httpsPort?.() ?? null;
    if (httpsPort === null || isLoopback(ctx.clientIp)) return undefined;
    const url = new URL(request.url);
    // Only the challenge path and /healthz stay on plain HTTP; the agent script is open to all,
    // but over HTTPS once there is HTTPS, so that it cannot be changed on the way.
    if (zoneOf(url.pathname) === 'open' && url.pathname !== AGENT_SCRIPT_PATH) return undefined;
    if (/^\/api\//i.test(url.pathname)) return problemResponse(403, 'use HTTPS: the API is not served over plain HTTP');
    // Nor /metrics, whose token would have crossed in clear before any redirect.
    if (url.pathname === METRICS_PATH) return problemResponse(403, 'use HTTPS: /metrics is not served over plain HTTP');
    url.protocol = 'https:';
    url.port = httpsPort === 443 ? '' : String(httpsPort);
    return new Response(null, { status: 308, headers: { location: url.href } });
  };

  const router = Router<Request & { params: Record<string, string>; query: Record<string, string> }, [HandlerContext]>({
    // Cross-site forms and non-JSON admin API bodies are refused before any handler runs.
    before: [requireHttps, guard, refuseCrossSite, requireJsonBody],
    catch: (err: unknown) => errorResponse(err, deps.log),
    finally: [
      (response: Response, request: Request) => countDownload(deps, request, response),
      (response: Response, request: Request, ctx: HandlerContext) => problemAsPage(response, request, ctx),
      (response: Response, _request: unknown, ctx: HandlerContext) => withSecurityHeaders(response, { secure: ctx.secure }),
    ],
  });

  router.get('/.well-known/acme-challenge/:token', acmeChallenge).get('/healthz', healthz);
  // The download API's routes match their paths in any case (itty-router's own patterns do not).
  // Every download, and every refused one, is audited (per consumer and hour).
  const certificate = auditedDownload('certificate', downloadCertificate) as never;
  const key = auditedDownload('key', downloadKey) as never;
  router.routes.push(
    ['GET', DOWNLOAD_CERTIFICATE, [certificate]],
    ['POST', DOWNLOAD_CERTIFICATE, [certificate]],
    ['GET', DOWNLOAD_KEY, [key]],
    ['POST', DOWNLOAD_KEY, [key]],
    ['GET', CERTERA_TEST, [certeraTest]],
  );
  router
    .all(METRICS_PATH, metricsEndpoint)
    .post(AGENT_REPORT_PATH, agentReport)
    .all(AGENT_SCRIPT_PATH, agentScript)
    .post('/api/v1/setup', admin.setup)
    .all('/api/v1/*', admin.requireAdmin)
    .post('/api/v1/tokens', admin.createToken)
    .get('/api/v1/metrics-token', getMetricsToken)
    .post('/api/v1/metrics-token', postMetricsToken)
    .delete('/api/v1/metrics-token', deleteMetricsTokenHandler)
    .get('/api/v1/accounts', admin.listAccounts)
    .post('/api/v1/accounts', admin.createAccount)
    .get('/api/v1/accounts/:name', admin.getAccount)
    .patch('/api/v1/accounts/:name', admin.editAccount)
    .delete('/api/v1/accounts/:name', admin.deleteAccount)
    .post('/api/v1/accounts/:name/key-rollover', admin.rolloverAccountKey)
    .post('/api/v1/accounts/:name/deactivate', admin.deactivateAccount)
    .get('/api/v1/keys', admin.listKeys)
    .post('/api/v1/keys', admin.createKey)
    .get('/api/v1/keys/:name', admin.getKey)
    .delete('/api/v1/keys/:name', admin.deleteKey)
    .post('/api/v1/keys/:name/api-keys/:slot', admin.rotateKeyApiKey)
    .get('/api/v1/settings', admin.getAppSettings)
    .put('/api/v1/settings', admin.updateAppSettings)
    .get('/api/v1/dns-providers', admin.listDnsProviders)
    .post('/api/v1/dns-providers', admin.createDnsProvider)
    .get('/api/v1/dns-providers/:name', admin.getDnsProvider)
    .delete('/api/v1/dns-providers/:name', admin.deleteDnsProvider)
    .get('/api/v1/certificates', admin.listCertificates)
    .post('/api/v1/certificates', admin.createCertificate)
    .get('/api/v1/certificates/:name', admin.getCertificate)
    .patch('/api/v1/certificates/:name', admin.editCertificate)
    .delete('/api/v1/certificates/:name', admin.deleteCertificate)
    .post('/api/v1/certificates/:name/issue', admin.issueCertificate)
    .get('/api/v1/certificates/:name/orders', admin.certificateOrders)
    .get('/api/v1/certificates/:name/consumers', certificateConsumers)
    .get('/api/v1/consumers', allConsumers)
    .get('/api/v1/dashboard', dashboardApi)
    .post('/api/v1/certificates/:name/revoke', admin.revokeCertificate)
    .get('/api/v1/certificates/:name/revocation-status', admin.certificateRevocationStatus)
    .post('/api/v1/certificates/:name/api-keys/:slot', admin.rotateCertificateApiKey)
    .post('/api/v1/certificates/:name/key', admin.rotateCertificateKey)
    .get('/api/v1/audit', listAudit)
    .get('/api/v1/notification-channels', notifications.listChannels)
    .post('/api/v1/notification-channels', notifications.createChannel)
    .get('/api/v1/notification-channels/:name', notifications.getChannel)
    .patch('/api/v1/notification-channels/:name', notifications.editChannel)
    .delete('/api/v1/notification-channels/:name', notifications.deleteChannel)
    .post('/api/v1/notification-channels/:name/test', notifications.testChannelNow)
    .get('/api/v1/notifications', notifications.listNotifications)
    .get('/api/v1/tracking', tracking.listTracking)
    .post('/api/v1/tracking', tracking.createTracking)
    .get('/api/v1/tracking/:id', tracking.getTracking)
    .delete('/api/v1/tracking/:id', tracking.deleteTracking)
    .post('/api/v1/tracking/:id/scan', tracking.scanTracking)
    .get('/api/v1/backups', listBackups)
    .get('/api/v1/backups/:name', downloadBackup)
    .get(OPENAPI_PATH, async (request: Request, ctx: HandlerContext) => (await import('./http/openapi.ts')).openApiEndpoint(request, ctx))
    .all('/static/*', serveStatic)
    .get('/setup', setup.showSetup)
    .post('/setup', setup.submitSetup)
    .post('/setup/ca', setup.setupCaPart)
    .get('/setup/progress', setup.setupProgress)
    .get('/login', auth.showLogin)
    .post('/login', auth.submitLogin)
    .post('/logout', auth.logout)
    .get('/', dashboard);
  for (const [method, path, handler] of [...certificatesPages, ...keysPages, ...accountsPages, ...dnsProvidersPages, ...settingsPages, ...accountPages, ...backupsPages, ...consumersPages, ...trackingPages, ...notificationsPages, ...auditPages]) {
    router[method](path, handler as never);
  }
  router.all('*', () => problemResponse(404, 'no such resource'));

  const app: App = {
    async fetch(request: Request, ctx: RequestContext): Promise<Response> {
      const handlerCtx: HandlerContext = { ...ctx, deps };
      if (!deps.log.debugEnabled) return router.fetch(request as never, handlerCtx);
      const started = deps.now();
      const response: Response = await router.fetch(request as never, handlerCtx);
      // The path only: query strings carry secrets (pfxPassword), and headers are never logged.
      deps.log.debug('request', { method: request.method, path: new URL(request.url).pathname, status: response.status, clientIp: ctx.clientIp, ms: deps.now() - started });
      return response;
    },
  };
  ROUTE_TABLES.set(app, router.routes as unknown as RouteEntry[]);
  return app;
}
