// Fleet (operator): queue depth per queue, workers online, jobs per minute, and the last
// hour from the API's once-a-minute samples, drawn as a small SVG chart.
import { call } from "../api.js";
import { h, page } from "../ui.js";

const SVG = "http://www.w3.org/2000/svg";

export async function render() {
  const [now, history] = await Promise.all([
    call("GET", "/v1/admin/queues", { scope: "admin" }),
    call("GET", "/v1/admin/queues/history", { scope: "admin" }),
  ]);
  const samples = history.samples || [];
  const consumers = now.queues.map((queue) => queue.consumers).filter((value) => value !== null && value !== undefined);
  const workers = consumers.length ? Math.max(...consumers) : history.current.workers;
  const perMinute = history.current.jobs_last_minute;
  page(
    "Fleet",
    now.up ? null : h("p", { class: "message error" }, `The broker cannot be read: ${now.error}`),
    h(
      "div",
      { class: "stats" },
      stat("Workers online", workers),
      stat("Jobs finished last minute", perMinute),
      stat("Messages waiting", now.queues.reduce((sum, queue) => sum + (queue.ready || 0), 0)),
    ),
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { class: "queues" },
        h("caption", {}, `Queues (read from ${now.source})`),
        h("thead", {}, h("tr", {}, ["Queue", "Waiting", "In progress", "Consumers", "Oldest waiting"].map((t, i) => h("th", { scope: "col", class: i ? "num" : undefined }, t)))),
        h(
          "tbody",
          {},
          now.queues.map((queue) =>
            h(
              "tr",
              {},
              h("td", {}, queue.queue),
              h("td", { class: "num" }, queue.ready ?? "?"),
              h("td", { class: "num" }, queue.unacked ?? "?"),
              h("td", { class: "num" }, queue.consumers ?? "?"),
              h("td", { class: "num" }, queue.oldest_age_seconds != null ? `${queue.oldest_age_seconds.toFixed(1)} s` : "—"),
            ),
          ),
        ),
      ),
    ),
    h("h2", {}, "Last hour"),
    samples.length ? chart(samples) : h("p", {}, "No sample yet: the API records one a minute."),
  );
}

function stat(label, value) {
  return h("div", { class: "stat" }, h("span", { class: "value" }, String(value)), h("span", { class: "label" }, label));
}

// x: minutes before now over the whole hour (gaps stay gaps); y: 0..the largest figure.
function chart(samples) {
  const width = 600;
  const height = 160;
  const left = 34;
  const bottom = 20;
  const series = [
    ["waiting", (s) => s.ready, "series-a"],
    ["jobs/min", (s) => s.jobs_finished, "series-b"],
    ["workers", (s) => s.workers || 0, "series-c"],
  ];
  const top = Math.max(1, ...samples.flatMap((s) => series.map(([, value]) => value(s))));
  const now = Date.now();
  const x = (s) => left + ((width - left - 6) * (60 - Math.min(60, (now - Date.parse(s.minute)) / 60000))) / 60;
  const y = (v) => height - bottom - ((height - bottom - 8) * v) / top;
  const svg = svgElement("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", class: "chart" });
  const summary = series.map(([name, value]) => `${name} now ${value(samples[samples.length - 1])}, peak ${Math.max(...samples.map(value))}`).join("; ");
  svg.setAttribute("aria-label", `Last hour, ${samples.length} samples: ${summary}`);
  svg.append(
    svgElement("line", { x1: left, y1: y(0), x2: width - 6, y2: y(0), class: "axis" }),
    svgElement("line", { x1: left, y1: y(top), x2: width - 6, y2: y(top), class: "grid-line" }),
    svgText(left - 6, y(0) + 4, "0", "end"),
    svgText(left - 6, y(top) + 4, String(top), "end"),
    svgText(left, height - 4, "60 min ago", "start"),
    svgText(width - 6, height - 4, "now", "end"),
  );
  for (const [, value, css] of series) {
    svg.append(svgElement("polyline", { points: samples.map((s) => `${x(s).toFixed(1)},${y(value(s)).toFixed(1)}`).join(" "), class: css }));
    for (const s of samples) {
      svg.append(svgElement("circle", { cx: x(s).toFixed(1), cy: y(value(s)).toFixed(1), r: 3.5, class: css }));
    }
  }
  const legend = h("ul", { class: "legend" }, series.map(([name, , css]) => h("li", { class: css }, name)));
  return h("figure", {}, svg, legend, h("figcaption", {}, `${samples.length} samples, ${samples[0].minute} to ${samples[samples.length - 1].minute}.`));
}

function svgElement(tag, attributes) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) {
    element.setAttribute(name, String(value));
  }
  return element;
}

function svgText(xPosition, yPosition, text, anchor) {
  const element = svgElement("text", { x: xPosition, y: yPosition, "text-anchor": anchor, class: "chart-label" });
  element.textContent = text;
  return element;
}
