// The document shell every page shares: head, skip link, header with the navigation, flash
// messages and <main>. Served under the CSP of src/http/security-headers.ts: no inline script or
// style anywhere, everything from /static/ on our own origin.
import { attrs, html, type Html, type HtmlValue } from '../src/html/html.ts';
import { assetUrl } from './assets.ts';
import { CSRF_HEADER, postButton } from './components.ts';

export type Section = 'dashboard' | 'certificates' | 'keys' | 'accounts' | 'dns-providers' | 'tracking' | 'notifications' | 'audit' | 'backups' | 'settings' | 'account';

/**
 * The navigation, in order; pages route to these paths.
 */
export const NAVIGATION: readonly { section: Section; label: string; href: string }[] = [
  { section: 'dashboard', label: 'Dashboard', href: '/' },
  { section: 'certificates', label: 'Certificates', href: '/certificates' },
  { section: 'keys', label: 'Keys', href: '/keys' },
  { section: 'accounts', label: 'ACME accounts', href: '/accounts' },
  { section: 'dns-providers', label: 'DNS providers', href: '/dns-providers' },
  { section: 'tracking', label: 'Tracking', href: '/tracking' },
  { section: 'notifications', label: 'Notifications', href: '/notifications' },
  { section: 'audit', label: 'Audit log', href: '/audit' },
  { section: 'backups', label: 'Backups', href: '/backups' },
  { section: 'settings', label: 'Settings', href: '/settings' },
  { section: 'account', label: 'Account', href: '/account' },
];

export const SIGN_OUT_PATH = '/logout';

export interface Flash {
  kind: 'success' | 'error' | 'info';
  message: HtmlValue;
}

export interface LayoutOptions {
  /** The page's own title; the document title is "<title> · Certkeep". */
  title: string;
  /** A signed-in session: shows the navigation and the sign-out form. Absent on sign-in and setup. */
  session?: {
    csrfToken: string;
    /** The section this page belongs to, marked aria-current in the navigation. */
    section?: Section;
  };
  flash?: readonly Flash[];
  /** Extra elements for <head>, e.g. a <noscript> refresh on a progress page. */
  head?: Html;
}

/** One flash message; also what an htmx response puts into #flash. */
export function flashMessage(f: Flash): Html {
  return html`<p class="${f.kind}">${f.message}</p>`;
}

function navigation(session: NonNullable<LayoutOptions['session']>): Html {
  const items = NAVIGATION.map(
    (item) => html`<li><a href="${item.href}"${item.section === session.section ? html` aria-current="page"` : null}>${item.label}</a></li>`,
  );
  return html`<nav class="site-nav" aria-label="Main">
      <ul>
        ${items}
        <li class="sign-out">${postButton({ action: SIGN_OUT_PATH, csrfToken: session.csrfToken, label: 'Sign out' })}</li>
      </ul>
    </nav>`;
}

/**
 * A whole page. With a session, htmx requests carry the CSRF token in a header (hx-headers
 * inherited from <body>), so buttons outside a form are protected like forms are.
 */
export function layout(o: LayoutOptions, content: Html): Html {
  const csrfHeaders = o.session ? JSON.stringify({ [CSRF_HEADER]: o.session.csrfToken }) : null;
  return html`<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="color-scheme" content="light dark">
  <meta name="referrer" content="same-origin">
  <meta name="htmx-config" content='{"includeIndicatorCSS":false,"defaultSettleDelay":0}'>
  <title>${o.title} · Certkeep</title>
  <link rel="stylesheet" href="${assetUrl('app.css')}">
  <link rel="icon" href="${assetUrl('favicon.svg')}" type="image/svg+xml">
  <script src="${assetUrl('htmx.min.js')}" defer></script>
  <script src="${assetUrl('app.js')}" defer></script>
  ${o.head ?? null}
</head>
<body${attrs({ 'hx-headers:inherited': csrfHeaders })}>
  <a class="skip-link" href="#main">Skip to content</a>
  <header class="site-header">
    <div class="site-header-inner">
      <a class="brand" href="/">Certkeep</a>
      ${o.session ? navigation(o.session) : null}
    </div>
  </header>
  <main id="main" tabindex="-1">
    <div id="flash" class="flash" role="status">${(o.flash ?? []).map(flashMessage)}</div>
    ${content}
  </main>
</body>
</html>
`;
}
