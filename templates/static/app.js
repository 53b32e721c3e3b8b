// Certkeep's own script, served from /static/ like app.css (the CSP allows no inline script).
// Pages work without it; it only adds what cannot exist without JavaScript.
//
// Copy buttons (copyButton in templates/components.ts) are rendered hidden and revealed here when
// the browser lets a page write the clipboard (navigator.clipboard: HTTPS or localhost only),
// also in parts htmx swaps in later. A click copies the target's text; for a few seconds the button
// then reads "Copied", and the status region beside it says so to screen readers.
'use strict';
{
  const SAY_FOR_MS = 4000;

  const reveal = (root) => {
    if (!navigator.clipboard || !(root instanceof Element || root instanceof Document)) return;
    for (const button of root.querySelectorAll('button[data-copy][hidden]')) button.hidden = false;
  };

  /** An input's value; a block of commands as written; anything else as shown (a list: one item a line). */
  const textOf = (element) => {
    if (element instanceof HTMLInputElement || element instanceof HTMLTextAreaElement) return element.value;
    if (element instanceof HTMLPreElement) return element.textContent.replace(/\n$/, '');
    return element.innerText.trim();
  };

  const say = (button, words, label) => {
    const status = button.nextElementSibling;
    const shown = button.querySelector('.copy-label');
    if (!status?.classList.contains('copy-status') || !shown) return;
    status.textContent = words;
    shown.textContent = label;
    button.classList.toggle('copied', label === 'Copied');
    clearTimeout(button.certkeepTimer);
    button.certkeepTimer = setTimeout(() => {
      status.textContent = '';
      shown.textContent = 'Copy';
      button.classList.remove('copied');
    }, SAY_FOR_MS);
  };

  document.addEventListener('click', async (event) => {
    const button = event.target instanceof Element ? event.target.closest('button[data-copy]') : null;
    const target = button && document.getElementById(button.dataset.copy);
    if (!target) return;
    try {
      await navigator.clipboard.writeText(textOf(target));
      say(button, 'Copied', 'Copied');
    } catch {
      say(button, 'Could not copy: select the text and copy it by hand.', 'Not copied');
    }
  });

  const start = () => {
    reveal(document);
    new MutationObserver((changes) => {
      for (const change of changes) for (const node of change.addedNodes) reveal(node);
    }).observe(document.body, { childList: true, subtree: true });
  };

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
}
