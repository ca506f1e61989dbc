// Hash routes: each view has an address (#/keys, #/keys/<key_id>, #/audit, #/roles), so reload, back and
// forward work. main.js supplies the table; views only navigate, so no view imports another through here.
import { h } from "./dom.js";
import { session } from "./session.js";

let routes = [];
let fallback = null;
let onError = () => false;

// table: [{ path: RegExp over the hash without "#/", nav: which main link is current, render }]
// render(container, params, query) fills a fresh container and may be async.
export function defineRoutes(table, { notFound, handleError }) {
  routes = table;
  fallback = notFound;
  onError = handleError;
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
  const params = match ? match.slice(1).map(decodeURIComponent) : [];
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

// Go to `hash`; when it is already the address, show the view again (fresh data).
export function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}
