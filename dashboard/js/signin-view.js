// Signing in and out, with an API key or with SSO (sso.js). whoami tells the caller's project, environment and
// name; a refused key or token anywhere signs out.
import { api, ApiError, envPath } from "./api.js";
import { $ } from "./dom.js";
import { route } from "./router.js";
import { forget, keyPlace, remember, savedKey, session } from "./session.js";
import { finishSso, ssoConfig, startSso } from "./sso.js";
import { SLUG_PATTERN } from "./validation.js";

async function signIn(key) {
  const place = keyPlace(key);
  if (!place) throw new ApiError(400, { message: "This is not an Archie API key." });
  Object.assign(session, { key: key.trim(), ...place });
  const me = await api("GET", envPath("/whoami"));
  Object.assign(session, { project: me.project, environment: me.environment, me });
  remember();
}

// A person's token is good in the one environment they signed in to (its trust policies decide what they
// may do there): whoami there says who they are.
async function signInWithToken({ token, project, environment }) {
  Object.assign(session, { key: token, project, environment, sso: true });
  session.me = await api("GET", envPath("/whoami"));
}

function signOut() {
  forget();
  location.hash = "";
  showSignIn();
}

function showSignIn(message = "") {
  $("#app").hidden = true;
  $("#signin").hidden = false;
  $("#signin-error").textContent = message;
  $("#signin-key").value = "";
  $("#signin-key").focus();
}

function showApp() {
  const { project, environment, me } = session;
  $("#signin").hidden = true;
  $("#app").hidden = false;
  $("#identity").textContent = `${project} / ${environment} — signed in as ${me.name} (${me.key_id})`;
  route();
}

function keyNoLongerValid() {
  const sso = session.sso;
  signOut();
  showSignIn(sso ? "Your sign-in has ended. Sign in again." : "Your key is no longer valid. Sign in again.");
}

// Whether the signed-in key is still accepted: every valid key may call whoami.
async function stillAccepted() {
  try {
    await api("GET", envPath("/whoami"));
    return true;
  } catch (error) {
    return !(error instanceof ApiError && (error.status === 401 || error.status === 403));
  }
}

// The key was revoked, expired or rolled away under us: back to the sign-in form. The gateway refuses such a
// key with 403 (its cached Deny), as it refuses a route the key's roles do not grant: whoami tells which.
export function handleAuthFailure(error) {
  if (!(error instanceof ApiError)) return false;
  if (error.status === 401) {
    keyNoLongerValid();
    return true;
  }
  if (error.status === 403) {
    stillAccepted().then((accepted) => accepted || keyNoLongerValid());
  }
  return false;
}

export async function startSignIn() {
  $("#signin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("#signin-error").textContent = "";
    try {
      await signIn($("#signin-key").value);
      $("#signin-key").value = "";
      if (!location.hash) location.hash = "#/keys";
      showApp();
    } catch (error) {
      session.key = null;
      const refused = error.status === 401 || error.status === 403;
      $("#signin-error").textContent = refused ? "That key was not accepted." : error.message;
    }
  });
  $("#signout").addEventListener("click", signOut);
  startSsoForm();

  let returned = null;
  try {
    returned = await finishSso();
    if (returned) {
      await signInWithToken(returned);
      if (!location.hash) location.hash = "#/keys";
      return showApp();
    }
  } catch (error) {
    forget();
    const refused = error instanceof ApiError && (error.status === 401 || error.status === 403);
    return showSignIn(refused ? "You are not allowed in this environment." : error.message);
  }
  const saved = savedKey();
  if (!saved) return showSignIn();
  try {
    await signIn(saved);
    showApp();
  } catch {
    forget();
    showSignIn("Your key is no longer valid. Sign in again.");
  }
}

function startSsoForm() {
  if (!ssoConfig()) return; // this stack names no identity provider: API keys only
  $("#sso-form").hidden = false;
  $("#sso-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const project = $("#sso-project").value.trim();
    const environment = $("#sso-environment").value.trim();
    if (!SLUG_PATTERN.test(project) || !SLUG_PATTERN.test(environment)) {
      $("#sso-error").textContent = "Project and environment are lowercase letters and digits.";
      return;
    }
    $("#sso-error").textContent = "";
    await startSso(project, environment);
  });
}
