"""TLS material for the webhook: CA and serving certificate, rotation, Secret, caBundle."""
