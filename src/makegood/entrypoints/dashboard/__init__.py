"""The web dashboard and the customer survey page: server-rendered Jinja2 with vendored htmx."""
