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

function chart(samples) {
  const width = 600;
  const height = 160;
  const series = [
    ["waiting", samples.map((s) => s.ready), "series-a"],
    ["jobs/min", samples.map((s) => s.jobs_finished), "series-b"],
    ["workers", samples.map((s) => s.workers || 0), "series-c"],
  ];
  const top = Math.max(1, ...series.flatMap(([, values]) => values));
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("class", "chart");
  const summary = series.map(([name, values]) => `${name} now ${values[values.length - 1]}, peak ${Math.max(...values)}`).join("; ");
  svg.setAttribute("aria-label", `Last hour, ${samples.length} samples: ${summary}`);
  const step = samples.length > 1 ? (width - 8) / (samples.length - 1) : 0;
  for (const [, values, css] of series) {
    const line = document.createElementNS(SVG, "polyline");
    line.setAttribute("points", values.map((v, i) => `${(4 + i * step).toFixed(1)},${(height - 4 - ((height - 8) * v) / top).toFixed(1)}`).join(" "));
    line.setAttribute("class", css);
    svg.append(line);
    values.forEach((v, i) => {
      const dot = document.createElementNS(SVG, "circle");
      dot.setAttribute("cx", (4 + i * step).toFixed(1));
      dot.setAttribute("cy", (height - 4 - ((height - 8) * v) / top).toFixed(1));
      dot.setAttribute("r", "3.5");
      dot.setAttribute("class", css);
      svg.append(dot);
    });
  }
  const legend = h("ul", { class: "legend" }, series.map(([name, , css]) => h("li", { class: css }, name)));
  return h("figure", {}, svg, legend, h("figcaption", {}, `From ${samples[0].minute} to ${samples[samples.length - 1].minute}; top of the scale ${top}.`));
}
