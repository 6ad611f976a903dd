// Two bugs a dev server's terminal never shows: the page reads an item
// that is not there, and the stats request fails on the server.
function render(items) {
  const second = items[1];
  return "<li>" + second.name.toUpperCase() + "</li>";
}

fetch("/api/items")
  .then((r) => r.json())
  .then((items) => {
    document.getElementById("items").innerHTML = render(items);
  });

fetch("/api/stats");
