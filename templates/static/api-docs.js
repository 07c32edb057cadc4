// The OpenAPI document depends on the caller's tenant, so it is fetched with the token
// the reader pastes; the token is kept for this tab only and sent with "Try it out".
(function () {
  var form = document.getElementById("token-form");
  var input = document.getElementById("token");
  var root = document.getElementById("swagger-ui");

  function load(token) {
    if (!token) { return; }
    window.SwaggerUIBundle({
      url: root.dataset.specUrl,
      domNode: root,
      requestInterceptor: function (req) {
        req.headers.Authorization = "Bearer " + token;
        return req;
      },
    });
  }

  input.value = sessionStorage.getItem("pergola-api-token") || "";
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    sessionStorage.setItem("pergola-api-token", input.value.trim());
    load(input.value.trim());
  });
  load(input.value.trim());
})();
