from shared.http.serve import serve

serve("customs", default_port=8002)
