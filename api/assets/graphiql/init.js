// Offerflow's GraphiQL: queries to POST /graphql, subscriptions to /graphql/ws, on this origin.
// Put `{"Authorization": "Bearer <API key>"}` in the Headers pane; GraphiQL keeps it.
(function () {
  var http = new URL("/graphql", window.location.origin).toString();
  var ws = new URL("/graphql/ws", window.location.origin);
  ws.protocol = ws.protocol === "https:" ? "wss:" : "ws:";
  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    React.createElement(GraphiQL, {
      fetcher: GraphiQL.createFetcher({ url: http, subscriptionUrl: ws.toString() }),
      defaultEditorToolsVisibility: true,
      defaultHeaders: '{"Authorization": "Bearer "}',
    })
  );
})();
