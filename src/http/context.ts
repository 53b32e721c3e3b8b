// What every handler receives beside the Request.
import type { Deps } from '../deps.ts';
import type { Actor } from '../domain/audit.ts';

/** Supplied by the host for each request. */
export interface RequestContext {
  /** The client's address as the host determined it (proxies already accounted for). */
  clientIp: string;
  /** Whether the request arrived over TLS (or through a trusted TLS-terminating proxy). */
  secure: boolean;
  /** Keeps background work alive after the response (Workers' ctx.waitUntil). */
  waitUntil(promise: Promise<unknown>): void;
  /**
   * The body of a GET request, on a host whose `Request` cannot carry one: node:http reads it,
   * but the Fetch API forbids a body on GET (the node host passes it here, read whole under its
   * size cap). workerd's `Request` carries it itself, and this stays unset there. Certera's
   * clients send the download API's parameters as a form body on a GET (`curl -X GET -d …`).
   */
  getBody?: Uint8Array;
}

export interface App {
  fetch(request: Request, ctx: RequestContext): Promise<Response>;
}

export interface HandlerContext extends RequestContext {
  deps: Deps;
  /** Who makes the request, once the admin API's token was checked (requireAdmin). */
  actor?: Actor;
}

export type RoutedRequest = Request & { params: Record<string, string>; query: Record<string, string | string[] | undefined> };
