/* locmap peer network: draws the pilot's network with Cytoscape (vendored) from the JSON
   block the server renders. Nodes are coloured by group and shaped by kind; harmful ties
   are red and dashed. Clicking a node fills the side panel with textContent only. The
   instance is exposed as window.locmapNetwork for tests and the browser console. */
(function () {
  "use strict";

  var PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2",
                 "#17becf", "#bcbd22", "#7f7f7f", "#393b79", "#637939", "#8c6d31"];
  var UNGROUPED = "#b0bec5";
  var SHAPES = { young_person: "ellipse", adult_of_concern: "diamond",
                 trusted_adult: "round-rectangle" };
  var KIND_LABELS = { young_person: "Young person", adult_of_concern: "Adult of concern",
                      trusted_adult: "Trusted adult" };

  function groupColour(index) {
    return index < 0 ? UNGROUPED : PALETTE[index % PALETTE.length];
  }

  function readJSON(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  function colourSwatches() {
    document.querySelectorAll(".group-swatch").forEach(function (el) {
      el.style.background = groupColour(parseInt(el.getAttribute("data-group-index"), 10));
    });
  }

  function yesNo(value) { return value ? "yes" : "no"; }

  function showNode(data) {
    var panel = document.getElementById("selected");
    if (!panel) { return; }
    var values = {
      label: data.label,
      kind: KIND_LABELS[data.kind] || data.kind,
      age_band: data.age_band || "unknown",
      group: data.group || (data.kind === "young_person" ? "none" : "— (adults are not grouped)"),
      connector: yesNo(data.connector),
      articulation: yesNo(data.articulation),
      linked_adults: (data.linked_adults || []).join(", ") || "none",
      reaches: (data.reaches || []).length
        ? data.reaches.join(", ") + " (groups " + ((data.groups_reached || []).join(", ") || "—") + ")"
        : "—"
    };
    Object.keys(values).forEach(function (key) {
      var el = panel.querySelector("[data-field='" + key + "']");
      if (el) { el.textContent = values[key]; }
    });
    panel.hidden = false;
  }

  function draw() {
    var el = document.getElementById("network-graph");
    var data = readJSON("network-data");
    if (!el || !data || typeof cytoscape === "undefined") { return; }
    data.nodes.forEach(function (n) {
      n.data.colour = groupColour(n.data.group_index);
      n.data.shape = SHAPES[n.data.kind] || "ellipse";
    });
    var cy = cytoscape({
      container: el,
      elements: { nodes: data.nodes, edges: data.edges },
      wheelSensitivity: 0.3,
      style: [
        { selector: "node", style: {
          "background-color": "data(colour)", "shape": "data(shape)", "label": "data(label)",
          "font-size": 9, "text-valign": "bottom", "text-margin-y": 2, "width": 18, "height": 18,
          "border-width": 1, "border-color": "#ffffff" } },
        { selector: "node[kind = 'adult_of_concern']", style: {
          "width": 26, "height": 26, "border-color": "#c62828", "border-width": 3 } },
        { selector: "node[kind = 'trusted_adult']", style: {
          "width": 24, "height": 20, "border-color": "#2e7d32", "border-width": 3 } },
        { selector: "node[?connector]", style: { "border-color": "#102a43", "border-width": 3 } },
        { selector: "edge", style: {
          "width": "mapData(strength, 1, 3, 1, 4)", "line-color": "#9aa5b1",
          "curve-style": "bezier" } },
        { selector: "edge[valence = 'harmful']", style: {
          "line-color": "#c62828", "line-style": "dashed" } },
        { selector: "edge[valence = 'protective']", style: { "line-color": "#2e7d32" } },
        { selector: ":selected", style: { "overlay-opacity": 0.2, "overlay-color": "#102a43" } }
      ],
      layout: { name: "cose", animate: false, randomize: false, nodeRepulsion: 8000,
                idealEdgeLength: 50, componentSpacing: 60 }
    });
    cy.on("tap", "node", function (evt) { showNode(evt.target.data()); });
    window.locmapNetwork = cy;
    el.setAttribute("data-nodes-rendered", String(cy.nodes().length));
  }

  colourSwatches();
  draw();
}());
