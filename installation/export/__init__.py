"""Posters, social posts, contact sheets and engagement read-back. Imports only the catalog: no torch."""
