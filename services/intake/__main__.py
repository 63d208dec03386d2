from shared.http.serve import serve

serve("intake", default_port=8001)
