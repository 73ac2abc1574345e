// convoy ui: the only script. Pages work without it (server-rendered); it adds the live
// rollout view (server-sent events) and the control buttons (POST with the token header,
// after a confirmation).
"use strict";

(function () {
  const token = document.querySelector('meta[name="convoy-token"]')?.content || "";

  // Live rollout: replace the live part with each rendered view the server sends.
  const live = document.getElementById("rollout-live");
  if (live && live.dataset.stream && window.EventSource) {
    const source = new EventSource(live.dataset.stream);
    source.addEventListener("view", (e) => {
      const focused = document.activeElement && document.activeElement.dataset
        ? document.activeElement.dataset.action : null;
      live.innerHTML = e.data;
      live.dataset.updates = String(Number(live.dataset.updates || 0) + 1);
      if (focused) {
        const again = live.querySelector('button[data-action="' + focused + '"]');
        if (again) again.focus();
      }
    });
    source.addEventListener("end", () => source.close());
    source.addEventListener("error", (e) => {
      if (e.data) {
        document.getElementById("control-result").textContent = e.data;
        source.close();
      }
    });
  }

  // Live job: host states and output as they arrive. Each message is HOST, newline, text.
  const job = document.getElementById("job-live");
  if (job && job.dataset.stream && window.EventSource) {
    const source = new EventSource(job.dataset.stream);
    const split = (data) => {
      const at = data.indexOf("\n");
      return at < 0 ? [data, ""] : [data.slice(0, at), data.slice(at + 1)];
    };
    const section = (host) => [...job.querySelectorAll("section[data-host]")]
      .find((s) => s.dataset.host === host);
    source.addEventListener("host", (e) => {
      const [host, state] = split(e.data);
      const s = section(host);
      if (s) s.querySelector(".cmd-state").textContent = state;
      job.dataset.connected = "1";
    });
    source.addEventListener("output", (e) => {
      const [host, text] = split(e.data);
      const s = section(host);
      if (s) s.querySelector(".output").textContent += text;
    });
    source.addEventListener("end", (e) => {
      document.getElementById("job-state").textContent = e.data;
      source.close();
    });
  }

  // Live events: new rows on top.
  const events = document.getElementById("events");
  if (events && events.dataset.stream && window.EventSource) {
    const source = new EventSource(events.dataset.stream);
    source.addEventListener("row", (e) => {
      events.insertAdjacentHTML("afterbegin", e.data);
      events.dataset.updates = String(Number(events.dataset.updates || 0) + 1);
    });
  }

  // Controls: confirm in a dialog, then POST; the result is said in words.
  const dialog = document.getElementById("confirm");
  let pending = null;
  document.addEventListener("click", (e) => {
    const button = e.target.closest("button[data-action][data-rollout]");
    if (!button || button.disabled) return;
    pending = button;
    document.getElementById("confirm-text").textContent =
      button.textContent + " rollout " + button.dataset.rollout + "?";
    dialog.showModal();
  });
  async function act(button) {
    const result = document.getElementById("control-result");
    result.textContent = button.textContent + "…";
    try {
      const answer = await fetch(
        "/api/rollouts/" + encodeURIComponent(button.dataset.rollout) + "/" + button.dataset.action,
        { method: "POST", headers: { "X-Convoy-Token": token }, credentials: "same-origin" },
      );
      result.textContent = await answer.text();
      result.dataset.status = String(answer.status);
    } catch (err) {
      result.textContent = "cannot reach convoy ui: " + err;
    }
  }
  if (dialog) {
    // Acting from the button's own click (not the dialog's close event, which a page in
    // a background tab may not see promptly). Escape or Cancel: nothing happens.
    document.getElementById("confirm-no").addEventListener("click", () => {
      pending = null;
      dialog.close();
    });
    document.getElementById("confirm-yes").addEventListener("click", () => {
      const button = pending;
      pending = null;
      dialog.close();
      if (button) act(button);
    });
    dialog.addEventListener("cancel", () => { pending = null; });
  }
})();
