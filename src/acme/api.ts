// One function per ACME resource (RFC 8555 §7). Each sends one request through the transport,
// checks that the answer has the shape the RFC promises, and returns it typed. No flow logic:
// that lives in client.ts.

import { toBase64Url } from '../util/encoding.ts';
import { AcmeBadResponseError } from './errors.ts';
import type { RequestSigner } from './jws.ts';
import type { AcmeResponse, AcmeTransport } from './transport.ts';
import type {
  AcmeAccount,
  AcmeAuthorization,
  AcmeChallenge,
  AcmeDirectory,
  AcmeOrder,
  AcmeRenewalInfoBody,
  FlattenedJws,
  NewAccountPayload,
  NewOrderPayload,
} from './types.ts';

/** RFC 8555 §7.4.2: the media type of a certificate chain download. */
export const PEM_CHAIN = 'application/pem-certificate-chain';

/** RFC 8555 §7.1.1: GET the directory. */
export async function getDirectory(t: AcmeTransport, url: string): Promise<AcmeDirectory> {
  const res = await t.get<AcmeDirectory>(url);
  const dir = res.body;
  for (const field of ['newNonce', 'newAccount', 'newOrder', 'revokeCert', 'keyChange'] as const) {
    if (!isObject(dir) || typeof dir[field] !== 'string') throw shape(res, `directory lacks ${field}`);
  }
  return dir;
}

/** RFC 8555 §7.3: newAccount (201 = created, 200 = existing, incl. onlyReturnExisting §7.3.1). */
export async function newAccount(
  t: AcmeTransport,
  url: string,
  payload: NewAccountPayload,
  signer: RequestSigner,
): Promise<{ url: string; account: AcmeAccount; created: boolean }> {
  const res = await t.post<AcmeAccount>(url, payload, signer);
  if (!res.location) throw shape(res, 'newAccount answered without a Location');
  return { url: res.location, account: checkAccount(res), created: res.status === 201 };
}

/**
 * RFC 8555 §7.3.2 (update), §7.3.6 (deactivate) or POST-as-GET of the account (`payload`
 * undefined).
 */
export async function postAccount(
  t: AcmeTransport,
  accountUrl: string,
  payload: Partial<Pick<AcmeAccount, 'contact' | 'status'>> | undefined,
  signer: RequestSigner,
): Promise<AcmeAccount> {
  return checkAccount(await t.post<AcmeAccount>(accountUrl, payload, signer));
}

/** RFC 8555 §7.3.5: keyChange; `inner` is the JWS signed by the new key (jws.signKeyChange). */
export async function keyChange(t: AcmeTransport, url: string, inner: FlattenedJws, signer: RequestSigner): Promise<void> {
  await t.post(url, inner, signer, { bodyKind: 'text' });
}

/**
 * RFC 8555 §7.1.2.1: one page of an account's orders list, and the URL of the next page (Link
 * rel="next") if there is one.
 */
export async function getOrdersPage(t: AcmeTransport, url: string, signer: RequestSigner): Promise<{ orders: string[]; next?: string }> {
  const res = await t.post<{ orders?: unknown }>(url, undefined, signer);
  const orders = res.body?.orders;
  if (!Array.isArray(orders) || orders.some((o) => typeof o !== 'string')) throw shape(res, 'orders list without an "orders" array of URLs');
  return { orders: orders as string[], next: res.links.find((l) => l.rel === 'next')?.url };
}

/** RFC 8555 §7.4: newOrder; the order's URL is the Location of the 201. */
export async function newOrder(
  t: AcmeTransport,
  url: string,
  payload: NewOrderPayload,
  signer: RequestSigner,
): Promise<{ url: string; order: AcmeOrder }> {
  const res = await t.post<AcmeOrder>(url, payload, signer);
  if (!res.location) throw shape(res, 'newOrder answered without a Location');
  return { url: res.location, order: checkOrder(res) };
}

/** RFC 8555 §7.1.3: POST-as-GET an order (with the Retry-After the CA may add while it works). */
export async function getOrder(t: AcmeTransport, url: string, signer: RequestSigner): Promise<AcmeResponse<AcmeOrder>> {
  const res = await t.post<AcmeOrder>(url, undefined, signer);
  checkOrder(res);
  return res;
}

/** RFC 8555 §7.5: POST-as-GET an authorization. */
export async function getAuthorization(
  t: AcmeTransport,
  url: string,
  signer: RequestSigner,
): Promise<AcmeResponse<AcmeAuthorization>> {
  const res = await t.post<AcmeAuthorization>(url, undefined, signer);
  checkAuthorization(res);
  return res;
}

/** RFC 8555 §7.5.1: tell the CA a challenge is ready (payload `{}`). */
export async function respondToChallenge(t: AcmeTransport, url: string, signer: RequestSigner): Promise<AcmeChallenge> {
  return checkChallenge(await t.post<AcmeChallenge>(url, {}, signer));
}

/** RFC 8555 §7.4: finalize with the CSR's DER bytes (base64url in `csr`). */
export async function finalizeOrder(
  t: AcmeTransport,
  url: string,
  csrDer: Uint8Array,
  signer: RequestSigner,
): Promise<AcmeResponse<AcmeOrder>> {
  const res = await t.post<AcmeOrder>(url, { csr: toBase64Url(csrDer) }, signer);
  checkOrder(res);
  return res;
}

/** RFC 8555 §7.4.2: download a certificate chain (POST-as-GET); alternates come as Link headers. */
export async function getCertificate(
  t: AcmeTransport,
  url: string,
  signer: RequestSigner,
): Promise<{ pem: string; alternates: string[] }> {
  const res = await t.post<string>(url, undefined, signer, { bodyKind: 'text', accept: PEM_CHAIN });
  if (!res.body.includes('-----BEGIN CERTIFICATE-----')) throw shape(res, 'certificate download is not a PEM chain');
  const alternates = res.links.filter((l) => l.rel === 'alternate').map((l) => l.url);
  return { pem: res.body, alternates };
}

/** RFC 8555 §7.6: revokeCert; `reason` is an RFC 5280 §5.3.1 CRLReason code. */
export async function revokeCert(
  t: AcmeTransport,
  url: string,
  payload: { certificate: string; reason?: number },
  signer: RequestSigner,
): Promise<void> {
  await t.post(url, payload, signer, { bodyKind: 'none' });
}

/** RFC 9773 §4.2: GET renewalInfo for one certificate identifier (unauthenticated). */
export async function getRenewalInfo(t: AcmeTransport, url: string): Promise<AcmeResponse<AcmeRenewalInfoBody>> {
  const res = await t.get<AcmeRenewalInfoBody>(url);
  const window = isObject(res.body) ? res.body.suggestedWindow : undefined;
  if (!isObject(window) || typeof window.start !== 'string' || typeof window.end !== 'string') {
    throw shape(res, 'renewalInfo lacks suggestedWindow');
  }
  return res;
}

function checkAccount(res: AcmeResponse<AcmeAccount>): AcmeAccount {
  if (!isObject(res.body) || typeof res.body.status !== 'string') throw shape(res, 'not an account object');
  return res.body;
}

function checkOrder(res: AcmeResponse<AcmeOrder>): AcmeOrder {
  const o = res.body;
  if (
    !isObject(o) ||
    typeof o.status !== 'string' ||
    !Array.isArray(o.authorizations) ||
    !o.authorizations.every((a) => typeof a === 'string') ||
    typeof o.finalize !== 'string'
  ) {
    throw shape(res, 'not an order object');
  }
  return o;
}

function checkAuthorization(res: AcmeResponse<AcmeAuthorization>): AcmeAuthorization {
  const a = res.body;
  if (!isObject(a) || typeof a.status !== 'string' || !isObject(a.identifier) || !Array.isArray(a.challenges)) {
    throw shape(res, 'not an authorization object');
  }
  return a;
}

function checkChallenge(res: AcmeResponse<AcmeChallenge>): AcmeChallenge {
  const c = res.body;
  if (!isObject(c) || typeof c.status !== 'string' || typeof c.type !== 'string') throw shape(res, 'not a challenge object');
  return c;
}

function isObject(value: unknown): value is Record<string, any> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function shape(res: AcmeResponse<unknown>, message: string): AcmeBadResponseError {
  return new AcmeBadResponseError(`${res.url}: ${message}`, { url: res.url, status: res.status });
}
