// Blind listening test page: per-listener random order, answers kept in localStorage,
// export as JSON/CSV, submission to `python -m advaudio.listen serve`.
// The page knows only opaque stimulus ids; which condition each one is lives in key.json.
"use strict";
(function () {
  const DATA = JSON.parse(document.getElementById("test-data").textContent);
  const STORE_PREFIX = "advaudio-listen:" + DATA.test_id + ":";
  const LAST_LISTENER = STORE_PREFIX + "last-listener";
  const LISTENER_RE = /^[A-Za-z0-9_-]{1,64}$/;
  const CSV_COLUMNS = ["listener", "test_id", "kind", "trial", "stimulus", "score", "played", "a", "b", "choice"];
  const $ = (id) => document.getElementById(id);

  let state = null; // {listener, started, finished, position, order, ratings, preferences, played}
  const exportUrls = {};

  // Seeded randomness: a string hash (xmur3) seeds a small PRNG (mulberry32).
  function hashString(text) {
    let h = 1779033703 ^ text.length;
    for (let i = 0; i < text.length; i++) {
      h = Math.imul(h ^ text.charCodeAt(i), 3432918353);
      h = (h << 13) | (h >>> 19);
    }
    h = Math.imul(h ^ (h >>> 16), 2246822507);
    h = Math.imul(h ^ (h >>> 13), 3266489909);
    return (h ^ (h >>> 16)) >>> 0;
  }

  function mulberry32(seed) {
    return function () {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  function shuffle(items, random) {
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  }

  // The listener's trial order: rating trials first, then AB trials, each block shuffled,
  // and the stimuli of every trial shuffled (for AB: which sound is A). Same listener, same order.
  function orderFor(listener) {
    const random = mulberry32(hashString(DATA.test_id + "\u0000" + listener));
    const block = (type) => shuffle(DATA.trials.filter((t) => t.type === type), random);
    return block("rating").concat(block("ab")).map((t) => ({ id: t.id, type: t.type, stimuli: shuffle(t.stimuli, random) }));
  }

  function storageKey(listener) { return STORE_PREFIX + listener; }

  function save() {
    try {
      localStorage.setItem(storageKey(state.listener), JSON.stringify(state));
      localStorage.setItem(LAST_LISTENER, state.listener);
    } catch (err) {
      $("trial-status").textContent = "Could not save in this browser (" + err.name + "); download your answers at the end.";
    }
    updateExports();
  }

  function load(listener) {
    try {
      const stored = JSON.parse(localStorage.getItem(storageKey(listener)) || "null");
      if (stored && stored.listener === listener && stored.test_id === DATA.test_id) return stored;
    } catch (err) { /* unreadable storage: start afresh */ }
    return null;
  }

  function newState(listener) {
    return {
      format: DATA.format, test_id: DATA.test_id, listener: listener,
      started: new Date().toISOString(), finished: null, position: 0,
      order: orderFor(listener), ratings: {}, preferences: {}, played: {},
    };
  }

  function answers() {
    const ratings = [];
    const preferences = [];
    for (const trial of state.order) {
      if (trial.type === "rating") {
        const given = state.ratings[trial.id] || {};
        trial.stimuli.forEach((id, index) => {
          if (id in given) {
            ratings.push({ trial: trial.id, stimulus: id, score: given[id], position: index,
                           played: (state.played[trial.id] || []).includes(id) });
          }
        });
      } else if (state.preferences[trial.id]) {
        preferences.push({ trial: trial.id, a: trial.stimuli[0], b: trial.stimuli[1],
                           choice: state.preferences[trial.id] });
      }
    }
    return {
      format: DATA.format, test_id: DATA.test_id, listener: state.listener,
      started: state.started, finished: state.finished,
      order: state.order.map((t) => t.id), ratings: ratings, preferences: preferences,
    };
  }

  function csvCell(value) {
    const text = value === null || value === undefined ? "" : String(value);
    return /[",\n\r]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
  }

  function toCsv(doc) {
    const rows = [CSV_COLUMNS.join(",")];
    const row = (fields) => rows.push(CSV_COLUMNS.map((c) => csvCell(fields[c])).join(","));
    for (const r of doc.ratings) {
      row({ listener: doc.listener, test_id: doc.test_id, kind: "rating", trial: r.trial,
            stimulus: r.stimulus, score: r.score, played: r.played });
    }
    for (const p of doc.preferences) {
      row({ listener: doc.listener, test_id: doc.test_id, kind: "ab", trial: p.trial,
            a: p.a, b: p.b, choice: p.choice });
    }
    return rows.join("\r\n") + "\r\n";
  }

  function setExport(id, text, type, filename) {
    if (exportUrls[id]) URL.revokeObjectURL(exportUrls[id]);
    exportUrls[id] = URL.createObjectURL(new Blob([text], { type: type }));
    const link = $(id);
    link.href = exportUrls[id];
    link.download = filename;
  }

  function updateExports() {
    const doc = answers();
    const stem = "listening-" + state.listener;
    setExport("export-json", JSON.stringify(doc, null, 1), "application/json", stem + ".json");
    setExport("export-csv", toCsv(doc), "text/csv", stem + ".csv");
    $("export").hidden = false;
  }

  function stopAll(except) {
    for (const audio of document.querySelectorAll("#stimuli audio")) {
      if (audio !== except) audio.pause();
    }
  }

  function markPlayed(trial, id, row) {
    const played = state.played[trial.id] || (state.played[trial.id] = []);
    if (!played.includes(id)) {
      played.push(id);
      save();
    }
    row.classList.add("played");
    refreshNext();
  }

  function stimulusRow(trial, id, label) {
    const row = document.createElement("div");
    row.className = "stimulus";
    row.dataset.stimulus = id;
    const audio = document.createElement("audio");
    audio.preload = "auto";
    audio.src = DATA.audio[id];
    const button = document.createElement("button");
    button.type = "button";
    button.className = "play";
    button.textContent = "Play " + label;
    button.addEventListener("click", () => {
      stopAll(audio);
      audio.currentTime = 0;
      audio.play().catch((err) => { $("trial-status").textContent = "Could not play: " + err.message; });
    });
    const heard = () => { if (audio.currentTime > 0 || audio.ended) markPlayed(trial, id, row); };
    audio.addEventListener("timeupdate", heard);
    audio.addEventListener("ended", heard);
    row.append(button, audio);
    if ((state.played[trial.id] || []).includes(id)) row.classList.add("played");
    return row;
  }

  function ratingControls(trial, id, label, row) {
    const slider = document.createElement("input");
    slider.type = "range";
    slider.min = "0";
    slider.max = "100";
    slider.step = "1";
    slider.setAttribute("aria-label", "Rating of sound " + label + " (0 Bad, 100 Excellent)");
    const output = document.createElement("output");
    const given = (state.ratings[trial.id] || {})[id];
    slider.value = given === undefined ? "50" : String(given);
    output.textContent = given === undefined ? "–" : String(given);
    slider.addEventListener("input", () => {
      const ratings = state.ratings[trial.id] || (state.ratings[trial.id] = {});
      ratings[id] = Number(slider.value);
      output.textContent = slider.value;
      save();
      refreshNext();
    });
    row.append(slider, output);
  }

  function trialComplete(trial) {
    const played = state.played[trial.id] || [];
    if (!trial.stimuli.every((id) => played.includes(id))) return false;
    if (trial.type === "rating") {
      const given = state.ratings[trial.id] || {};
      return trial.stimuli.every((id) => id in given);
    }
    return Boolean(state.preferences[trial.id]);
  }

  function refreshNext() {
    const trial = state.order[state.position];
    if (!trial) return;
    const complete = trialComplete(trial);
    $("next").disabled = !complete;
    $("trial-status").textContent = complete ? "" :
      (trial.type === "rating" ? "Play every sound and move every slider to go on." : "Play both sounds and choose to go on.");
  }

  function showTrial() {
    stopAll(null);
    const trial = state.order[state.position];
    if (!trial) return showDone();
    $("welcome").hidden = true;
    $("done").hidden = true;
    $("trial").hidden = false;
    $("progress").textContent = "Page " + (state.position + 1) + " of " + state.order.length;
    $("back").disabled = state.position === 0;
    const list = $("stimuli");
    list.replaceChildren();
    list.dataset.trial = trial.id;
    list.dataset.type = trial.type;
    const scale = $("scale");
    scale.replaceChildren();
    if (trial.type === "rating") {
      $("instructions").textContent = "Rate every sound: how natural and free of artefacts is it?";
      for (const word of [""].concat(DATA.scale, [""])) {
        const span = document.createElement("span");
        span.textContent = word;
        scale.append(span);
      }
      trial.stimuli.forEach((id, index) => {
        const label = String(index + 1);
        const row = stimulusRow(trial, id, label);
        ratingControls(trial, id, label, row);
        list.append(row);
      });
      $("choice").hidden = true;
    } else {
      $("instructions").textContent = "Play A and B. Which do you prefer?";
      trial.stimuli.forEach((id, index) => list.append(stimulusRow(trial, id, index === 0 ? "A" : "B")));
      $("choice").hidden = false;
      for (const radio of document.querySelectorAll("#choice input")) {
        radio.checked = state.preferences[trial.id] === radio.value;
      }
    }
    refreshNext();
  }

  function showDone() {
    $("trial").hidden = true;
    $("welcome").hidden = true;
    $("done").hidden = false;
    if (!state.finished) {
      state.finished = new Date().toISOString();
      save();
    }
    if (location.protocol === "file:") {
      $("submit").disabled = true;
      $("submit-status").textContent = "This page was opened from disk: download your answers and send them to the experimenter.";
    }
  }

  async function submit() {
    $("submit").disabled = true;
    $("submit-status").textContent = "Sending…";
    try {
      const response = await fetch("api/submit", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(answers()),
      });
      const reply = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(reply.error || response.statusText);
      state.submitted = reply.stored;
      save();
      $("submit-status").textContent = "Submitted. Thank you!";
    } catch (err) {
      $("submit").disabled = false;
      $("submit-status").textContent = "Not submitted (" + err.message + "); download your answers instead.";
    }
  }

  function start() {
    const listener = $("listener").value.trim();
    if (!LISTENER_RE.test(listener)) {
      $("welcome-status").textContent = "Use 1 to 64 letters, digits, - or _.";
      return;
    }
    state = load(listener) || newState(listener);
    state.order = orderFor(listener); // recomputed: the order is a function of the listener
    save();
    showTrial();
  }

  $("start").addEventListener("click", start);
  $("next").addEventListener("click", () => { state.position += 1; save(); showTrial(); });
  $("back").addEventListener("click", () => { state.position = Math.max(0, state.position - 1); save(); showTrial(); });
  $("submit").addEventListener("click", submit);
  for (const radio of document.querySelectorAll("#choice input")) {
    radio.addEventListener("change", () => {
      state.preferences[state.order[state.position].id] = radio.value;
      save();
      refreshNext();
    });
  }
  const fromUrl = new URLSearchParams(location.search).get("listener");
  let last = "";
  try { last = localStorage.getItem(LAST_LISTENER) || ""; } catch (err) { /* storage disabled */ }
  $("listener").value = fromUrl || last;

  window.advaudioListen = { orderFor: orderFor, answers: () => answers(), toCsv: toCsv, state: () => state };
})();
