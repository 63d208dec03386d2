from shared.http.serve import serve

serve("allocation", default_port=8003)
