// Reading the pages' HTML in tests that drive the app in process (no browser): controls without a
// label, an input's value, a field's error message, the text behind the entities `html` writes.

/** Markup with the entities `html` writes turned back into characters, to compare text. */
export function decode(markup: string): string {
  return markup.replace(/&(quot|#39|#96|lt|gt|amp);/g, (_, e: string) => ({ quot: '"', '#39': "'", '#96': '`', lt: '<', gt: '>', amp: '&' })[e]!);
}

/** Every input, select and textarea (but hidden inputs) without a <label for> naming its id. */
export function unlabelledControls(markup: string): string[] {
  const labelled = new Set([...markup.matchAll(/<label for="([^"]+)"/g)].map((m) => m[1]));
  const controls = [...markup.matchAll(/<(input|select|textarea)\b([^>]*)>/g)].filter((m) => !/type="hidden"/.test(m[2]));
  return controls.filter((m) => !labelled.has(/\sid="([^"]+)"/.exec(m[2])?.[1] ?? '')).map((m) => m[0]);
}

/** The value of the input with this id. */
export function inputValue(markup: string, id: string): string | undefined {
  const tag = new RegExp(`<input[^>]*\\sid="${id}"[^>]*>`).exec(markup)?.[0];
  return tag ? /\svalue="([^"]*)"/.exec(tag)?.[1] : undefined;
}

/** The error message shown under the control with this id (`field-<name>` for most fields), as text. */
export function fieldErrorText(markup: string, id: string): string | undefined {
  const message = new RegExp(`<p class="error" id="${id}-error">([^<]*)</p>`).exec(markup)?.[1];
  return message === undefined ? undefined : decode(message);
}
