// dialogs.js: confirmations in native <dialog>s. Focus moves into the
// dialog when it opens (the browser does this for showModal) and back to
// the element that opened it when it closes, whichever way it closes.
import { h, uid } from './dom.js';

// confirmAction asks a yes/no question. With typed set, the confirm
// button stays disabled until the person types that exact text.
// Resolves true when confirmed.
export function confirmAction({ title, message, confirmLabel, danger, typed }) {
  const opener = document.activeElement;
  const titleId = uid('dlg-title');
  const descId = uid('dlg-desc');
  const inputId = uid('dlg-input');
  const confirmBtn = h('button', { type: 'submit', value: 'ok', class: danger ? 'danger' : '', disabled: Boolean(typed) }, confirmLabel);
  let input = null;
  const typedBlock = [];
  if (typed) {
    input = h('input', {
      id: inputId, type: 'text', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'off',
      oninput: () => { confirmBtn.disabled = input.value !== typed; },
    });
    typedBlock.push(
      h('label', { for: inputId }, 'Type the backup name to confirm: ', h('strong', { class: 'name' }, typed)),
      input,
    );
  }
  const cancelBtn = h('button', { type: 'button', class: 'secondary' }, 'Cancel');
  const form = h('form', { method: 'dialog' },
    h('h2', { id: titleId }, title),
    h('p', { id: descId }, message),
    typedBlock,
    h('div', { class: 'actions' }, cancelBtn, confirmBtn),
  );
  const dlg = h('dialog', { 'aria-labelledby': titleId, 'aria-describedby': descId }, form);
  document.body.append(dlg);
  return new Promise((resolve) => {
    let ok = false;
    form.addEventListener('submit', (e) => {
      if (typed && input.value !== typed) { e.preventDefault(); return; }
      ok = true;
    });
    cancelBtn.addEventListener('click', () => dlg.close());
    dlg.addEventListener('close', () => {
      dlg.remove();
      if (opener && opener.isConnected && typeof opener.focus === 'function') opener.focus();
      resolve(ok);
    });
    dlg.showModal();
    (input || cancelBtn).focus();
  });
}
