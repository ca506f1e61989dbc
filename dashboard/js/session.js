// Who is signed in. An API key lives in this tab's sessionStorage only: never localStorage, never a cookie. A
// person's SSO token (sso.js) lives in this page's memory only: never stored anywhere.
import { SLUG_PATTERN } from "./validation.js";

const STORAGE_KEY = "archie.apiKey";

// key: the bearer (an API key, or with sso a person's ID token); project, environment: where it acts; me: its
// whoami answer.
export const session = { key: null, project: null, environment: null, me: null, sso: false };

export const savedKey = () => sessionStorage.getItem(STORAGE_KEY);

export function remember() {
  if (!session.sso) sessionStorage.setItem(STORAGE_KEY, session.key);
}

export function forget() {
  sessionStorage.removeItem(STORAGE_KEY);
  Object.assign(session, { key: null, project: null, environment: null, me: null, sso: false });
}

// A key says where it belongs (prefix_project_environment_id+secret+checksum): its public parts tell which
// environment's whoami to ask. null when the text is not shaped like a key.
export function keyPlace(key) {
  const parts = key.trim().split("_");
  if (parts.length < 4) return null;
  const [environment, project] = [parts[parts.length - 2], parts[parts.length - 3]];
  if (!SLUG_PATTERN.test(project) || !SLUG_PATTERN.test(environment)) return null;
  return { project, environment };
}
