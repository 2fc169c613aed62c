"""One router per resource, included once by `api.http.app.create_app`."""
