"""Launchers for the infrastructure the project starts itself: Kafka and PostgreSQL."""
