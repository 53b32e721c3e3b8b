// A form for an action that cannot be taken back (deactivate, delete, key rollover): what it
// does in words, any fields it needs, and a checkbox that must be ticked before the button
// does anything. Works the same without JavaScript; the server checks the box too.
import { html, type Html, type HtmlValue } from '../src/html/html.ts';
import { button, checkboxField, csrfField, type ButtonVariant } from './components.ts';

/** The checkbox's name and the value a ticked box sends. */
export const CONFIRM_FIELD = 'confirm';
export const CONFIRM_VALUE = 'yes';

export interface ConfirmFormOptions {
  action: string;
  csrfToken: string;
  /** The form's heading (a fieldset legend). */
  legend: HtmlValue;
  /** What happens, in words. */
  explanation: HtmlValue;
  /** The checkbox's label: "I understand that …". */
  confirmLabel: string;
  /** Makes the checkbox id unique on a page with several of these forms. */
  id: string;
  buttonLabel: string;
  variant?: ButtonVariant;
  /** Shown under the checkbox when the form came back unticked. */
  error?: string | null;
  /** Further fields, placed before the checkbox. */
  fields?: Html;
}

export function confirmForm(o: ConfirmFormOptions): Html {
  return html`<form method="post" action="${o.action}" class="confirm-form">
  ${csrfField(o.csrfToken)}
  <fieldset>
    <legend>${o.legend}</legend>
    <p>${o.explanation}</p>
    ${o.fields ?? null}
    ${checkboxField({ name: CONFIRM_FIELD, id: `confirm-${o.id}`, value: CONFIRM_VALUE, label: o.confirmLabel, required: true, error: o.error })}
    <div class="actions">${button(o.buttonLabel, { variant: o.variant ?? 'danger' })}</div>
  </fieldset>
</form>`;
}

/** True when the form's confirmation box was ticked. */
export function confirmed(form: URLSearchParams): boolean {
  return form.get(CONFIRM_FIELD) === CONFIRM_VALUE;
}
