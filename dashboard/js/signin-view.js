// Signing in and out. whoami tells the key's project, environment and name; a 401 anywhere signs out.
import { api, ApiError, envPath } from "./api.js";
import { $ } from "./dom.js";
import { route } from "./router.js";
import { forget, keyPlace, remember, savedKey, session } from "./session.js";

async function signIn(key) {
  const place = keyPlace(key);
  if (!place) throw new ApiError(400, { message: "This is not an Archie API key." });
  Object.assign(session, { key: key.trim(), ...place });
  const me = await api("GET", envPath("/whoami"));
  Object.assign(session, { project: me.project, environment: me.environment, me });
  remember();
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

// A 401 means the key was revoked, expired or rolled away under us: back to the sign-in form.
export function handleAuthFailure(error) {
  if (error instanceof ApiError && error.status === 401) {
    signOut();
    showSignIn("Your key is no longer valid. Sign in again.");
    return true;
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
      $("#signin-error").textContent = error.status === 401 ? "That key was not accepted." : error.message;
    }
  });
  $("#signout").addEventListener("click", signOut);

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
