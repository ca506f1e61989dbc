// Signing in and out. whoami tells the key's project, environment and name; a refused key anywhere signs out.
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

function keyNoLongerValid() {
  signOut();
  showSignIn("Your key is no longer valid. Sign in again.");
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
