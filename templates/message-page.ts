// A short page that says one thing — "no such certificate", "this key is in use" — with the
// links that lead on. Used where a JSON API would answer 404 or 409.
import { html, type Html, type HtmlValue } from '../src/html/html.ts';
import { layout, type Section } from './layout.ts';
import { linkButton } from './components.ts';

export interface MessagePageOptions {
  title: string;
  csrfToken: string;
  section: Section;
  message: HtmlValue;
  kind?: 'error' | 'info' | 'success';
  links?: ReadonlyArray<{ href: string; label: string }>;
}

export function messagePage(o: MessagePageOptions): Html {
  return layout(
    { title: o.title, session: { csrfToken: o.csrfToken, section: o.section }, flash: [{ kind: o.kind ?? 'error', message: o.message }] },
    html`<h1>${o.title}</h1>
<div class="actions">${(o.links ?? []).map((l, i) => linkButton(l.href, l.label, i === 0 ? 'primary' : 'secondary'))}</div>`,
  );
}
