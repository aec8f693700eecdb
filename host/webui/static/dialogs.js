// dialogs.js: confirmations in native <dialog>s. Focus moves into the
// dialog when it opens (the browser does this for showModal) and back to
// the element that opened it when it closes, whichever way it closes.
import { h, uid } from './dom.js';

// confirmAction asks a yes/no question. With typed set, the confirm
// button stays disabled until the person types that exact text.
// Resolves true when confirmed.
export async function confirmAction(opts) {
  return (await ask(opts)) !== null;
}

// ask is confirmAction with choices: a radio group ({legend, name,
// options: [{value, label, hint}], value}) and checkboxes ([{name, label,
// hint, checked}]). Resolves null when cancelled, else {name: value} for
// the radio group and {name: checked} for each checkbox.
export function ask({ title, message, confirmLabel, danger, typed, choice, checks }) {
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
  const radios = [];
  let choiceBlock = null;
  if (choice) {
    choiceBlock = h('fieldset', { class: 'choices' }, h('legend', null, choice.legend),
      choice.options.map((o) => {
        const id = uid('dlg-choice');
        const hintId = o.hint ? id + '-hint' : null;
        const r = h('input', { type: 'radio', id, name: choice.name, value: o.value, checked: o.value === choice.value, 'aria-describedby': hintId });
        radios.push(r);
        return labelled(r, id, o.label, hintId, o.hint);
      }));
  }
  const boxes = (checks || []).map((c) => {
    const id = uid('dlg-check');
    const hintId = c.hint ? id + '-hint' : null;
    const box = h('input', { type: 'checkbox', id, name: c.name, checked: Boolean(c.checked), 'aria-describedby': hintId });
    return { c, box, el: labelled(box, id, c.label, hintId, c.hint) };
  });
  const cancelBtn = h('button', { type: 'button', class: 'secondary' }, 'Cancel');
  const form = h('form', { method: 'dialog' },
    h('h2', { id: titleId }, title),
    h('p', { id: descId }, message),
    choiceBlock,
    boxes.map((b) => b.el),
    typedBlock,
    h('div', { class: 'actions' }, cancelBtn, confirmBtn),
  );
  const dlg = h('dialog', { 'aria-labelledby': titleId, 'aria-describedby': descId }, form);
  document.body.append(dlg);
  return new Promise((resolve) => {
    let values = null;
    form.addEventListener('submit', (e) => {
      if (typed && input.value !== typed) { e.preventDefault(); return; }
      values = {};
      const picked = radios.find((r) => r.checked);
      if (choice) values[choice.name] = picked ? picked.value : choice.value;
      for (const b of boxes) values[b.c.name] = b.box.checked;
    });
    cancelBtn.addEventListener('click', () => dlg.close());
    dlg.addEventListener('close', () => {
      dlg.remove();
      if (opener && opener.isConnected && typeof opener.focus === 'function') opener.focus();
      resolve(values);
    });
    dlg.showModal();
    (input || cancelBtn).focus();
  });
}

// labelled is a radio button or checkbox with its label and hint.
function labelled(input, id, label, hintId, hint) {
  return h('div', { class: 'check' }, input,
    h('div', null, h('label', { for: id }, label), hint ? h('p', { class: 'hint', id: hintId }, hint) : null));
}
