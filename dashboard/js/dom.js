// DOM helpers shared by every view. Values from the API only ever become text nodes or attribute values,
// never HTML, so a key name like "<img onerror=…>" stays a name.

// h("button", { type: "button", onclick: fn }, "Save"): an element with attributes, listeners and children.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else el.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export const $ = (selector) => document.querySelector(selector);

export const fmt = (iso) => (iso ? new Date(iso).toLocaleString() : "—");

// Empty every error message and aria-invalid mark inside `scope` (a form, a dialog).
export function clearErrors(scope) {
  scope.querySelectorAll(".error").forEach((el) => (el.textContent = ""));
  scope.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
}
