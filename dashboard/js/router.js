// Hash routes: each view has an address (#/keys, #/keys/<key_id>, #/audit?key_id=…, #/roles,
// #/roles/<name>, #/new-role, #/webhooks, #/webhooks/<name>), so reload, back and forward work and a page can be linked. main.js supplies the table; views only navigate, so no view imports another through here.
import { h } from "./dom.js";
import { session } from "./session.js";

let routes = [];
let fallback = null;
let onError = () => false;

// table: [{ path: RegExp over the hash without "#/" and its query, nav: which main link is current,
// title(params): the page's name in the tab and in history, render }]. render(container, params, query)
// fills a fresh container and may be async; params are the path's groups, decoded.
export function defineRoutes(table, { notFound, handleError }) {
  routes = table;
  fallback = notFound;
  onError = handleError;
}

// A hand-edited address may hold a stray "%": show the text as typed rather than fail to route.
function decoded(part) {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, query = ""] = raw.split("?");
  return { path, query: new URLSearchParams(query) };
}

export function route() {
  if (!session.key) return;
  const { path, query } = parseHash();
  let match = null;
  const found = routes.find((entry) => (match = entry.path.exec(path))) || fallback;
  const params = match ? match.slice(1).map(decoded) : [];
  document.title = `${found.title(params)} — Archie API keys`;
  document.querySelectorAll("[data-nav]").forEach((link) => {
    if (link.dataset.nav === found.nav) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  });
  // Each render gets its own container: a slow render that finishes after the person moved on fills a
  // container nobody sees, instead of mixing into the new page.
  const container = h("div");
  document.getElementById("main").replaceChildren(container);
  Promise.resolve()
    .then(() => found.render(container, params, query))
    .catch((error) => {
      if (!onError(error)) container.append(h("p", { class: "error", role: "alert" }, error.message));
    });
}

// Go to `hash` (a new history entry); when it is already the address, show the view again (fresh data).
export function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}
