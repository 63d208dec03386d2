from shared.http.serve import serve

serve("reporting", default_port=8004)
