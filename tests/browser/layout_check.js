// Injected into each HTML report before it is rendered headless; writes what it finds into
// <pre id="planner-layout-check"> as JSON, which the test reads back from the dumped DOM.
(function () {
  const problems = [];
  const say = (text) => problems.push(text);
  const short = (el) => (el.textContent || "").trim().replace(/\s+/g, " ").slice(0, 60);
  const body = document.body;
  if (!body || body.innerText.trim().length === 0) say("blank page: no visible text");
  const root = document.documentElement;
  if (root.scrollWidth > root.clientWidth + 1) {
    say(`page wider than the window: ${root.scrollWidth} px > ${root.clientWidth} px`);
  }
  const MIN_TEXT_PX = 9;  // smallest font size (CSS px on screen) a label may have
  document.querySelectorAll("svg").forEach((svg, i) => {
    if (svg.parentElement && svg.parentElement.closest("svg")) return;  // nested: skip
    const box = svg.getBoundingClientRect();
    if (box.width < 1 || box.height < 1) { say(`figure ${i + 1}: zero-size SVG`); return; }
    if (box.right > root.clientWidth + 1) say(`figure ${i + 1}: SVG clipped at the right edge`);
    const viewBox = svg.viewBox && svg.viewBox.baseVal;
    const scale = viewBox && viewBox.width > 0 ? box.width / viewBox.width : 1;
    const labels = [];
    svg.querySelectorAll("text").forEach((text) => {
      const r = text.getBoundingClientRect();
      if (r.width < 0.5 || !short(text)) return;
      if (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1 ||
          r.bottom > box.bottom + 1) {
        say(`figure ${i + 1}: label '${short(text)}' outside the figure`);
      }
      const px = parseFloat(getComputedStyle(text).fontSize) * scale;
      if (px < MIN_TEXT_PX) {
        say(`figure ${i + 1}: label '${short(text)}' in a ${px.toFixed(1)} px font`);
      }
      labels.push([text, r]);
    });
    for (let a = 0; a < labels.length; a++) {
      for (let b = a + 1; b < labels.length; b++) {
        const [ta, ra] = labels[a];
        const [tb, rb] = labels[b];
        const w = Math.min(ra.right, rb.right) - Math.max(ra.left, rb.left);
        const h = Math.min(ra.bottom, rb.bottom) - Math.max(ra.top, rb.top);
        const smaller = Math.min(ra.width * ra.height, rb.width * rb.height);
        if (w > 0 && h > 0 && w * h > 0.2 * smaller) {
          say(`figure ${i + 1}: labels '${short(ta)}' and '${short(tb)}' overlap`);
        }
      }
    }
  });
  document.querySelectorAll("td, th, dt, dd, p, li, h1, h2, h3, figcaption, caption")
    .forEach((el) => {
      if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX === "visible") {
        say(`text overflows its ${el.tagName.toLowerCase()}: '${short(el)}'`);
      }
    });
  const out = document.createElement("pre");
  out.id = "planner-layout-check";
  out.textContent = JSON.stringify(problems);
  body.appendChild(out);
})();
