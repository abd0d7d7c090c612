// bpfjit explorer: link the columns by BPF pc, and play the traced run.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("bpfjit-data").textContent);
  const byPc = new Map();           // pc -> every row, in every column, of that pc
  const firstRow = {};              // column id -> pc -> its first row there
  for (const col of document.querySelectorAll(".col")) {
    const first = firstRow[col.id] = new Map();
    const add = (pc, el) => {
      if (!byPc.has(pc)) byPc.set(pc, []);
      byPc.get(pc).push(el);
      if (!first.has(pc)) first.set(pc, el);
    };
    for (const el of col.querySelectorAll(".r[data-pc]")) add(+el.dataset.pc, el);
    for (const el of col.querySelectorAll(".r[data-pcs]")) {
      for (const p of el.dataset.pcs.split(" ")) if (p !== "") add(+p, el);
    }
  }

  function pcsOf(el) {
    if (el.dataset.pc !== undefined) return [+el.dataset.pc];
    if (el.dataset.pcs) return el.dataset.pcs.split(" ").map(Number);
    return [];
  }

  function showPanel(col, panel) {
    for (const t of col.querySelectorAll(".tab")) t.classList.toggle("on", t.dataset.panel === panel);
    for (const b of col.querySelectorAll(".body")) b.hidden = b.dataset.panel !== panel;
  }

  // bring the first marked row of every column into view; when the C file shown has
  // none, switch to the file that has (the IR and engine tabs stay as the user chose)
  function reveal(cls, except, stay) {
    for (const col of document.querySelectorAll(".col")) {
      let body = col.querySelector(".body:not([hidden])");
      if (!body || body === except) continue;
      let el = body.querySelector(".r." + cls);
      if (!el) {
        if (stay || col.id !== "col-source") continue;
        el = col.querySelector(".r." + cls);
        if (!el) continue;
        body = el.closest(".body");
        showPanel(col, body.dataset.panel);
      }
      // by the boxes on screen (a row's offsetTop counts from its block, not the panel);
      // blocks laid out for the first time as they come into view may move the row,
      // so measure again until it stays
      for (let tries = 0; tries < 4; tries++) {
        const delta = el.getBoundingClientRect().top - body.getBoundingClientRect().top;
        if (delta >= 0 && delta <= body.clientHeight - 20) break;
        body.scrollTop = Math.max(0, body.scrollTop + delta - body.clientHeight / 3);
      }
    }
  }

  function mark(cls, pcs) {
    for (const el of document.querySelectorAll(".r." + cls)) el.classList.remove(cls);
    for (const pc of pcs) for (const el of byPc.get(pc) || []) el.classList.add(cls);
  }

  // what the columns say of each pc, gathered from their rows
  const details = document.getElementById("details");
  function describe(pcs, clicked) {
    const lines = [];
    const text = (row, selector) => row.querySelector(selector).textContent;
    for (const pc of pcs.slice(0, 8)) {
      const bpf = firstRow["col-bpf"].get(pc);
      if (!bpf) continue;
      lines.push(`pc ${pc}: ${text(bpf, ".asm")}    (${text(bpf, ".c")})    bytes ${text(bpf, ".bytes")}`);
      const source = firstRow["col-source"] && firstRow["col-source"].get(pc);
      if (source)
        lines.push(`  C: ${source.closest(".body").dataset.name}:${text(source, ".no")}: ` +
                   text(source, "code").trim());
      const verifier = firstRow["col-verifier"].get(pc);
      if (text(verifier, "code")) lines.push(`  verifier: ${text(verifier, "code")}`);
      const badge = verifier.querySelector(".v");
      if (badge) lines.push(`  access ${badge.textContent}: ${badge.title}`);
    }
    if (pcs.length > 8) lines.push(`… and ${pcs.length - 8} more instructions`);
    if (!pcs.length && clicked) lines.push("No instruction comes from this line.");
    details.textContent = lines.join("\n");
  }

  function select(el) {
    const pcs = pcsOf(el);
    mark("sel", pcs);
    el.classList.add("sel");
    describe(pcs, true);            // (first: the header's height is then final)
    reveal("sel", el.closest(".body"));
  }
  for (const body of document.querySelectorAll(".body")) {
    body.addEventListener("click", (event) => {
      const el = event.target.closest(".r");
      if (el) select(el);
    });
  }

  // tabs: one panel of a column shown at a time
  for (const tab of document.querySelectorAll(".col nav .tab")) {
    tab.addEventListener("click", () => {
      showPanel(tab.closest(".col"), tab.dataset.panel);
      reveal("sel", null, true);
    });
  }

  for (const [id, cls] of [["show-bytes", "show-bytes"], ["show-c", "show-c"]]) {
    const box = document.getElementById(id);
    box.addEventListener("change", () => document.body.classList.toggle(cls, box.checked));
  }

  // ---- the traced run -----------------------------------------------------------------
  const trace = data.trace;
  if (!trace || !trace.length) return;
  const regs = [];                  // registers before each step, rebuilt from the changes
  let current = new Array(11).fill("0x0");
  for (const [, changed] of trace) {
    current = current.slice();
    for (const k in changed) current[+k] = changed[k];
    regs.push(current);
  }
  const slider = document.getElementById("step");
  const where = document.getElementById("where");
  const table = document.getElementById("registers");
  const complete = data.steps === trace.length;
  let step = 0;

  function after(i) {               // the registers after step i, when they are known
    if (i + 1 < regs.length) return regs[i + 1];
    return complete && data.result && data.result.startsWith("r0") ? regs[i] : null;
  }

  function show(i) {
    step = Math.max(0, Math.min(trace.length - 1, i));
    slider.value = step;
    const pc = trace[step][0];
    mark("cur", [pc]);
    let text = `step ${step + 1} of ${trace.length}: pc ${pc}`;
    const target = data.targets[pc];
    if (target !== undefined && step + 1 < trace.length)
      text += trace[step + 1][0] === target ? ` (taken to ${target})` : " (fell through)";
    where.textContent = text;
    const before = regs[step], next = after(step);
    let html = "<tr><td>after</td>";
    for (let r = 0; r < 11; r++) {
      const value = next ? next[r] : "?";
      const changed = next && next[r] !== before[r];
      html += `<td class="${changed ? "changed" : ""}">r${r}=${value}</td>`;
    }
    if (!next) html += `<td>${step + 1 === data.steps ? "(the run ended here: trap)" : "(trace ends)"}</td>`;
    table.innerHTML = html + "</tr>";
    describe([pc], false);
    reveal("cur");
  }

  slider.addEventListener("input", () => show(+slider.value));
  document.getElementById("first").addEventListener("click", () => show(0));
  document.getElementById("back").addEventListener("click", () => show(step - 1));
  document.getElementById("forward").addEventListener("click", () => show(step + 1));
  document.getElementById("last").addEventListener("click", () => show(trace.length - 1));
  document.addEventListener("keydown", (event) => {
    if (event.target.tagName === "INPUT" && event.target.type !== "range") return;
    if (event.key === "ArrowRight") { show(step + 1); event.preventDefault(); }
    if (event.key === "ArrowLeft") { show(step - 1); event.preventDefault(); }
  });
  show(0);
})();
