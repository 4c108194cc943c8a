// Status page of prefect-trio-server: reads the UI settings, then queries the API.
"use strict";

(function () {
  // Rewritten to the UI's base path ("" when served at "/") when the server starts.
  var UI_BASE = "/PREFECT_UI_SERVE_BASE_REPLACE_PLACEHOLDER";
  var AUTH_STORAGE_KEY = "prefect-trio-server.auth";
  var REFRESH_MS = 15000;
  var TIMEOUT_MS = 8000;

  var uiSettings = null;
  var busy = false;

  function $(id) {
    return document.getElementById(id);
  }

  function storedAuth() {
    try {
      return window.localStorage.getItem(AUTH_STORAGE_KEY) || "";
    } catch (err) {
      return "";
    }
  }

  function storeAuth(value) {
    try {
      if (value) {
        window.localStorage.setItem(AUTH_STORAGE_KEY, value);
      } else {
        window.localStorage.removeItem(AUTH_STORAGE_KEY);
      }
    } catch (err) {
      /* storage unavailable (private mode): the value lives until reload */
    }
  }

  // base64 of the UTF-8 bytes, so non-ASCII auth strings work too.
  function base64Utf8(text) {
    var bytes = new TextEncoder().encode(text);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) {
      binary += String.fromCharCode(bytes[i]);
    }
    return window.btoa(binary);
  }

  function apiUrl() {
    var url = (uiSettings && uiSettings.api_url) || "/api";
    return url.replace(/\/+$/, "");
  }

  function headers() {
    var result = { Accept: "application/json" };
    var auth = storedAuth();
    if (uiSettings && uiSettings.auth === "BASIC" && auth) {
      result.Authorization = "Basic " + base64Utf8(auth);
    }
    return result;
  }

  // Resolves to {status, body} or {error}; never rejects.
  function getJson(url, extraHeaders) {
    var controller = typeof AbortController === "function" ? new AbortController() : null;
    var timer = controller
      ? window.setTimeout(function () {
          controller.abort();
        }, TIMEOUT_MS)
      : null;
    return fetch(url, {
      headers: extraHeaders || { Accept: "application/json" },
      cache: "no-store",
      credentials: "same-origin",
      signal: controller ? controller.signal : undefined,
    })
      .then(function (response) {
        return response.text().then(function (text) {
          var body = text;
          try {
            body = text ? JSON.parse(text) : null;
          } catch (err) {
            /* not JSON: keep the text */
          }
          return { status: response.status, body: body };
        });
      })
      .catch(function (err) {
        return { error: err && err.name === "AbortError" ? "timed out" : String(err) };
      })
      .finally(function () {
        if (timer !== null) window.clearTimeout(timer);
      });
  }

  function message(body) {
    if (body && typeof body === "object") {
      return body.message || body.exception_message || body.detail || "";
    }
    return typeof body === "string" ? body : "";
  }

  function setCard(id, state, value, detail) {
    var card = $(id);
    card.setAttribute("data-state", state);
    card.querySelector('[data-field="value"]').textContent = value;
    card.querySelector('[data-field="detail"]').textContent = detail;
  }

  function describeFailure(result, path) {
    if (result.error) {
      return { state: "down", value: "Unreachable", detail: path + ": " + result.error };
    }
    if (result.status === 401) {
      return { state: "auth", value: "Auth required", detail: path + ": HTTP 401" };
    }
    var text = message(result.body);
    return {
      state: "bad",
      value: "HTTP " + result.status,
      detail: path + (text ? ": " + text : ""),
    };
  }

  function showHealth(result) {
    if (!result.error && result.status === 200 && result.body === true) {
      setCard("card-health", "ok", "Healthy", "GET " + apiUrl() + "/health");
      return "ok";
    }
    var failure = describeFailure(result, "GET " + apiUrl() + "/health");
    if (!result.error && result.status === 200) {
      failure = { state: "bad", value: "Unhealthy", detail: String(message(result.body)) };
    }
    setCard("card-health", failure.state, failure.value, failure.detail);
    return failure.state;
  }

  function showReady(result) {
    var path = "GET " + apiUrl() + "/ready";
    if (!result.error && result.status === 200) {
      var text = message(result.body);
      setCard("card-ready", "ok", "Ready", text ? path + ": " + text : path);
      return "ok";
    }
    var failure = describeFailure(result, path);
    if (!result.error && result.status === 503) {
      failure.value = "Not ready";
    }
    setCard("card-ready", failure.state, failure.value, failure.detail);
    return failure.state;
  }

  function showVersion(cardId, result, endpoint) {
    var path = "GET " + apiUrl() + endpoint;
    if (!result.error && result.status === 200) {
      setCard(cardId, "ok", String(result.body), path);
      return "ok";
    }
    var failure = describeFailure(result, path);
    setCard(cardId, failure.state, failure.value, failure.detail);
    return failure.state;
  }

  function setOverall(states) {
    var pill = $("overall");
    var label = "healthy";
    var kind = "ok";
    if (states.indexOf("down") !== -1) {
      label = "unreachable";
      kind = "down";
    } else if (states.indexOf("auth") !== -1) {
      label = "needs auth";
      kind = "warn";
    } else if (states.indexOf("bad") !== -1) {
      label = "degraded";
      kind = "warn";
    }
    pill.textContent = label;
    pill.className = "pill pill-" + kind;
  }

  function showAuthPanel(needsAuth, rejected) {
    var panel = $("auth-panel");
    var required = uiSettings && uiSettings.auth === "BASIC";
    panel.hidden = !(required || needsAuth);
    var note = $("auth-message");
    if (rejected) {
      note.textContent = storedAuth()
        ? "The server rejected the saved auth string."
        : "Enter the auth string to see everything.";
    } else {
      note.textContent = storedAuth() ? "Auth string saved." : "";
    }
  }

  function markAllUnreachable(detail) {
    ["card-health", "card-ready", "card-server-version", "card-api-version"].forEach(
      function (id) {
        setCard(id, "down", "Unreachable", detail);
      }
    );
    setOverall(["down"]);
  }

  function loadSettings() {
    return getJson(UI_BASE + "/ui-settings").then(function (result) {
      if (!result.error && result.status === 200 && result.body && typeof result.body === "object") {
        uiSettings = result.body;
        $("api-url").textContent = new URL(apiUrl() || "/", window.location.href).href;
        return true;
      }
      var why = result.error || "HTTP " + result.status;
      markAllUnreachable("GET " + UI_BASE + "/ui-settings: " + why);
      return false;
    });
  }

  function refresh() {
    if (busy) return Promise.resolve();
    busy = true;
    var ready = uiSettings ? Promise.resolve(true) : loadSettings();
    return ready
      .then(function (ok) {
        if (!ok) return;
        var base = apiUrl();
        var h = headers();
        return Promise.all([
          getJson(base + "/health", h),
          getJson(base + "/ready", h),
          getJson(base + "/admin/version", h),
          getJson(base + "/version", h),
        ]).then(function (results) {
          var states = [
            showHealth(results[0]),
            showReady(results[1]),
            showVersion("card-server-version", results[2], "/admin/version"),
            showVersion("card-api-version", results[3], "/version"),
          ];
          setOverall(states);
          var rejected = states.indexOf("auth") !== -1;
          showAuthPanel(rejected, rejected);
        });
      })
      .finally(function () {
        busy = false;
        $("checked-at").textContent = new Date().toLocaleTimeString();
      });
  }

  function init() {
    $("refresh").addEventListener("click", function () {
      uiSettings = null;
      refresh();
    });
    $("auth-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var input = $("auth-input");
      storeAuth(input.value);
      input.value = "";
      refresh();
    });
    $("auth-clear").addEventListener("click", function () {
      storeAuth("");
      refresh();
    });
    refresh();
    window.setInterval(refresh, REFRESH_MS);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
