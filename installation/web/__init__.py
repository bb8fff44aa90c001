"""The public pages behind the QR codes (FastAPI). Imports only the catalog: no torch."""
